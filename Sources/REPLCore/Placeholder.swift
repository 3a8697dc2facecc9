public enum REPLCorePlaceholder {}

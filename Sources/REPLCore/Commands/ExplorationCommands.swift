/// Small commands that lessons 01-05 use to show one effect (added with those lessons).
enum ExplorationCommands {
    static let all: [Command] = []
}

/// The exercises, in the lessons' order: each is one term of the loss, written by the learner in
/// `Sources/Exercises/<file>` and checked by `swift test --filter <name>`.
public enum Exercise: String, CaseIterable, Sendable {
    case policyGradient = "PolicyGradient"
    case advantages = "Advantages"
    case ratio = "Ratio"
    case clipMin = "ClipMin"
    case kl = "KL"
    case aggregation = "Aggregation"
    case loss = "Loss"

    /// The file the learner writes in.
    public var file: String {
        let index = Self.allCases.firstIndex(of: self)! + 1
        return "Sources/Exercises/\(index < 10 ? "0" : "")\(index)-\(rawValue).swift"
    }

    /// The lesson that explains the term.
    public var lesson: Int {
        switch self {
        case .policyGradient: 1
        case .advantages: 2
        case .ratio: 3
        case .clipMin: 4
        case .kl: 6
        case .aggregation, .loss: 7
        }
    }

    /// The function the learner writes.
    public var function: String {
        switch self {
        case .policyGradient: "Mine.policyGradientLoss"
        case .advantages: "Mine.groupAdvantages"
        case .ratio: "Mine.importanceRatio"
        case .clipMin: "Mine.clippedObjective"
        case .kl: "Mine.klEstimate"
        case .aggregation: "Mine.aggregate"
        case .loss: "Mine.grpoLoss"
        }
    }
}

/// What an exercise's stub throws until the learner writes it: the check then says which
/// exercise it is and where to write it, instead of a crash that hides it.
public struct NotWrittenYet: Error, Sendable, Equatable {
    public let exercise: Exercise
    public init(_ exercise: Exercise) { self.exercise = exercise }

    public var message: String {
        "exercise \(exercise.rawValue): not written yet; write \(exercise.function) in \(exercise.file) (lesson \(exercise.lesson))"
    }
}

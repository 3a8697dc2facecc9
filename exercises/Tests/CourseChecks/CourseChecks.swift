import ExerciseChecks
import Exercises
import Foundation
import GRPO
import ReferenceSolutions
import Testing
import WrongSolutions

/// CI's checks of the course itself (`GRPO_EXERCISES_CI=1 swift test --filter CourseChecks`):
/// every reference answer passes its exercise, every stub fails with "not written yet" and where
/// to write it, and every wrong answer fails with a message that names its mistake. Skipped for a
/// learner, whose solved exercises are no longer stubs.
let courseCI = ProcessInfo.processInfo.environment["GRPO_EXERCISES_CI"] != nil

typealias Answers = (
    policyGradient: (Scalar, Double) throws -> Scalar, advantages: ([Double], GRPOConfig.StdEstimator, Double) throws -> [Double],
    ratio: (Scalar, Double) throws -> Scalar, clipMin: (Scalar, Double, Double, Double) throws -> Scalar,
    kl: (Scalar, Double, GRPOConfig.KLEstimator) throws -> Scalar, aggregation: ([[Scalar]], GRPOConfig.Aggregation, Int) throws -> Scalar,
    loss: ([[Scalar]], Batch, Double, Double) throws -> Scalar
)

func reports(_ a: Answers) -> [Exercise: Report] {
    [.policyGradient: Checks.policyGradient(a.policyGradient), .advantages: Checks.advantages(a.advantages),
     .ratio: Checks.ratio(a.ratio), .clipMin: Checks.clipMin(a.clipMin), .kl: Checks.kl(a.kl),
     .aggregation: Checks.aggregation(a.aggregation), .loss: Checks.loss(a.loss)]
}

@Suite(.enabled(if: courseCI, "set GRPO_EXERCISES_CI=1 to check the course itself"))
struct CourseChecks {
    @Test("the reference answers pass every exercise")
    func references() {
        let all = reports((Reference.policyGradientLoss, Reference.groupAdvantages, Reference.importanceRatio,
                           Reference.clippedObjective, Reference.klEstimate, Reference.aggregate, Reference.grpoLoss))
        for exercise in Exercise.allCases {
            #expect(all[exercise]!.problems.isEmpty, "\(exercise.rawValue): \(all[exercise]!.problems)")
        }
    }

    @Test("the stubs fail every exercise with 'not written yet' and the file to write in")
    func stubs() {
        let all = reports((Mine.policyGradientLoss, Mine.groupAdvantages, Mine.importanceRatio, Mine.clippedObjective,
                           Mine.klEstimate, Mine.aggregate, Mine.grpoLoss))
        for exercise in Exercise.allCases {
            #expect(all[exercise]!.problems == [NotWrittenYet(exercise).message], "\(exercise.rawValue): \(all[exercise]!.problems)")
            #expect(FileManager.default.fileExists(atPath: packageRoot + "/" + exercise.file), "\(exercise.file) is missing")
        }
    }

    @Test("each wrong answer fails with a message that names its mistake")
    func wrongAnswers() {
        let all = reports((Wrong.policyGradientLoss, Wrong.groupAdvantages, Wrong.importanceRatio, Wrong.clippedObjective,
                           Wrong.klEstimate, Wrong.aggregate, Wrong.grpoLoss))
        for exercise in Exercise.allCases {
            let first = all[exercise]!.problems.first ?? "(passed)"
            let mistake = Wrong.diagnoses[exercise.rawValue]!
            #expect(first.contains(mistake) && first.contains("expected") && first.contains(", got "), "\(exercise.rawValue): \(first)")
        }
    }
}

/// The exercises package's folder (two levels above this file).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite(.enabled(if: courseCI, "set GRPO_EXERCISES_CI=1 to check the course itself"))
struct DiagnosisChecks {
    @Test("mistakes learners made are named for what they are, and a mistake no name fits gets none")
    func namedRight() {
        let cases: [(String, Report, String?)] = [
            ("min before A", Checks.clipMin(MoreMistakes.minBeforeAdvantage), "the min of the ratios, then times A"),
            ("misplaced root", Checks.advantages(MoreMistakes.misplacedRoot), nil),
            ("k1 without minus", Checks.kl(MoreMistakes.k1WithoutMinus), "the same number as a missing minus"),
            ("rebuilt from value", Checks.policyGradient(MoreMistakes.rebuiltFromValue), "the gradient is 0"),
            ("flipped loss", Checks.loss(MoreMistakes.flippedLoss), "the sign of the whole loss"),
            ("KL subtracted", Checks.loss(MoreMistakes.klSubtracted), "the KL term's sign"),
        ]
        for (label, report, name) in cases {
            let first = report.problems.first ?? "(passed)"
            #expect(first.contains("expected") && first.contains(", got "), "\(label): \(first)")
            if let name {
                #expect(first.contains(name), "\(label): \(first)")
            } else {
                // A named mistake ends the line in parentheses; Advantages' inputs end in a number.
                #expect(!first.hasSuffix(")"), "\(label) should name no mistake: \(first)")
            }
        }
    }
}

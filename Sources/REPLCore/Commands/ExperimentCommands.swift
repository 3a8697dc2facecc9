/// Small commands that lessons 06-11 use to run one experiment (added with those lessons).
enum ExperimentCommands {
    static let all: [Command] = []
}

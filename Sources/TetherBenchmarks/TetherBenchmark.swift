import ArgumentParser

/// `tether-benchmark`: measured figures, not timed assertions. Run a release build:
/// `swift build -c release && .build/release/tether-benchmark probe`.
@main
struct TetherBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tether-benchmark",
        abstract: "Benchmarks of Tether against the tools people use today.",
        subcommands: [ProbeBenchmark.self, InProcessProbe.self, PlacementBenchmark.self, GenerateCluster.self, MigrationBenchmark.self,
                      RelayBenchmark.self, ControllerBenchmark.self, ControllerServe.self, HookBenchmark.self, HotPathsBenchmark.self,
                      DetectorBenchmark.self, LabDetectionBenchmark.self, LabFailoverBenchmark.self, TakeoverBenchmark.self,
                      RebalanceBenchmark.self]
    )
}


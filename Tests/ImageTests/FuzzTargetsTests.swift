// The libFuzzer targets (fuzz/targets/, docs/fuzzing.md), run briefly by every `swift test`:
// `scripts/fuzz.sh --seconds 3 --jobs 2` builds each target (or reuses .build-fuzz/ when nothing it is
// built from changed) and fuzzes it for 3 seconds, two at a time. The test fails when a target crashes
// (the script prints the report and where the input is kept) or when one executes no input at all.
// Linux only: the libFuzzer runtime ships with swift.org's Linux toolchains. It is one of the
// serialized image suites because it keeps both cores busy: run next to a VM, it made the clock tests'
// timing bounds fail.

#if os(Linux)
import Foundation
import Testing

extension ImageSuite {
    @Suite struct FuzzTargetsTests {
        static let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        @Test(.timeLimit(.minutes(5)))
        func everyTargetRunsWithoutACrash() throws {
            let targets = try FileManager.default
                .contentsOfDirectory(atPath: Self.repository.appendingPathComponent("fuzz/targets").path)
                .filter { $0.hasSuffix(".swift") }.map { String($0.dropLast(".swift".count)) }.sorted()
            #expect(!targets.isEmpty, "no targets in fuzz/targets")

            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["scripts/fuzz.sh", "--seconds", "3", "--jobs", "2"]
            process.currentDirectoryURL = Self.repository
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, Comment(rawValue: text))

            // One line per target: "fuzz: NAME: EXECUTIONS executions, RATE exec/s, ..."
            for target in targets {
                let prefix = "fuzz: \(target): "
                let line = text.split(separator: "\n").first { $0.hasPrefix(prefix) }
                let executions = line.flatMap { Int($0.dropFirst(prefix.count).prefix { $0.isNumber }) } ?? 0
                #expect(executions > 0, "\(target): \(line.map(String.init) ?? "no result line")")
            }
        }
    }
}
#endif

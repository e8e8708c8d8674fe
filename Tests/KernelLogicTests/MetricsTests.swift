// Metrics: registry arithmetic, the registration checks, escaping, number formatting, the exposition
// text byte for byte, and Prometheus' own checker (`promtool check metrics`, Debian's prometheus
// package) on a registry that has every kind of metric.

import Foundation
import Metrics
import Testing

private func text(_ registry: MetricsRegistry) -> String {
    var bytes: [UInt8] = []
    registry.write(into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}

private func formatted(_ value: Double) -> String {
    var bytes: [UInt8] = []
    PrometheusText.appendValue(value, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}

/// A decimal numeral as its significant digits and the exponent e with value = 0.digits × 10^e, so that
/// "0.00125", "1.25e-3" and "125e-5" compare equal.
private func significand(_ numeral: String) -> (digits: String, exponent: Int) {
    let parts = numeral.lowercased().split(separator: "e")
    var exponent = parts.count > 1 ? Int(parts[1])! : 0
    let mantissa = parts[0].hasPrefix("-") ? parts[0].dropFirst() : parts[0]
    let point = mantissa.firstIndex(of: ".") ?? mantissa.endIndex
    exponent += mantissa.distance(from: mantissa.startIndex, to: point)
    var digits = Substring(mantissa.filter { $0 != "." })
    while digits.first == "0" { digits.removeFirst(); exponent -= 1 }
    while digits.last == "0" { digits.removeLast() }
    return (String(digits), exponent)
}

/// Every kind of metric, labelled and not, with values of every representation.
private func everyKind() throws -> MetricsRegistry {
    let registry = MetricsRegistry()
    let uptime = try registry.gauge("tessera_uptime_seconds", help: "Seconds since boot.")
    registry.set(uptime, to: 12.5)
    let heap = try registry.gauge("tessera_heap_bytes_in_use", help: "Heap bytes allocated.\nBy malloc.")
    registry.set(heap, to: Int64(1_048_576))
    let frames = try registry.counterFamily("tessera_net_frames_total", help: "Ethernet frames.", labelNames: ["direction"],
                                            constantLabels: [MetricLabel("device", "virtio-net")])
    registry.increment(try registry.counter(frames, labelValues: ["rx"]), by: 42)
    registry.increment(try registry.counter(frames, labelValues: ["tx"]), by: 7)
    let interrupts = try registry.counterFamily("tessera_interrupts_total", help: "Interrupts by vector.",
                                                labelNames: ["vector"])
    registry.increment(try registry.counter(interrupts, labelValues: ["32"]), by: UInt64.max)
    let connections = try registry.gaugeFamily("tessera_tcp_connections", help: "TCP connections by state.",
                                               labelNames: ["state"])
    registry.set(try registry.gauge(connections, labelValues: ["established"]), to: Int64(3))
    registry.set(try registry.gauge(connections, labelValues: ["odd \"name\"\\\n"]), to: Int64(-1))
    let cpu = try registry.counter("tessera_cpu_seconds_total", help: "Busy time, C:\\ style \\ back\\slashes.")
    registry.add(cpu, 0.25)
    let requests = try registry.histogramFamily("tessera_http_request_duration_seconds", help: "Time to answer.",
                                                buckets: [0.005, 0.25, 1, .infinity], labelNames: ["method"])
    let get = try registry.histogram(requests, labelValues: ["GET"])
    for value in [0.001, 0.005, 0.3, 2] { registry.observe(get, value) }
    _ = try registry.histogram(requests, labelValues: ["HEAD"])
    let sizes = try registry.histogram("tessera_tcp_segment_bytes", help: "Segment sizes.", buckets: [64, 1460])
    registry.observe(sizes, 1460)
    _ = try registry.gaugeFamily("tessera_unused", help: "Has no series.", labelNames: ["x"])
    return registry
}

private let everyKindText = #"""
# HELP tessera_uptime_seconds Seconds since boot.
# TYPE tessera_uptime_seconds gauge
tessera_uptime_seconds 12.5
# HELP tessera_heap_bytes_in_use Heap bytes allocated.\nBy malloc.
# TYPE tessera_heap_bytes_in_use gauge
tessera_heap_bytes_in_use 1048576
# HELP tessera_net_frames_total Ethernet frames.
# TYPE tessera_net_frames_total counter
tessera_net_frames_total{device="virtio-net",direction="rx"} 42
tessera_net_frames_total{device="virtio-net",direction="tx"} 7
# HELP tessera_interrupts_total Interrupts by vector.
# TYPE tessera_interrupts_total counter
tessera_interrupts_total{vector="32"} 18446744073709551615
# HELP tessera_tcp_connections TCP connections by state.
# TYPE tessera_tcp_connections gauge
tessera_tcp_connections{state="established"} 3
tessera_tcp_connections{state="odd \"name\"\\\n"} -1
# HELP tessera_cpu_seconds_total Busy time, C:\\ style \\ back\\slashes.
# TYPE tessera_cpu_seconds_total counter
tessera_cpu_seconds_total 0.25
# HELP tessera_http_request_duration_seconds Time to answer.
# TYPE tessera_http_request_duration_seconds histogram
tessera_http_request_duration_seconds_bucket{method="GET",le="0.005"} 2
tessera_http_request_duration_seconds_bucket{method="GET",le="0.25"} 2
tessera_http_request_duration_seconds_bucket{method="GET",le="1"} 3
tessera_http_request_duration_seconds_bucket{method="GET",le="+Inf"} 4
tessera_http_request_duration_seconds_sum{method="GET"} 2.306
tessera_http_request_duration_seconds_count{method="GET"} 4
tessera_http_request_duration_seconds_bucket{method="HEAD",le="0.005"} 0
tessera_http_request_duration_seconds_bucket{method="HEAD",le="0.25"} 0
tessera_http_request_duration_seconds_bucket{method="HEAD",le="1"} 0
tessera_http_request_duration_seconds_bucket{method="HEAD",le="+Inf"} 0
tessera_http_request_duration_seconds_sum{method="HEAD"} 0
tessera_http_request_duration_seconds_count{method="HEAD"} 0
# HELP tessera_tcp_segment_bytes Segment sizes.
# TYPE tessera_tcp_segment_bytes histogram
tessera_tcp_segment_bytes_bucket{le="64"} 0
tessera_tcp_segment_bytes_bucket{le="1460"} 1
tessera_tcp_segment_bytes_bucket{le="+Inf"} 1
tessera_tcp_segment_bytes_sum 1460
tessera_tcp_segment_bytes_count 1

"""#

@Suite struct MetricsTests {
    // MARK: - Values

    @Test func countersCountUpAsIntegersUntilAFractionIsAdded() throws {
        let registry = MetricsRegistry()
        let counter = try registry.counter("c_total", help: "c")
        #expect(registry.value(counter) == .unsigned(0))
        registry.increment(counter)
        registry.increment(counter, by: 41)
        #expect(registry.value(counter) == .unsigned(42))
        registry.add(counter, 2)                                    // whole: still an integer
        registry.add(counter, 0)
        #expect(registry.value(counter) == .unsigned(44))
        registry.set(counter, to: 42)                               // an integer literal sets the integer
        #expect(registry.value(counter) == .unsigned(42))
        registry.add(counter, 0.5)
        #expect(registry.value(counter) == .double(42.5))
        registry.increment(counter, by: 2)
        #expect(registry.value(counter) == .double(44.5))
        registry.set(counter, to: UInt64(7))                        // a collector mirroring a counter kept elsewhere
        #expect(registry.value(counter) == .unsigned(7))
        registry.set(counter, to: 7.5)
        #expect(registry.value(counter) == .double(7.5))
    }

    @Test func countersNeverGoDownByNegativeOrNaNAmountsAndWrapAtUInt64Max() throws {
        let registry = MetricsRegistry()
        let counter = try registry.counter("c_total", help: "c")
        registry.add(counter, -1)
        registry.add(counter, .nan)
        #expect(registry.value(counter) == .unsigned(0))
        registry.set(counter, to: UInt64.max)
        registry.increment(counter, by: 2)
        #expect(registry.value(counter) == .unsigned(1))
    }

    @Test func gaugesHoldIntegersUntilADoubleIsSetOrAdded() throws {
        let registry = MetricsRegistry()
        let gauge = try registry.gauge("g", help: "g")
        #expect(registry.value(gauge) == .signed(0))
        registry.add(gauge, -5)                                     // integer literals mean Int64
        #expect(registry.value(gauge) == .signed(-5))
        registry.set(gauge, to: 10)
        registry.add(gauge, Int64(3))
        #expect(registry.value(gauge) == .signed(13))
        registry.add(gauge, -0.5)
        #expect(registry.value(gauge) == .double(12.5))
        registry.add(gauge, Int64(1))
        #expect(registry.value(gauge) == .double(13.5))
        registry.set(gauge, to: Int64.min)
        #expect(text(registry) == "# HELP g g\n# TYPE g gauge\ng -9223372036854775808\n")
    }

    @Test func histogramCountsEachObservationInTheFirstBucketAtOrAboveItAndWritesThemCumulatively() throws {
        let registry = MetricsRegistry()
        let histogram = try registry.histogram("h", help: "h", buckets: [1, 2, 5])
        for value in [0.5, 1, 1.0000001, 2, 4.9, 5, 5.1, 100, -3] { registry.observe(histogram, value) }
        #expect(registry.bounds(histogram) == [1, 2, 5])
        #expect(registry.cumulativeCounts(histogram) == [3, 5, 7, 9])     // <=1: 0.5 1 -3; <=2: +1.0000001 2; ...
        #expect(registry.count(histogram) == 9)
        #expect(registry.sum(histogram) == 0.5 + 1 + 1.0000001 + 2 + 4.9 + 5 + 5.1 + 100 - 3)
    }

    @Test func nanObservationsLandInTheInfBucketOnlyAndMakeTheSumNaN() throws {
        let registry = MetricsRegistry()
        let histogram = try registry.histogram("h", help: "h", buckets: [1])
        registry.observe(histogram, .nan)
        registry.observe(histogram, .infinity)
        #expect(registry.cumulativeCounts(histogram) == [0, 2] && registry.count(histogram) == 2)
        #expect(registry.sum(histogram).isNaN)
        #expect(text(registry).hasSuffix("h_sum NaN\nh_count 2\n"))
    }

    @Test func histogramWithoutBoundsHasOnlyTheInfBucket() throws {
        let registry = MetricsRegistry()
        let histogram = try registry.histogram("h", help: "h", buckets: [])
        registry.observe(histogram, 3)
        #expect(text(registry) == "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n")
    }

    @Test func seriesAreToldApartByLabelValuesAndTheSameValuesGiveTheSameHandle() throws {
        let registry = MetricsRegistry()
        let family = try registry.counterFamily("frames_total", help: "f", labelNames: ["direction", "device"])
        let rx = try registry.counter(family, labelValues: ["rx", "eth0"])
        let tx = try registry.counter(family, labelValues: ["tx", "eth0"])
        #expect(rx != tx)
        #expect(try registry.counter(family, labelValues: ["rx", "eth0"]) == rx)
        registry.increment(rx, by: 3)
        registry.increment(try registry.counter(family, labelValues: ["rx", "eth0"]))
        #expect(registry.value(rx) == .unsigned(4) && registry.value(tx) == .unsigned(0))
        #expect(throws: MetricsError.labelCountMismatch) { try registry.counter(family, labelValues: ["rx"]) }
    }

    // MARK: - Registration checks

    @Test func metricAndLabelNamesFollowThePrometheusRules() {
        for name in ["a", "_", ":", "tessera_uptime_seconds", "job:rate5m", "A9_:", "__name"] {
            #expect(PrometheusText.isValidMetricName(name), "\(name)")
        }
        for name in ["", "9a", "a-b", "a b", "a.b", "é", "a\u{0}"] {
            #expect(!PrometheusText.isValidMetricName(name), "\(name)")
        }
        for name in ["a", "_", "_a", "state", "le", "A9_"] {
            #expect(PrometheusText.isValidLabelName(name), "\(name)")
        }
        for name in ["", "9a", "a:b", "a-b", "__", "__name__", "é"] {
            #expect(!PrometheusText.isValidLabelName(name), "\(name)")
        }
    }

    @Test func everyBrokenRuleIsRefusedWithItsErrorAndRegistersNothing() throws {
        let registry = MetricsRegistry()
        _ = try registry.counter("taken_total", help: "t")
        _ = try registry.histogram("latency", help: "l", buckets: [1])
        _ = try registry.gauge("queue_sum", help: "q")
        let cases: [(MetricsError, () throws -> Void)] = [
            (.invalidMetricName, { _ = try registry.counter("1st", help: "x") }),
            (.invalidMetricName, { _ = try registry.gauge("", help: "x") }),
            (.invalidLabelName, { _ = try registry.counterFamily("a", help: "x", labelNames: ["a-b"]) }),
            (.invalidLabelName, { _ = try registry.gauge("a", help: "x", constantLabels: [MetricLabel("__a", "v")]) }),
            (.reservedLabelName, { _ = try registry.histogramFamily("a", help: "x", buckets: [], labelNames: ["le"]) }),
            (.reservedLabelName, { _ = try registry.histogram("a", help: "x", buckets: [], constantLabels: [MetricLabel("le", "1")]) }),
            (.duplicateLabelName, { _ = try registry.gaugeFamily("a", help: "x", labelNames: ["x", "x"]) }),
            (.duplicateLabelName, { _ = try registry.counterFamily("a", help: "x", labelNames: ["x"],
                                                                   constantLabels: [MetricLabel("x", "1")]) }),
            (.duplicateMetricName, { _ = try registry.gauge("taken_total", help: "x") }),
            (.duplicateMetricName, { _ = try registry.counter("latency_count", help: "x") }),
            (.duplicateMetricName, { _ = try registry.gauge("latency", help: "x") }),
            (.duplicateMetricName, { _ = try registry.histogram("queue", help: "x", buckets: []) }),
            (.missingHelp, { _ = try registry.gauge("a", help: "") }),
            (.invalidBuckets, { _ = try registry.histogram("a", help: "x", buckets: [1, 1]) }),
            (.invalidBuckets, { _ = try registry.histogram("a", help: "x", buckets: [2, 1]) }),
            (.invalidBuckets, { _ = try registry.histogram("a", help: "x", buckets: [.nan]) }),
            (.invalidBuckets, { _ = try registry.histogram("a", help: "x", buckets: [-.infinity, 1]) }),
            (.invalidBuckets, { _ = try registry.histogram("a", help: "x", buckets: [.infinity, .infinity]) }),
        ]
        let before = text(registry)
        for (index, (expected, register)) in cases.enumerated() {
            #expect(throws: expected, "case \(index)") { try register() }
        }
        #expect(text(registry) == before)
        _ = try registry.gauge("a", help: "now it is fine")
        _ = try registry.histogram("taken", help: "taken_total is not among its names", buckets: [])
        _ = try registry.counter("le_total", help: "le is reserved in histograms only", constantLabels: [MetricLabel("le", "x")])
    }

    // MARK: - Escaping and numbers

    @Test func helpEscapesBackslashAndLineFeedAndLabelValuesAlsoTheDoubleQuote() {
        var help: [UInt8] = [], label: [UInt8] = []
        PrometheusText.appendEscapedHelp(Array("a\\b\nc\"d é".utf8), to: &help)
        PrometheusText.appendEscapedLabelValue(Array("a\\b\nc\"d é".utf8), to: &label)
        #expect(String(decoding: help, as: UTF8.self) == #"a\\b\nc"d é"#)
        #expect(String(decoding: label, as: UTF8.self) == #"a\\b\nc\"d é"#)
    }

    @Test func doublesAreWrittenAsTheShortestDecimalThatReadsBack() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "0"), (1, "1"), (-1, "-1"), (0.5, "0.5"), (0.001, "0.001"), (0.0001, "0.0001"),
            (0.00001, "1e-05"), (1.5e-05, "1.5e-05"), (1e-9, "1e-09"), (0.005, "0.005"), (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"), (2.5, "2.5"), (-12.75, "-12.75"), (123456789.25, "123456789.25"),
            (9007199254740991, "9007199254740991"), (9007199254740992, "9007199254740992"),
            (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.5e300, "1.5e+300"), (1e100, "1e+100"),
            (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"), (Double.leastNonzeroMagnitude, "5e-324"),
            (Double.leastNormalMagnitude, "2.2250738585072014e-308"), (1 / 3.0, "0.3333333333333333"),
            (2.0 / 3, "0.6666666666666666"), (5e-324 * 3, "1.5e-323"), (Double(Float(0.1)), "0.10000000149011612"), (1365121669010652.25, "1365121669010652.2"),
            (.nan, "NaN"), (.infinity, "+Inf"), (-.infinity, "-Inf"),
        ]
        for (value, expected) in cases {
            #expect(formatted(value) == expected, "\(value)")
        }
    }

    @Test func randomDoublesReadBackExactlyWithSwiftsShortestDigits() {
        var random = SplitMix64(seed: 0x6D65_7472_6963_73)
        var values: [Double] = [1e23, 8.41e21, 5e-310, 9.5e-5, 0.3, 2e22, 4.35, 1e-4 * 3]
        for exponent in -330...310 { values.append(pow(10.0, Double(exponent))) }
        for _ in 0..<20_000 {
            let value = Double(bitPattern: random.next())
            if value.isFinite { values.append(value) }
            values.append(Double(random.next() % 1_000_000) / 1000)       // the kind a kernel has: milliseconds as seconds
        }
        for value in values where value.isFinite && value != 0 {
            let written = formatted(value)
            #expect(Double(written) == value || (value == 0 && Double(written) == 0), "\(value.bitPattern): \(written)")
            let ours = significand(written), swift = significand(value.description)
            #expect(ours.digits == swift.digits && ours.exponent == swift.exponent, "\(value.description): \(written)")
        }
    }

    @Test func integersAreWrittenInDecimal() {
        var bytes: [UInt8] = []
        for value: UInt64 in [0, 7, 10, 99, 100, UInt64.max] {
            PrometheusText.appendValue(value, to: &bytes)
            bytes.append(0x20)
        }
        PrometheusText.appendValue(Int64.min, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "0 7 10 99 100 18446744073709551615 -9223372036854775808")
    }

    // MARK: - Exposition

    @Test func expositionIsFamiliesInRegistrationOrderByteForByte() throws {
        let written = text(try everyKind())
        #expect(written.split(separator: "\n", omittingEmptySubsequences: false)
                == everyKindText.split(separator: "\n", omittingEmptySubsequences: false))    // shows the lines that differ
        #expect(written.utf8.elementsEqual(everyKindText.utf8))
    }

    @Test func anEmptyRegistryWritesNothingAndTextIsAppended() throws {
        let registry = MetricsRegistry()
        var bytes = Array("kept\n".utf8)
        registry.scrape(into: &bytes)
        #expect(bytes == Array("kept\n".utf8))
        _ = try registry.counterFamily("a_total", help: "a", labelNames: ["x"])
        registry.scrape(into: &bytes)
        #expect(bytes == Array("kept\n".utf8))
        #expect(MetricsRegistry.contentType.description == "text/plain; version=0.0.4; charset=utf-8")
    }

    @Test func collectorsRunInOrderAtScrapeTimeAndMayAddSeries() throws {
        let registry = MetricsRegistry()
        let inUse = try registry.gauge("heap_bytes", help: "h")
        let vectors = try registry.counterFamily("interrupts_total", help: "i", labelNames: ["vector"])
        var heap: Int64 = 100, counts: [(UInt8, UInt64)] = [(32, 5)], calls: [String] = []
        registry.addCollector { registry in registry.set(inUse, to: heap); calls.append("heap") }
        registry.addCollector { registry in
            for (vector, count) in counts {
                registry.set(try! registry.counter(vectors, labelValues: [String(vector)]), to: count)
            }
            calls.append("interrupts")
        }
        #expect(text(registry) == "# HELP heap_bytes h\n# TYPE heap_bytes gauge\nheap_bytes 0\n")   // write() collects nothing
        heap = 4096
        counts = [(32, 9), (48, 1)]
        var bytes: [UInt8] = []
        registry.scrape(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == """
            # HELP heap_bytes h
            # TYPE heap_bytes gauge
            heap_bytes 4096
            # HELP interrupts_total i
            # TYPE interrupts_total counter
            interrupts_total{vector="32"} 9
            interrupts_total{vector="48"} 1

            """)
        #expect(calls == ["heap", "interrupts"])
    }

    @Test func promtoolAcceptsEveryKindOfMetric() throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else {
            Issue.record("\(promtool) is missing, so the exposition was not checked by Prometheus: install it with `apt-get install prometheus`")
            return
        }
        var bytes: [UInt8] = []
        try everyKind().scrape(into: &bytes)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && said.isEmpty, "promtool check metrics exited with \(process.terminationStatus): \(said)")
    }
}

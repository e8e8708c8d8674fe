// Metrics: counters, gauges and histograms kept in one registry and written in the Prometheus text
// exposition format, version 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
// Pure logic with no dependencies, no Foundation and no existentials: the kernel and host tests alike.
//
// The model is Prometheus' own. A *family* has a name, help text, a type and the names of its labels;
// it may carry *constant labels* that every one of its series shows. A *series* is the family with
// one value for each label name: `tessera_tcp_connections{state="established"}`. A family without
// label names has exactly one series. Families and series are registered once, at start-up or when a
// label value is first seen, and registration is where every check happens:
//   - metric names match [a-zA-Z_:][a-zA-Z0-9_:]*; label names match [a-zA-Z_][a-zA-Z0-9_]* and do
//     not start with "__" (reserved for Prometheus); a histogram's labels may not be called "le";
//   - a name is used by one family only, counting a histogram's name_bucket, name_sum and name_count;
//   - help text is required (any UTF-8); label values are any UTF-8;
//   - histogram bucket bounds are finite and strictly increasing; a final +Inf may be given and is
//     dropped, since the +Inf bucket is always there.
// A failed check throws a `MetricsError` saying which rule was broken; nothing is registered then, and
// nothing traps. Registration allocates: label text is escaped and laid out once, here, so that
// neither updating nor writing has to.
//
// Registration returns a *handle*: a small struct holding an index into the registry's arrays. So
// updates on hot paths are one array access, with no name lookup, string or allocation:
//
//     let registry = MetricsRegistry()
//     let frames = try registry.counterFamily("tessera_net_frames_total", help: "Ethernet frames.",
//                                             labelNames: ["direction"])
//     let received = try registry.counter(frames, labelValues: ["rx"])
//     registry.increment(received)                          // O(1)
//     let latency = try registry.histogram("tessera_http_request_seconds", help: "Time to answer.",
//                                          buckets: [0.001, 0.01, 0.1, 1])
//     registry.observe(latency, 0.004)                      // O(log buckets)
//     var page: [UInt8] = []
//     registry.scrape(into: &page)                          // runs the collectors, then writes the text
//
// Values: a counter holds a UInt64 until a fractional amount is added, then a Double; a gauge holds
// an Int64 until a Double is set or added. Integers are written exactly, as integers; Doubles as the
// shortest decimal that reads back as the same Double (FloatFormat.swift). A histogram keeps one count
// per bucket (the +Inf bucket last), the sum and the count of observations; the written buckets are
// cumulative, as the format requires. A NaN observation lands in the +Inf bucket only and makes the
// sum NaN, as in the Go client.
//
// Collectors are closures run at scrape time, before the text is written, in registration order.
// They let a library publish what it already counts in its own fields (allocator statistics,
// per-vector interrupt counts, device statistics) without touching the registry on its hot paths:
//
//     let inUse = try registry.gauge("tessera_heap_bytes_in_use", help: "Heap bytes allocated.")
//     registry.addCollector { registry in registry.set(inUse, to: Int64(I.withHeap { $0.statistics.inUseBytes })) }
//
// A collector's type, `(MetricsRegistry) -> Void`, is not generic, so a generic library (`Kernel<I>`)
// registers one from inside its generic code: the closure is specialized with its surroundings, and
// it receives the registry as an argument rather than capturing it (no reference cycle). A collector
// may register series, which is how label values only known at scrape time (interrupt vectors) appear.
//
// Ownership and concurrency: the registry is a class, shared by reference; handles belong to the
// registry that issued them (another registry's handle reads or writes the wrong series or traps on
// the bounds check). Nothing is synchronized: updates and scrapes must come from one thread at a time
// (true with the cooperative scheduler; under preemption, take a mutex around both). Interrupt
// handlers must never touch the registry; they count in their own fields, and a collector copies.
//
// Order of the text: families in registration order, each family's series in registration order, so
// related series stay together as their library laid them out and nothing is sorted per scrape. A
// family with no series yet is left out (as the Go client does). The text ends with a newline; an
// empty registry writes nothing.
//
// Not supported: summaries and untyped metrics, timestamps, exemplars, OpenMetrics and protobuf,
// native histograms, UTF-8 metric and label names (Prometheus 3), unregistering.

/// Why a registration was refused. Nothing is registered when one of these is thrown.
public enum MetricsError: Error, Hashable, Sendable {
    /// The metric name is empty or not [a-zA-Z_:][a-zA-Z0-9_:]*.
    case invalidMetricName
    /// A label name is empty, not [a-zA-Z_][a-zA-Z0-9_]*, or starts with "__".
    case invalidLabelName
    /// A histogram label is called "le", which holds the bucket bound.
    case reservedLabelName
    /// Two labels of one family, constant or not, have the same name.
    case duplicateLabelName
    /// Another family already writes a sample of this name (a histogram writes name, name_bucket,
    /// name_sum and name_count).
    case duplicateMetricName
    /// The help text is empty.
    case missingHelp
    /// Bucket bounds are NaN, infinite (other than a final +Inf) or not strictly increasing.
    case invalidBuckets
    /// The number of label values differs from the family's number of label names.
    case labelCountMismatch

    /// One line for a log.
    public var message: StaticString {
        switch self {
        case .invalidMetricName: return "metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*"
        case .invalidLabelName: return "label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"
        case .reservedLabelName: return "histogram label may not be called le"
        case .duplicateLabelName: return "label name used twice in one family"
        case .duplicateMetricName: return "metric name already registered"
        case .missingHelp: return "help text is empty"
        case .invalidBuckets: return "bucket bounds must be finite and strictly increasing"
        case .labelCountMismatch: return "one label value is needed per label name"
        }
    }
}

/// The type a family declares in its `# TYPE` line.
public enum MetricKind: Hashable, Sendable {
    case counter, gauge, histogram

    /// "counter", "gauge", "histogram".
    public var name: StaticString {
        switch self {
        case .counter: return "counter"
        case .gauge: return "gauge"
        case .histogram: return "histogram"
        }
    }
}

/// The value of a counter or gauge series.
public enum MetricValue: Hashable, Sendable {
    /// A counter counting events (the usual case).
    case unsigned(UInt64)
    /// A gauge set to an integer.
    case signed(Int64)
    /// A counter a fractional amount was added to, or a gauge set to or changed by a Double.
    case double(Double)

    /// The value as a Double (large integers are rounded).
    public var asDouble: Double {
        switch self {
        case .unsigned(let value): return Double(value)
        case .signed(let value): return Double(value)
        case .double(let value): return value
        }
    }
}

/// A constant label: shown on every series of its family.
public struct MetricLabel: Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

// Handles. Each is an index into the registry that returned it; copy them freely.

/// A counter family with label names: ask it for one `Counter` per label-value tuple.
public struct CounterFamily: Hashable, Sendable { let index: Int }
/// A gauge family with label names: ask it for one `Gauge` per label-value tuple.
public struct GaugeFamily: Hashable, Sendable { let index: Int }
/// A histogram family with label names: ask it for one `Histogram` per label-value tuple.
public struct HistogramFamily: Hashable, Sendable { let index: Int }

/// One counter series: only ever goes up (or is set by a collector to a counter kept elsewhere).
public struct Counter: Hashable, Sendable { let index: Int }
/// One gauge series: set to any value, or changed by any amount.
public struct Gauge: Hashable, Sendable { let index: Int }
/// One histogram series: observations counted into fixed buckets.
public struct Histogram: Hashable, Sendable { let index: Int }

// MetricsRegistry: registration (every check, every allocation), O(1) updates through handles,
// reads for tests and collectors, and the collector list. The text it writes is in Exposition.swift.
//
// Storage is three flat arrays. `families` holds what the `# HELP` and `# TYPE` lines and the label
// checks need, plus the indices of the family's series in registration order. `series` holds, per
// series, its label text already escaped and joined (`state="established"`, constant labels first),
// its counter or gauge value, and for histograms the sum, the count and where its bucket counts
// start in `bucketCounts`: one count per finite bound and one for +Inf, not cumulative (an
// observation increments one count; the writer adds them up). A handle is an index into `families`
// or `series`; nothing is ever removed, so handles stay valid for the registry's life.

/// The metric families of one program, their series, and the collectors that refresh them.
public final class MetricsRegistry {
    struct Family {
        let name: [UInt8]
        let help: [UInt8]                // escaped for the # HELP line
        let kind: MetricKind
        let labelNames: [[UInt8]]        // the names each series gives a value for
        let constantLabels: [UInt8]      // `a="x",b="y"`, escaped; empty when there are none
        let bounds: [Double]             // histograms: finite upper bounds, strictly increasing
        let boundTexts: [[UInt8]]        // histograms: each bound as written in le="...", then +Inf
        var series: [Int] = []
    }

    struct Series {
        let family: Int
        let labels: [UInt8]              // `name="value",...` escaped, without braces; empty when none
        var value: MetricValue           // counters and gauges
        let firstBucket: Int             // histograms: index of the first count in `bucketCounts`
        var sum: Double = 0              // histograms
        var count: UInt64 = 0            // histograms
    }

    var families: [Family] = []
    var series: [Series] = []
    var bucketCounts: [UInt64] = []
    var collectors: [(MetricsRegistry) -> Void] = []

    /// The Content-Type of the text `scrape(into:)` writes.
    public static let contentType: StaticString = "text/plain; version=0.0.4; charset=utf-8"

    public init() {}

    // MARK: - Registration

    /// A counter family whose series are told apart by `labelNames`. By convention the name ends in
    /// `_total`.
    public func counterFamily(_ name: String, help: String, labelNames: [String],
                              constantLabels: [MetricLabel] = []) throws(MetricsError) -> CounterFamily {
        CounterFamily(index: try addFamily(name, help, .counter, labelNames, constantLabels, buckets: []))
    }

    public func gaugeFamily(_ name: String, help: String, labelNames: [String],
                            constantLabels: [MetricLabel] = []) throws(MetricsError) -> GaugeFamily {
        GaugeFamily(index: try addFamily(name, help, .gauge, labelNames, constantLabels, buckets: []))
    }

    /// A histogram family; `buckets` are the finite upper bounds, strictly increasing (a final +Inf
    /// may be given and is ignored: the +Inf bucket is always written).
    public func histogramFamily(_ name: String, help: String, buckets: [Double], labelNames: [String],
                                constantLabels: [MetricLabel] = []) throws(MetricsError) -> HistogramFamily {
        HistogramFamily(index: try addFamily(name, help, .histogram, labelNames, constantLabels, buckets: buckets))
    }

    /// The series of `family` for `labelValues`, one per label name, in their order. Asking again for
    /// the same values returns the same handle.
    public func counter(_ family: CounterFamily, labelValues: [String]) throws(MetricsError) -> Counter {
        Counter(index: try addSeries(family.index, labelValues))
    }

    public func gauge(_ family: GaugeFamily, labelValues: [String]) throws(MetricsError) -> Gauge {
        Gauge(index: try addSeries(family.index, labelValues))
    }

    public func histogram(_ family: HistogramFamily, labelValues: [String]) throws(MetricsError) -> Histogram {
        Histogram(index: try addSeries(family.index, labelValues))
    }

    /// A family without label names and its one series.
    public func counter(_ name: String, help: String, constantLabels: [MetricLabel] = []) throws(MetricsError) -> Counter {
        Counter(index: try addSeries(try addFamily(name, help, .counter, [], constantLabels, buckets: []), []))
    }

    public func gauge(_ name: String, help: String, constantLabels: [MetricLabel] = []) throws(MetricsError) -> Gauge {
        Gauge(index: try addSeries(try addFamily(name, help, .gauge, [], constantLabels, buckets: []), []))
    }

    public func histogram(_ name: String, help: String, buckets: [Double],
                          constantLabels: [MetricLabel] = []) throws(MetricsError) -> Histogram {
        Histogram(index: try addSeries(try addFamily(name, help, .histogram, [], constantLabels, buckets: buckets), []))
    }

    /// Runs `collector` before every scrape, after the collectors added before it.
    public func addCollector(_ collector: @escaping (MetricsRegistry) -> Void) {
        collectors.append(collector)
    }

    // MARK: - Updates: O(1), no allocation (histograms: O(log buckets))

    /// Adds `amount` (1 by default), wrapping around at 2^64.
    public func increment(_ counter: Counter, by amount: UInt64 = 1) {
        switch series[counter.index].value {
        case .unsigned(let value): series[counter.index].value = .unsigned(value &+ amount)
        case .double(let value): series[counter.index].value = .double(value + Double(amount))
        case .signed: break                                         // not a counter's
        }
    }

    /// Adds `amount`. A whole amount keeps an integer counter an integer; after a fractional one the
    /// counter holds a Double. Negative and NaN amounts are ignored: a counter never goes down.
    public func add(_ counter: Counter, _ amount: Double) {
        guard amount >= 0 else { return }
        if case .unsigned(let value) = series[counter.index].value, amount < 18_446_744_073_709_551_616.0,
           Double(UInt64(amount)) == amount {
            series[counter.index].value = .unsigned(value &+ UInt64(amount))
        } else {
            series[counter.index].value = .double(series[counter.index].value.asDouble + amount)
        }
    }

    /// Sets a counter to the value of one kept elsewhere (for collectors). That source must itself only
    /// go up: Prometheus reads a decrease as a restart.
    public func set(_ counter: Counter, to value: UInt64) {
        series[counter.index].value = .unsigned(value)
    }

    @_disfavoredOverload                                            // an integer literal means the integer one
    public func set(_ counter: Counter, to value: Double) {
        series[counter.index].value = .double(value)
    }

    public func set(_ gauge: Gauge, to value: Int64) {
        series[gauge.index].value = .signed(value)
    }

    @_disfavoredOverload                                            // an integer literal means the integer one
    public func set(_ gauge: Gauge, to value: Double) {
        series[gauge.index].value = .double(value)
    }

    /// Adds `amount` (negative to subtract), wrapping around at the ends of Int64.
    public func add(_ gauge: Gauge, _ amount: Int64) {
        switch series[gauge.index].value {
        case .signed(let value): series[gauge.index].value = .signed(value &+ amount)
        case .double(let value): series[gauge.index].value = .double(value + Double(amount))
        case .unsigned: break                                       // not a gauge's
        }
    }

    @_disfavoredOverload                                            // an integer literal means the integer one
    public func add(_ gauge: Gauge, _ amount: Double) {
        series[gauge.index].value = .double(series[gauge.index].value.asDouble + amount)
    }

    /// Counts `value` in the first bucket whose bound is at least `value` (the +Inf bucket when none
    /// is, and for NaN), adds it to the sum and counts it.
    public func observe(_ histogram: Histogram, _ value: Double) {
        let bounds = families[series[histogram.index].family].bounds
        var low = 0, high = bounds.count                            // the first bound >= value is in low...high
        while low < high {
            let middle = (low + high) / 2
            if value <= bounds[middle] { high = middle } else { low = middle + 1 }
        }
        bucketCounts[series[histogram.index].firstBucket + low] &+= 1
        series[histogram.index].sum += value
        series[histogram.index].count &+= 1
    }

    // MARK: - Reading

    public func value(_ counter: Counter) -> MetricValue { series[counter.index].value }
    public func value(_ gauge: Gauge) -> MetricValue { series[gauge.index].value }

    /// The number of observations.
    public func count(_ histogram: Histogram) -> UInt64 { series[histogram.index].count }
    /// The sum of the observations.
    public func sum(_ histogram: Histogram) -> Double { series[histogram.index].sum }
    /// The finite bucket bounds, without +Inf.
    public func bounds(_ histogram: Histogram) -> [Double] { families[series[histogram.index].family].bounds }

    /// The cumulative count of each bucket, as written: observations <= each bound, then all of them.
    public func cumulativeCounts(_ histogram: Histogram) -> [UInt64] {
        let first = series[histogram.index].firstBucket
        var counts: [UInt64] = [], total: UInt64 = 0
        for index in first ..< first + bounds(histogram).count + 1 {
            total &+= bucketCounts[index]
            counts.append(total)
        }
        return counts
    }

    // MARK: - Checks and layout

    private func addFamily(_ name: String, _ help: String, _ kind: MetricKind, _ labelNames: [String],
                           _ constantLabels: [MetricLabel], buckets: [Double]) throws(MetricsError) -> Int {
        let nameBytes = Self.bytes(name)
        guard PrometheusText.isValidMetricName(nameBytes) else { throw .invalidMetricName }
        guard !help.isEmpty else { throw .missingHelp }

        var names: [[UInt8]] = []                                   // constant first, as they are written
        for label in constantLabels { names.append(Self.bytes(label.name)) }
        for labelName in labelNames { names.append(Self.bytes(labelName)) }
        for (index, labelName) in names.enumerated() {
            guard PrometheusText.isValidLabelName(labelName) else { throw .invalidLabelName }
            guard kind != .histogram || labelName != [UInt8(ascii: "l"), UInt8(ascii: "e")] else { throw .reservedLabelName }
            guard !names[..<index].contains(labelName) else { throw .duplicateLabelName }
        }

        var bounds = buckets
        if bounds.last == .infinity { bounds.removeLast() }
        var previous = -Double.infinity
        for bound in bounds {
            guard bound.isFinite && bound > previous else { throw .invalidBuckets }
            previous = bound
        }

        for family in families {
            guard family.name != nameBytes && !Self.derives(nameBytes, from: family.name, family.kind)
                    && !Self.derives(family.name, from: nameBytes, kind) else { throw .duplicateMetricName }
        }

        var helpText: [UInt8] = []
        PrometheusText.appendEscapedHelp(Self.bytes(help), to: &helpText)
        var constantText: [UInt8] = []
        for label in constantLabels {
            Self.appendLabel(Self.bytes(label.name), Self.bytes(label.value), to: &constantText)
        }
        var boundTexts: [[UInt8]] = []
        if kind == .histogram {
            for bound in bounds {
                var text: [UInt8] = []
                PrometheusText.appendValue(bound, to: &text)
                boundTexts.append(text)
            }
            boundTexts.append(Array("+Inf".utf8))
        }
        families.append(Family(name: nameBytes, help: helpText, kind: kind, labelNames: Array(names[constantLabels.count...]),
                               constantLabels: constantText, bounds: bounds, boundTexts: boundTexts))
        return families.count - 1
    }

    private func addSeries(_ familyIndex: Int, _ labelValues: [String]) throws(MetricsError) -> Int {
        let family = families[familyIndex]
        guard labelValues.count == family.labelNames.count else { throw .labelCountMismatch }
        var labels = family.constantLabels
        for (name, value) in zip(family.labelNames, labelValues) {
            Self.appendLabel(name, Self.bytes(value), to: &labels)
        }
        // Escaping is one-to-one, so equal label text means equal label values.
        if let existing = family.series.first(where: { series[$0].labels == labels }) { return existing }

        let kind = family.kind
        series.append(Series(family: familyIndex, labels: labels,
                             value: kind == .gauge ? .signed(0) : .unsigned(0), firstBucket: bucketCounts.count))
        if kind == .histogram {
            bucketCounts.append(contentsOf: repeatElement(0, count: family.bounds.count + 1))
        }
        families[familyIndex].series.append(series.count - 1)
        return series.count - 1
    }

    /// Whether `name` is one of the sample names a histogram called `base` writes: base_bucket,
    /// base_sum, base_count.
    private static func derives(_ name: [UInt8], from base: [UInt8], _ kind: MetricKind) -> Bool {
        guard kind == .histogram, name.count > base.count, name.starts(with: base) else { return false }
        func endsWith(_ suffix: StaticString) -> Bool {
            suffix.withUTF8Buffer { name.count == base.count + $0.count && name[base.count...].elementsEqual($0) }
        }
        return endsWith("_bucket") || endsWith("_sum") || endsWith("_count")
    }

    /// A string's UTF-8, in one place rather than inlined at every use.
    @inline(never)
    private static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Appends `name="value"`, after a comma unless `labels` is empty.
    private static func appendLabel(_ name: [UInt8], _ value: [UInt8], to labels: inout [UInt8]) {
        if !labels.isEmpty { labels.append(UInt8(ascii: ",")) }
        labels.append(contentsOf: name)
        labels.appendASCII("=\"")
        PrometheusText.appendEscapedLabelValue(value, to: &labels)
        labels.append(UInt8(ascii: "\""))
    }
}

// Exposition: the registry as Prometheus text, version 0.0.4, appended to a [UInt8] the caller owns.
//
// For each family that has a series, in registration order:
//
//     # HELP tessera_tcp_connections TCP connections by state.        help with \ and newline escaped
//     # TYPE tessera_tcp_connections gauge
//     tessera_tcp_connections{state="established"} 3                  label values with \ " newline escaped
//     tessera_tcp_connections{state="time_wait"} 0
//     # HELP tessera_http_request_seconds Time to answer a request.
//     # TYPE tessera_http_request_seconds histogram
//     tessera_http_request_seconds_bucket{le="0.005"} 1                cumulative: observations <= 0.005
//     tessera_http_request_seconds_bucket{le="+Inf"} 2                 all observations
//     tessera_http_request_seconds_sum 1.25
//     tessera_http_request_seconds_count 2
//
// Every line ends with "\n" (so does the text), there are no timestamps, and a series without labels
// has no braces. Label text and bucket bounds were escaped and formatted at registration, so writing
// only copies bytes and formats the values: nothing is allocated beyond the caller's array growing.
// `PrometheusText` holds the rules (names, escaping, numbers) for anyone writing the format by hand.

/// The lexical rules of the Prometheus text format.
public enum PrometheusText {
    /// [a-zA-Z_:][a-zA-Z0-9_:]*
    public static func isValidMetricName(_ name: [UInt8]) -> Bool {
        guard let first = name.first, !isDigit(first) else { return false }
        return name.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") }
    }

    /// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus' own labels).
    public static func isValidLabelName(_ name: [UInt8]) -> Bool {
        guard let first = name.first, !isDigit(first) else { return false }
        guard name.count < 2 || name[0] != UInt8(ascii: "_") || name[1] != UInt8(ascii: "_") else { return false }
        return name.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    public static func isValidMetricName(_ name: String) -> Bool { isValidMetricName(Array(name.utf8)) }
    public static func isValidLabelName(_ name: String) -> Bool { isValidLabelName(Array(name.utf8)) }

    /// Appends help text with "\" written as "\\" and a line feed as "\n".
    public static func appendEscapedHelp(_ text: [UInt8], to bytes: inout [UInt8]) {
        for byte in text {
            switch byte {
            case UInt8(ascii: "\\"): bytes.appendASCII("\\\\")
            case UInt8(ascii: "\n"): bytes.appendASCII("\\n")
            default: bytes.append(byte)
            }
        }
    }

    /// Appends a label value with "\" written as "\\", a double quote as "\"" and a line feed as "\n".
    public static func appendEscapedLabelValue(_ value: [UInt8], to bytes: inout [UInt8]) {
        for byte in value {
            switch byte {
            case UInt8(ascii: "\\"): bytes.appendASCII("\\\\")
            case UInt8(ascii: "\""): bytes.appendASCII("\\\"")
            case UInt8(ascii: "\n"): bytes.appendASCII("\\n")
            default: bytes.append(byte)
            }
        }
    }

    /// Appends `value` in decimal.
    public static func appendValue(_ value: UInt64, to bytes: inout [UInt8]) {
        var divisor: UInt64 = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Appends `value` in decimal, with "-" when negative.
    public static func appendValue(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendValue(value.magnitude, to: &bytes)
    }

    /// Appends a counter's or gauge's value: integers as integers, Doubles as in FloatFormat.swift.
    public static func appendValue(_ value: MetricValue, to bytes: inout [UInt8]) {
        switch value {
        case .unsigned(let value): appendValue(value, to: &bytes)
        case .signed(let value): appendValue(value, to: &bytes)
        case .double(let value): appendValue(value, to: &bytes)
        }
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

extension MetricsRegistry {
    /// Runs the collectors, in the order they were added.
    public func collect() {
        for collector in collectors { collector(self) }             // a copy: collectors may add collectors
    }

    /// Runs the collectors, then appends the text: what an HTTP handler for /metrics sends.
    public func scrape(into bytes: inout [UInt8]) {
        collect()
        write(into: &bytes)
    }

    /// Appends the text for the values as they are now, without running the collectors.
    public func write(into bytes: inout [UInt8]) {
        for family in families where !family.series.isEmpty {
            bytes.appendASCII("# HELP ")
            bytes.append(contentsOf: family.name)
            bytes.appendASCII(" ")
            bytes.append(contentsOf: family.help)
            bytes.appendASCII("\n# TYPE ")
            bytes.append(contentsOf: family.name)
            bytes.appendASCII(" ")
            bytes.appendASCII(family.kind.name)
            bytes.appendASCII("\n")
            for index in family.series {
                if family.kind == .histogram {
                    writeHistogram(family, series[index], into: &bytes)
                } else {
                    Self.appendSampleName(family.name, "", series[index].labels, le: nil, to: &bytes)
                    PrometheusText.appendValue(series[index].value, to: &bytes)
                    bytes.appendASCII("\n")
                }
            }
        }
    }

    private func writeHistogram(_ family: Family, _ sample: Series, into bytes: inout [UInt8]) {
        var cumulative: UInt64 = 0
        for (bucket, bound) in family.boundTexts.enumerated() {
            cumulative &+= bucketCounts[sample.firstBucket + bucket]
            Self.appendSampleName(family.name, "_bucket", sample.labels, le: bound, to: &bytes)
            PrometheusText.appendValue(cumulative, to: &bytes)
            bytes.appendASCII("\n")
        }
        Self.appendSampleName(family.name, "_sum", sample.labels, le: nil, to: &bytes)
        PrometheusText.appendValue(sample.sum, to: &bytes)
        bytes.appendASCII("\n")
        Self.appendSampleName(family.name, "_count", sample.labels, le: nil, to: &bytes)
        PrometheusText.appendValue(sample.count, to: &bytes)
        bytes.appendASCII("\n")
    }

    /// Appends `name` `suffix` `{labels,le="bound"}` and the space before the value.
    private static func appendSampleName(_ name: [UInt8], _ suffix: StaticString, _ labels: [UInt8], le bound: [UInt8]?,
                                         to bytes: inout [UInt8]) {
        bytes.append(contentsOf: name)
        bytes.appendASCII(suffix)
        if !labels.isEmpty || bound != nil {
            bytes.appendASCII("{")
            bytes.append(contentsOf: labels)
            if let bound {
                bytes.appendASCII(labels.isEmpty ? "le=\"" : ",le=\"")
                bytes.append(contentsOf: bound)
                bytes.appendASCII("\"")
            }
            bytes.appendASCII("}")
        }
        bytes.appendASCII(" ")
    }
}

extension Array where Element == UInt8 {
    mutating func appendASCII(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }
}

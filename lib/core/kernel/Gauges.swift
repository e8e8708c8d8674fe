// Gauges: figures that optional libraries publish about themselves, for whoever reports them.
//
// A library that keeps a figure worth watching (a file system's bytes in use, say) registers a
// reader here; the metrics exporter turns every reader into a Prometheus gauge at scrape time and the
// shell can list them — without the library importing either of them, so an image pays for the
// exporter only when it selects it, and for the library only when it selects that. Readers run at
// report time on the reporting thread; each must be cheap and take its own lock. Registration is
// expected during boot (library initialization), before the exporter starts.

import ArchX86

/// One published figure: a metric name (`tessera_` prefix, base units), its help text, one label
/// pair (empty name: none), and the reader.
public struct ImageGauge {
    public let name: String
    public let help: String
    public let labelName: String
    public let labelValue: String
    public let read: () -> Int64

    public init(name: String, help: String, labelName: String = "", labelValue: String = "", read: @escaping () -> Int64) {
        self.name = name
        self.help = help
        self.labelName = labelName
        self.labelValue = labelValue
        self.read = read
    }
}

nonisolated(unsafe) var imageGauges: [ImageGauge] = []

public enum ImageGauges {
    /// Publishes `gauge`; several gauges of one name with different label values form one family.
    public static func register(_ gauge: ImageGauge) {
        CPU.withInterruptsDisabled { imageGauges.append(gauge) }
    }

    /// Every published gauge, in registration order.
    public static var all: [ImageGauge] { CPU.withInterruptsDisabled { imageGauges } }
}

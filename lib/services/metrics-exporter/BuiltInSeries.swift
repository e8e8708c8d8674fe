// BuiltInSeries: what every image with the exporter publishes about itself, read at scrape time.
//
// Each library keeps counting in its own fields (interrupt handlers and the network thread never
// touch the registry); one collector, run before each scrape, copies those figures into the series
// below. Names follow docs/metrics.md: the `tessera_` prefix, base units, `_total` on counters.
//
//     tessera_uptime_seconds                          gauge    the monotonic clock
//     tessera_heap_bytes{state=in_use|free|peak}      gauge    the heap allocator's statistics
//     tessera_heap_allocations_total                  counter  allocations made
//     tessera_heap_allocation_failures_total          counter  allocations refused
//     tessera_physical_memory_bytes{state=free|used}  gauge    the page allocator
//     tessera_threads                                 gauge    threads alive (not finished)
//     tessera_context_switches_total                  counter  the scheduler's switches
//     tessera_interrupts_total{vector}                counter  per vector (hexadecimal), spurious apart
//     tessera_net_frames_total{direction=rx|tx}       counter  the network device
//     tessera_net_bytes_total{direction=rx|tx}        counter
//     tessera_net_transmit_busy_total                 counter  transmit refused: every buffer in flight
//     tessera_net_drops_total{reason}                 counter  malformed, not_for_us, fragment, unhandled_protocol, udp_queue_full, martian
//     tessera_tcp_segments_total{direction=rx|tx}     counter
//     tessera_tcp_connections{state}                  gauge    the connection table by RFC 9293 state
//     tessera_tcp_retransmissions_total               counter  segments sent again (timeouts and fast retransmits)
//     tessera_tcp_events_total{event}                 counter  timeout, fast_retransmit, challenge_ack, listen_overflow, reset_sent, reset_received, timed_out
//
// plus every gauge a selected library published in the kernel's `ImageGauges` (files: the root
// file system's bytes, `tessera_filesystem_bytes{state=used|limit}`), grouped into families by name.

import Clock
import Interrupts
import Kernel
import Metrics
import NetStack
import NetTCP
import Threads

enum BuiltInSeries<I: NetworkedImage> {
    /// Registers the families and the collector that fills them. Fails only on a programming error
    /// (a bad name), which the tests catch.
    static func register(in registry: MetricsRegistry) throws(MetricsError) {
        let uptime = try registry.gauge("tessera_uptime_seconds", help: "Time since boot, from the monotonic clock.")
        let heap = try registry.gaugeFamily("tessera_heap_bytes", help: "Heap bytes by state: in use, free, peak in use.",
                                            labelNames: ["state"])
        let heapInUse = try registry.gauge(heap, labelValues: ["in_use"])
        let heapFree = try registry.gauge(heap, labelValues: ["free"])
        let heapPeak = try registry.gauge(heap, labelValues: ["peak"])
        let allocations = try registry.counter("tessera_heap_allocations_total", help: "Heap allocations made.")
        let allocationFailures = try registry.counter("tessera_heap_allocation_failures_total",
                                                      help: "Heap allocations refused for lack of memory.")
        let memory = try registry.gaugeFamily("tessera_physical_memory_bytes", help: "Physical memory by state.",
                                              labelNames: ["state"])
        let memoryFree = try registry.gauge(memory, labelValues: ["free"])
        let memoryUsed = try registry.gauge(memory, labelValues: ["used"])
        let threads = try registry.gauge("tessera_threads", help: "Threads alive.")
        let switches = try registry.counter("tessera_context_switches_total", help: "Context switches made by the scheduler.")
        let interrupts = try registry.counterFamily("tessera_interrupts_total", help: "Interrupts handled, by vector.",
                                                    labelNames: ["vector"])
        let spurious = try registry.counter("tessera_interrupts_spurious_total", help: "Spurious interrupts.")
        let frames = try registry.counterFamily("tessera_net_frames_total", help: "Ethernet frames through the network device.",
                                                labelNames: ["direction"])
        let framesIn = try registry.counter(frames, labelValues: ["rx"]), framesOut = try registry.counter(frames, labelValues: ["tx"])
        let bytes = try registry.counterFamily("tessera_net_bytes_total", help: "Frame bytes through the network device.",
                                               labelNames: ["direction"])
        let bytesIn = try registry.counter(bytes, labelValues: ["rx"]), bytesOut = try registry.counter(bytes, labelValues: ["tx"])
        let busy = try registry.counter("tessera_net_transmit_busy_total", help: "Transmits refused because every buffer was in flight.")
        let drops = try registry.counterFamily("tessera_net_drops_total", help: "Received packets dropped by the interface, by reason.",
                                               labelNames: ["reason"])
        let dropReasons = ["malformed", "not_for_us", "fragment", "unhandled_protocol", "udp_queue_full", "martian"]
        var dropCounters: [Counter] = []
        for reason in dropReasons { dropCounters.append(try registry.counter(drops, labelValues: [reason])) }
        let segments = try registry.counterFamily("tessera_tcp_segments_total", help: "TCP segments.", labelNames: ["direction"])
        let segmentsIn = try registry.counter(segments, labelValues: ["rx"]), segmentsOut = try registry.counter(segments, labelValues: ["tx"])
        let connections = try registry.gaugeFamily("tessera_tcp_connections", help: "TCP connections by state.", labelNames: ["state"])
        var connectionGauges: [Gauge] = []
        for state in TCPState.allCases { connectionGauges.append(try registry.gauge(connections, labelValues: [state.metricName])) }
        let retransmissions = try registry.counter("tessera_tcp_retransmissions_total", help: "TCP segments retransmitted.")
        let events = try registry.counterFamily("tessera_tcp_events_total", help: "TCP events, by kind.", labelNames: ["event"])
        let eventNames = ["timeout", "fast_retransmit", "challenge_ack", "listen_overflow", "reset_sent", "reset_received", "timed_out",
                          "syn_cookie_sent", "syn_cookie_accepted", "syn_cookie_rejected"]
        var eventCounters: [Counter] = []
        for event in eventNames { eventCounters.append(try registry.counter(events, labelValues: [event])) }

        var published: [(Gauge, () -> Int64)] = []
        var families: [(String, GaugeFamily)] = []
        for entry in ImageGauges.all {
            if entry.labelName.isEmpty {
                published.append((try registry.gauge(entry.name, help: entry.help), entry.read))
                continue
            }
            let family: GaugeFamily
            if let known = families.first(where: { $0.0 == entry.name }) {
                family = known.1
            } else {
                family = try registry.gaugeFamily(entry.name, help: entry.help, labelNames: [entry.labelName])
                families.append((entry.name, family))
            }
            published.append((try registry.gauge(family, labelValues: [entry.labelValue]), entry.read))
        }

        registry.addCollector { registry in
            registry.set(uptime, to: Double(Clock.now()) / 1e9)
            for (gauge, read) in published { registry.set(gauge, to: read()) }
            let heapFigures = I.withHeap { $0.statistics }
            registry.set(heapInUse, to: Int64(heapFigures.inUseBytes))
            registry.set(heapFree, to: Int64(heapFigures.freeBytes))
            registry.set(heapPeak, to: Int64(heapFigures.peakInUseBytes))
            registry.set(allocations, to: UInt64(heapFigures.totalAllocations))
            registry.set(allocationFailures, to: UInt64(heapFigures.failedAllocations))
            registry.set(memoryFree, to: Int64(physicalPages.freePages * 4096))
            registry.set(memoryUsed, to: Int64(physicalPages.usedPages * 4096))
            var alive = 0
            Thread<I>.forEach { info in if info.state != .finished && info.state != .unused { alive += 1 } }
            registry.set(threads, to: Int64(alive))
            registry.set(switches, to: Thread<I>.contextSwitchCount)
            Interrupts.forEachCount { vector, count in
                guard count > 0, let series = try? registry.counter(interrupts, labelValues: [hexadecimal(vector)]) else { return }
                registry.set(series, to: count)
            }
            registry.set(spurious, to: Interrupts.spuriousCount)
            guard let stack = NetworkStack<I>.shared else { return }
            let device = stack.deviceStatistics
            registry.set(framesIn, to: UInt64(device.framesReceived))
            registry.set(framesOut, to: UInt64(device.framesSent))
            registry.set(bytesIn, to: UInt64(device.bytesReceived))
            registry.set(bytesOut, to: UInt64(device.bytesSent))
            registry.set(busy, to: UInt64(device.transmitBusy))
            let interface = stack.interfaceStatistics
            let dropped = [interface.malformed, interface.notForUs, interface.fragmentsDropped, interface.unhandledProtocol,
                           interface.udpQueueFull, interface.martians]
            for (counter, value) in zip(dropCounters, dropped) { registry.set(counter, to: UInt64(value)) }
            let tcp = stack.tcpStatistics
            registry.set(segmentsIn, to: UInt64(tcp.segmentsIn))
            registry.set(segmentsOut, to: UInt64(tcp.segmentsOut))
            registry.set(retransmissions, to: UInt64(tcp.retransmittedSegments))
            let happened = [tcp.timeouts, tcp.fastRetransmits, tcp.challengeAcks, tcp.listenOverflows, tcp.resetsSent,
                            tcp.connectionsReset, tcp.connectionsTimedOut, tcp.synCookiesSent, tcp.synCookiesAccepted,
                            tcp.synCookiesRejected]
            for (counter, value) in zip(eventCounters, happened) { registry.set(counter, to: UInt64(value)) }
            let counts = stack.tcpConnectionCounts
            for (gauge, entry) in zip(connectionGauges, counts) { registry.set(gauge, to: Int64(entry.count)) }
        }
    }

    static func hexadecimal(_ vector: UInt8) -> String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        return "0x" + String(digits[Int(vector >> 4)]) + String(digits[Int(vector & 15)])
    }
}

extension TCPState {
    /// RFC 9293's state name in snake_case, as a label value.
    var metricName: String {
        switch self {
        case .closed: return "closed"
        case .listen: return "listen"
        case .synSent: return "syn_sent"
        case .synReceived: return "syn_received"
        case .established: return "established"
        case .finWait1: return "fin_wait_1"
        case .finWait2: return "fin_wait_2"
        case .closeWait: return "close_wait"
        case .closing: return "closing"
        case .lastAck: return "last_ack"
        case .timeWait: return "time_wait"
        }
    }
}

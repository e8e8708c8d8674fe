// ServerReport: one console line of a StreamServer's figures and the memory under it, what a load test
// or an operator watching a flood reads (httpd's `--report SECONDS`, kv's `kv.report=SECONDS`). The
// words are fixed, space-separated `name value` pairs, so tests and scripts can pick out a figure.

import Kernel
import NetTCP

extension StreamServer {
    /// `open N accepted N refused N evicted N request-timeouts N idle-closed N memory-closed N
    /// heap-in-use B heap-peak B available B tcp-buffers B syn-refused-memory N listen-overflows N
    /// orphans N time-wait N`.
    public func report() -> String {
        let heap = I.withHeap { $0.statistics }
        let tcp = stack.tcpStatistics
        let counts = stack.tcpConnectionCounts
        let timeWait = counts.first { $0.state == .timeWait }?.count ?? 0
        let s = statistics
        return "open \(s.open) accepted \(s.accepted) refused \(s.refused) evicted \(s.evicted) "
            + "request-timeouts \(s.closedRequestTimeout) idle-closed \(s.closedIdle) memory-closed \(s.closedMemory) "
            + "heap-in-use \(heap.inUseBytes) heap-peak \(heap.peakInUseBytes) available \(SystemMemory.available) "
            + "tcp-buffers \(stack.bufferMemory?.used ?? 0) syn-refused-memory \(tcp.memoryRefusals) "
            + "listen-overflows \(tcp.listenOverflows) syn-cookies \(tcp.synCookiesSent)/\(tcp.synCookiesAccepted) orphans \(stack.orphanedConnections) time-wait \(timeWait)"
    }
}

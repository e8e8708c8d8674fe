// Segment departure and timers: what a connection sends when polled (RFC 9293 3.8, 3.10.7).
//
// `poll(now:transmit:)` first runs the timers whose deadlines passed, then sends, in this order:
//   - a keep-alive probe (RFC 1122 4.2.3.6) or zero-window probe (RFC 9293 3.8.6.1): a segment with
//     no data and SEQ = SND.UNA - 1, which any live peer answers with an ACK carrying its window;
//   - the SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), with MSS, window scale and timestamps options;
//   - a retransmission of the first unacknowledged segment (timeout, fast retransmit, NewReno
//     partial ACK), sent even into a closed window, where it doubles as a probe;
//   - new data as far as min(peer window, congestion window) allows, in segments of at most SMSS,
//     holding back a small segment while an earlier small one is unacknowledged (Nagle's algorithm in
//     Minshall's variant, as Linux does: a response's last partial segment is not delayed; off with
//     no-delay) and a
//     window-limited runt (sender-side silly window avoidance, 3.8.6.2.1); our FIN rides on the last
//     data segment or goes alone;
//   - a bare ACK if one is owed and nothing else carried it (immediate or after the delayed-ACK timer).
// Every segment carries the current ACK and window, so each one sent clears the ACK debt.
//
// Timers: retransmission (RFC 6298 5.1-5.7: runs while data is in flight, restarts on new ACKs,
// backs off on expiry; SYN and data have separate retry limits, then the connection times out),
// persist (zero window with data waiting and nothing in flight; backs off to 60 s, never gives up while
// the peer answers — unless the application already closed: an orphan gives up after `dataRetries`
// probes), delayed ACK, keep-alive (idle time, interval, probe count), orphaned FIN-WAIT-2
// (`finWait2Timeout`) and TIME-WAIT (2 MSL).
//
// `transmit(header, data)` hands one segment to the IP layer; when it returns false (no transmit
// buffer, address not yet resolved) the connection stops sending and tries again on the next poll.

import NetWire

public typealias TCPTransmit = (_ header: TCPRepr, _ data: UnsafeRawBufferPointer) -> Bool

extension TCPConnection {
    /// The earliest timer deadline, if any timer runs. (No array of the six: this runs for every
    /// connection polled, and must not allocate.)
    public var nextDeadline: UInt64? {
        func earlier(_ a: UInt64, _ b: UInt64) -> UInt64 { a == 0 ? b : b == 0 ? a : min(a, b) }
        let earliest = earlier(earlier(earlier(retransmitDeadline, delayedAckDeadline), earlier(persistDeadline, keepAliveDeadline)),
                               earlier(timeWaitDeadline, finWait2Deadline))
        return earliest == 0 ? nil : earliest
    }

    /// Runs due timers and sends what is owed; see the design comment.
    public mutating func poll(now: UInt64, transmit: TCPTransmit) {
        runTimers(now: now)
        guard state != .closed && state != .listen else { return }
        var sentAny = false
        if keepAliveProbeDue || windowProbeDue {
            if emit(sequence: sendUnacknowledged + -1, length: 0, flags: .ack, now: now, transmit) != nil {
                if keepAliveProbeDue { statistics.keepAliveProbes += 1 } else { statistics.windowProbes += 1 }
                keepAliveProbeDue = false
                windowProbeDue = false
                sentAny = true
            }
        }
        if state == .synSent || state == .synReceived {
            if sendNext == initialSendSequence {
                let flags: TCPFlags = state == .synSent ? .syn : [.syn, .ack]
                guard emit(sequence: initialSendSequence, length: 0, flags: flags, now: now, transmit) != nil else { return }
                if retransmissions == 0 && timedSegment == nil { timedSegment = (initialSendSequence, now) }
                sendNext = initialSendSequence + 1
                if sendMaximum - sendNext < 0 { sendMaximum = sendNext }
                if retransmitDeadline == 0 { retransmitDeadline = now + retransmissionTimer.timeout }
                return
            }
            if state == .synSent || !ackNow { return }
        }
        if state.isSynchronized && state != .timeWait {
            if retransmitFirstPending {
                retransmitFirstPending = false
                if let length = sendData(from: sendUnacknowledged, maximum: sendSegmentSize, now: now, transmit) {
                    statistics.retransmittedSegments += 1
                    timedSegment = nil
                    if sendNext - (sendUnacknowledged + length) < 0 { sendNext = sendUnacknowledged + length }
                    // Our FIN may go out for the first time on a retransmission (queued after the data
                    // was sent): SND.MAX must cover it, or the peer's ACK of it looks like one for
                    // something never sent and is dropped.
                    if sendMaximum - sendNext < 0 { sendMaximum = sendNext }
                    sentAny = true
                }
            }
            sentAny = sendNewData(now: now, transmit) || sentAny
        }
        if ackNow && !sentAny {
            _ = emit(sequence: sendNext, length: 0, flags: .ack, now: now, transmit)
        }
    }

    /// Sends new data (and FIN) as the windows, Nagle and SWS avoidance allow. True if anything went.
    mutating func sendNewData(now: UInt64, _ transmit: TCPTransmit) -> Bool {
        var sentAny = false
        while true {
            let dataEnd = sendBufferStart + (sendBuffer?.count ?? 0)
            let unsent = max(dataEnd - sendNext, 0)
            let finDue = finQueued && sendNext - dataEnd <= 0
            let usable = min(sendWindow, congestion.window) - (sendNext - sendUnacknowledged)
            let length = min(unsent, sendSegmentSize, max(usable, 0))
            if length == 0 && !(finDue && unsent == 0) {
                if unsent > 0 && sendWindow == 0 && flightSize == 0 && persistDeadline == 0 {
                    persistDeadline = now + retransmissionTimer.timeout
                }
                break
            }
            if length < unsent && length < sendSegmentSize && length < largestSendWindow / 2 { break }
            if length == unsent && length < sendSegmentSize && !configuration.noDelay && !finDue,
               let small = unacknowledgedSmallSegmentEnd, small - sendUnacknowledged > 0 { break }
            let isNew = sendNext - sendMaximum >= 0
            guard let sent = sendData(from: sendNext, maximum: length, now: now, transmit) else { break }
            if isNew && timedSegment == nil && !timestampsEnabled && retransmissions == 0 {
                timedSegment = (sendNext, now)
            }
            sendNext += sent
            if length < sendSegmentSize { unacknowledgedSmallSegmentEnd = sendNext }
            if sendMaximum - sendNext < 0 { sendMaximum = sendNext }
            if retransmitDeadline == 0 { retransmitDeadline = now + retransmissionTimer.timeout }
            sentAny = true
            if finQueued && sendNext - dataEnd > 0 { break }
        }
        return sentAny
    }

    /// Sends up to `maximum` bytes of the send buffer starting at `sequence`, plus our FIN when the
    /// segment reaches it. Returns the sequence space used, or nil if transmit refused.
    mutating func sendData(from sequence: SequenceNumber, maximum: Int, now: UInt64, _ transmit: TCPTransmit) -> Int? {
        let dataEnd = sendBufferStart + (sendBuffer?.count ?? 0)
        let length = max(min(maximum, dataEnd - sequence), 0)
        var flags: TCPFlags = .ack
        if length > 0 && sequence + length == dataEnd { flags.insert(.psh) }
        if finQueued && sequence + length == dataEnd { flags.insert(.fin) }
        guard length > 0 || flags.contains(.fin) else { return 0 }
        guard let sent = emit(sequence: sequence, length: length, flags: flags, now: now, transmit) else { return nil }
        return sent + (sent == length && flags.contains(.fin) ? 1 : 0)
    }

    /// Builds and transmits one segment; returns the data bytes it carried (the ring may lend fewer
    /// than `length` at its wrap point), or nil if transmit refused.
    mutating func emit(sequence: SequenceNumber, length: Int, flags: TCPFlags, now: UInt64,
                       _ transmit: TCPTransmit) -> Int? {
        let window = currentReceiveWindow
        let isSyn = flags.contains(.syn)
        let shift = isSyn ? 0 : Int(receiveWindowShift)
        let windowField = UInt16(min(window >> shift, 0xFFFF))
        var options = TCPOptions()
        let milliseconds = UInt32(truncatingIfNeeded: now / 1_000_000)
        if isSyn {
            options.maximumSegmentSize = UInt16(configuration.maximumSegmentSize)
            if state == .synSent ? configuration.windowScaling : windowScalingEnabled {
                options.windowScale = receiveWindowShift
            }
            if state == .synSent ? configuration.timestamps : timestampsEnabled {
                options.timestamps = TCPTimestamps(value: milliseconds, echoReply: state == .synSent ? 0 : timestampRecent)
            }
        } else if timestampsEnabled {
            options.timestamps = TCPTimestamps(value: milliseconds, echoReply: timestampRecent)
        }
        var header = TCPRepr(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: sequence.rawValue,
                             acknowledgmentNumber: flags.contains(.ack) ? receiveNext.rawValue : 0,
                             flags: flags, window: windowField, options: options)
        let offset = sequence - sendBufferStart
        var carried = 0
        let sent: Bool
        if length > 0, let ring = sendBuffer, offset >= 0 {
            sent = ring.peek(at: offset, maximum: length) { data in
                carried = data.count
                if carried < length { header.flags.remove([.fin, .psh]) }
                return transmit(header, data)
            }
        } else {
            sent = transmit(header, UnsafeRawBufferPointer(start: nil, count: 0))
        }
        guard sent else { return nil }
        statistics.segmentsOut += 1
        statistics.bytesOut += carried
        lastAcknowledgmentSent = receiveNext
        advertisedWindow = Int(windowField) << shift
        ackNow = false
        segmentsAwaitingAck = 0
        delayedAckDeadline = 0
        lastSentAt = now
        return carried
    }

    mutating func runTimers(now: UInt64) {
        if timeWaitDeadline != 0 && now >= timeWaitDeadline {
            enterClosed()
            return
        }
        if finWait2Deadline != 0 && now >= finWait2Deadline && state == .finWait2 {
            error = .timedOut                               // orphaned: the peer never sent its FIN
            enterClosed()
            return
        }
        if retransmitDeadline != 0 && now >= retransmitDeadline {
            retransmissionTimeout(now: now)
            if state == .closed { return }
        }
        if persistDeadline != 0 && now >= persistDeadline {
            // An orphan (closed by the application) whose peer keeps its window shut is given up
            // after as many probes as data retransmissions (Linux: tcp_orphan_retries).
            if applicationClosed && persistBackoff >= configuration.dataRetries {
                error = .timedOut
                enterClosed()
                return
            }
            windowProbeDue = true
            persistBackoff += 1
            let interval = retransmissionTimer.timeout << UInt64(min(persistBackoff, 10))
            persistDeadline = now + min(interval, RetransmissionTimer.maximum)
        }
        if delayedAckDeadline != 0 && now >= delayedAckDeadline {
            ackNow = true
            delayedAckDeadline = 0
        }
        if let idle = configuration.keepAliveIdle, state == .established || state == .closeWait {
            // Idle time counts from the last segment received; probes then follow at the interval.
            if keepAliveProbesSent == 0 { keepAliveDeadline = lastReceivedAt + idle }
            if now >= keepAliveDeadline {
                if keepAliveProbesSent >= configuration.keepAliveProbes {
                    error = .timedOut
                    enterClosed()
                    return
                }
                keepAliveProbeDue = true
                keepAliveProbesSent += 1
                keepAliveDeadline = now + configuration.keepAliveInterval
            }
        }
    }

    mutating func retransmissionTimeout(now: UInt64) {
        retransmissions += 1
        statistics.timeouts += 1
        let limit = state == .synSent || state == .synReceived ? configuration.synRetries : configuration.dataRetries
        guard retransmissions <= limit else {
            error = .timedOut
            enterClosed()
            return
        }
        retransmissionTimer.expired()
        congestion.timeout(flight: flightSize)
        timedSegment = nil
        if state == .synSent || state == .synReceived {
            sendNext = initialSendSequence
        } else {
            sendNext = sendUnacknowledged
            retransmitFirstPending = true
        }
        retransmitDeadline = now + retransmissionTimer.timeout
    }
}

// Segment arrival (RFC 9293 section 3.10.7), with the RFC 5961 and RFC 7323 checks in their places.
//
// SYN-SENT (3.10.7.3): an ACK outside (ISS, SND.MAX] is answered with RST (unless it is one); a RST
// counts only with an acceptable ACK and means "refused"; a SYN completes the handshake (with ACK) or
// starts a simultaneous open (without).
//
// Synchronized states (3.10.7.4), in the RFC's order:
//   0. RFC 7323 5.3: once timestamps are on, a non-RST segment without them is dropped, and one whose
//      TSval is older than TS.Recent (PAWS) is answered with an ACK and dropped.
//   1. sequence acceptability (the four cases of the table in 3.10.7.4); unacceptable → ACK, drop.
//   2. RST: exactly RCV.NXT resets the connection; anywhere else in the window a challenge ACK
//      (RFC 5961 3.2) — blind resets need to guess the exact number, not just the window.
//   4. SYN: always a challenge ACK (RFC 5961 4.2), never a reset.
//   5. ACK: in SYN-RECEIVED an ACK of our SYN establishes the connection (else RST). An ACK of data
//      not yet sent is answered with an ACK and dropped; one older than SND.UNA - MAX.SND.WND gets a
//      challenge ACK and is dropped (RFC 5961 5.2, blind data injection). A new ACK frees send
//      buffer, samples the RTT, feeds congestion control; a duplicate ACK (RFC 5681 section 2's
//      definition) counts towards fast retransmit. The window updates under the SND.WL1/WL2 rule.
//   7. data is placed in the receive ring (in order: delivered; ahead of RCV.NXT: kept for later).
//   8. FIN: once every byte before it has arrived it moves the state on (CLOSE-WAIT, CLOSING,
//      TIME-WAIT) and is acknowledged at once; out-of-order data held beyond it is dropped.
// Challenge ACKs are limited to 10 per second per connection (RFC 5961 section 7 asks for a limit; a
// global counter is what leaked sequence numbers in CVE-2016-5696, so this one is per connection).

import NetWire

/// One arriving segment: its header and the data after it (valid for the duration of the call).
public struct TCPSegment {
    public var header: TCPRepr
    public var payload: UnsafeRawBufferPointer

    public init(header: TCPRepr, payload: UnsafeRawBufferPointer) {
        self.header = header
        self.payload = payload
    }

    var sequence: SequenceNumber { SequenceNumber(header.sequenceNumber) }
    var acknowledgment: SequenceNumber { SequenceNumber(header.acknowledgmentNumber) }
    /// Sequence space the segment occupies: data plus one for each of SYN and FIN.
    var length: Int {
        payload.count + (header.flags.contains(.syn) ? 1 : 0) + (header.flags.contains(.fin) ? 1 : 0)
    }
}

/// The reset owed to a segment (RFC 9293 3.10.7.1 "reset generation").
func resetReply(to segment: TCPSegment) -> TCPRepr? {
    let header = segment.header
    guard !header.flags.contains(.rst) else { return nil }
    if header.flags.contains(.ack) {
        return TCPRepr(sourcePort: header.destinationPort, destinationPort: header.sourcePort,
                       sequenceNumber: header.acknowledgmentNumber, flags: .rst, window: 0)
    }
    return TCPRepr(sourcePort: header.destinationPort, destinationPort: header.sourcePort, sequenceNumber: 0,
                   acknowledgmentNumber: (segment.sequence + segment.length).rawValue, flags: [.rst, .ack], window: 0)
}

extension TCPConnection {
    /// A passive open (RFC 9293 3.10.7.2): a listener received `syn`; the SYN-ACK goes out on `poll`.
    public static func accept(_ syn: TCPSegment, local: TCPEndpoint, remote: TCPEndpoint,
                              initialSequence: SequenceNumber, configuration: TCPConfiguration,
                              now: UInt64) -> TCPConnection {
        var connection = TCPConnection(state: .synReceived, local: local, remote: remote,
                                       initialSequence: initialSequence, configuration: configuration, now: now)
        connection.initialReceiveSequence = syn.sequence
        connection.receiveNext = syn.sequence + 1
        connection.negotiate(syn.header.options)
        connection.sendWindow = Int(syn.header.window)
        connection.largestSendWindow = connection.sendWindow
        connection.sendWindowUpdateSequence = syn.sequence
        return connection
    }

    /// A connection made from a returning SYN cookie (SynCookies.swift): the peer's ACK of a SYN-ACK we
    /// sent without keeping state. It starts in SYN-RECEIVED with the SYN-ACK counted as sent, so that
    /// processing the ACK itself (and any data it carries) makes it ESTABLISHED; no window scaling,
    /// timestamps or SACK (the SYN-ACK offered none), the MSS the cookie carried.
    public static func acceptCookie(_ ack: TCPSegment, local: TCPEndpoint, remote: TCPEndpoint,
                                    initialSequence: SequenceNumber, segmentSize: Int,
                                    configuration: TCPConfiguration, now: UInt64) -> TCPConnection {
        var connection = TCPConnection(state: .synReceived, local: local, remote: remote,
                                       initialSequence: initialSequence, configuration: configuration, now: now)
        connection.initialReceiveSequence = ack.sequence + -1
        connection.receiveNext = ack.sequence
        connection.windowScalingEnabled = false
        connection.sendWindowShift = 0
        connection.receiveWindowShift = 0
        connection.sendSegmentSize = max(64, min(segmentSize, configuration.maximumSegmentSize))
        connection.congestion = CongestionControl(segmentSize: connection.sendSegmentSize)
        connection.sendNext = initialSequence + 1
        connection.sendMaximum = initialSequence + 1
        connection.sendWindow = Int(ack.header.window)
        connection.largestSendWindow = connection.sendWindow
        connection.sendWindowUpdateSequence = ack.sequence + -1
        return connection
    }

    /// Applies the options of the peer's SYN (RFC 9293 3.7.1 MSS, RFC 7323 2.2 and 3.2).
    mutating func negotiate(_ options: TCPOptions) {
        if configuration.windowScaling, let shift = options.windowScale {
            windowScalingEnabled = true
            sendWindowShift = min(shift, 14)
            receiveWindowShift = configuration.receiveWindowShift
        } else {
            windowScalingEnabled = false
            sendWindowShift = 0
            receiveWindowShift = 0
        }
        if configuration.timestamps, let timestamps = options.timestamps {
            timestampsEnabled = true
            timestampRecent = timestamps.value
        }
        // The MSS counts data only, and every segment now carries the options we agreed on: 12 bytes
        // of timestamps leave MSS - 12 for data (RFC 6691 section 2), or a full segment would not fit
        // the MTU (found on a tap device with Linux, which offers timestamps).
        let optionBytes = timestampsEnabled ? 12 : 0
        sendSegmentSize = max(64, min(Int(options.maximumSegmentSize ?? 536), configuration.maximumSegmentSize) - optionBytes)
        congestion = CongestionControl(segmentSize: sendSegmentSize)
    }

    /// Processes one segment addressed to this connection. Returns a reset the caller must send for
    /// it (the connection itself sends everything else from `poll`).
    public mutating func process(_ segment: TCPSegment, now: UInt64) -> TCPRepr? {
        statistics.segmentsIn += 1
        switch state {
        case .closed, .listen: return resetReply(to: segment)
        case .synSent: return processInSynSent(segment, now: now)
        default: return processSynchronized(segment, now: now)
        }
    }

    mutating func processInSynSent(_ segment: TCPSegment, now: UInt64) -> TCPRepr? {
        let flags = segment.header.flags
        if flags.contains(.ack) {
            let ack = segment.acknowledgment
            guard ack - initialSendSequence > 0 && ack - sendMaximum <= 0 else { return resetReply(to: segment) }
        }
        if flags.contains(.rst) {
            if flags.contains(.ack) {
                error = .refused
                enterClosed()
            }
            return nil
        }
        guard flags.contains(.syn) else { return nil }
        lastReceivedAt = now
        initialReceiveSequence = segment.sequence
        receiveNext = segment.sequence + 1
        negotiate(segment.header.options)
        sendWindow = Int(segment.header.window)
        largestSendWindow = sendWindow
        sendWindowUpdateSequence = segment.sequence
        ackNow = true
        if flags.contains(.ack) {
            sendWindowUpdateAcknowledgment = segment.acknowledgment
            acknowledge(upTo: segment.acknowledgment, segment: segment, now: now)
            state = .established
        } else {
            // Simultaneous open: answer with SYN-ACK from the same ISS.
            state = .synReceived
            sendNext = initialSendSequence
        }
        return nil
    }

    mutating func processSynchronized(_ segment: TCPSegment, now: UInt64) -> TCPRepr? {
        let header = segment.header
        let flags = header.flags
        let sequence = segment.sequence
        if timestampsEnabled && !flags.contains(.rst) {
            guard let timestamps = header.options.timestamps else { return nil }
            if Int32(bitPattern: timestamps.value &- timestampRecent) < 0 {
                ackNow = true
                return nil
            }
        }
        guard isAcceptable(segment) else {
            if !flags.contains(.rst) {
                ackNow = true
                // The peer's SYN again: our SYN-ACK was lost, send it again now.
                if state == .synReceived && flags.contains(.syn) && sequence == initialReceiveSequence {
                    sendNext = initialSendSequence
                }
            }
            return nil
        }
        lastReceivedAt = now
        keepAliveProbesSent = 0
        if flags.contains(.rst) {
            if sequence == receiveNext {
                if state != .closing && state != .lastAck && state != .timeWait { error = .reset }
                enterClosed()
            } else {
                challengeAck(now: now)
            }
            return nil
        }
        if flags.contains(.syn) {
            challengeAck(now: now)
            return nil
        }
        guard flags.contains(.ack) else { return nil }
        let ack = segment.acknowledgment
        if state == .synReceived {
            guard ack - sendUnacknowledged > 0 && ack - sendMaximum <= 0 else { return resetReply(to: segment) }
            state = finQueued ? .finWait1 : .established             // a close while in SYN-RECEIVED
            sendWindow = Int(header.window) << Int(sendWindowShift)
            largestSendWindow = max(largestSendWindow, sendWindow)
            sendWindowUpdateSequence = sequence
            sendWindowUpdateAcknowledgment = ack
        }
        if ack - sendMaximum > 0 {
            ackNow = true
            return nil
        }
        if ack - (sendUnacknowledged + -largestSendWindow) < 0 {
            challengeAck(now: now)
            return nil
        }
        if let timestamps = header.options.timestamps, timestampsEnabled,
           sequence - lastAcknowledgmentSent <= 0 {
            timestampRecent = timestamps.value
        }
        let windowBefore = sendWindow
        let newWindow = Int(header.window) << Int(sendWindowShift)
        if ack - sendUnacknowledged > 0 {
            acknowledge(upTo: ack, segment: segment, now: now)
        } else if ack == sendUnacknowledged && flightSize > 0 && segment.payload.isEmpty
                    && !flags.contains(.fin) && newWindow == windowBefore {
            statistics.duplicateAcks += 1
            if congestion.duplicateAcknowledgment(highestSent: sendMaximum, flight: flightSize)
                == .retransmitFirstUnacknowledged {
                statistics.fastRetransmits += 1
                retransmitFirstPending = true
            }
        }
        if sendWindowUpdateSequence - sequence < 0
            || (sendWindowUpdateSequence == sequence && sendWindowUpdateAcknowledgment - ack <= 0) {
            sendWindow = newWindow
            largestSendWindow = max(largestSendWindow, newWindow)
            sendWindowUpdateSequence = sequence
            sendWindowUpdateAcknowledgment = ack
            if newWindow > 0 {
                persistDeadline = 0
                persistBackoff = 0
            } else {
                // A peer that answers with a closed window is alive: probing must not time out.
                retransmissions = 0
            }
        }
        if finAcknowledged {
            switch state {
            case .finWait1:
                state = .finWait2
                if applicationClosed { finWait2Deadline = now + configuration.finWait2Timeout }
            case .closing: enterTimeWait(now: now)
            case .lastAck:
                enterClosed()
                return nil
            default: break
            }
        }
        if !segment.payload.isEmpty {
            switch state {
            case .established, .finWait1, .finWait2: receive(segment.payload, at: sequence, now: now)
            default: break
            }
        }
        if flags.contains(.fin) {
            let fin = sequence + segment.payload.count
            if fin == receiveNext {
                acceptFin(now: now)
            } else if fin - receiveNext > 0 {
                pendingFin = fin
                ackNow = true
            }
        }
        return nil
    }

    /// RFC 9293 3.10.7.4, first check: does any of the segment fall inside the receive window?
    func isAcceptable(_ segment: TCPSegment) -> Bool {
        let window = state == .timeWait ? 0 : max(currentReceiveWindow, advertisedWindow)
        let length = segment.length
        let start = segment.sequence
        switch (length, window) {
        case (0, 0): return start == receiveNext
        case (0, _): return start.isIn(receiveNext, length: window)
        case (_, 0): return false
        default: return start.isIn(receiveNext, length: window) || (start + (length - 1)).isIn(receiveNext, length: window)
        }
    }

    mutating func challengeAck(now: UInt64) {
        if now - challengeWindowStart >= 1_000_000_000 {
            challengeWindowStart = now
            challengeAcksInWindow = 0
        }
        guard challengeAcksInWindow < 10 else { return }
        challengeAcksInWindow += 1
        statistics.challengeAcks += 1
        ackNow = true
    }

    /// A new ACK: frees acknowledged data, samples the RTT, moves the congestion window and timers.
    mutating func acknowledge(upTo ack: SequenceNumber, segment: TCPSegment, now: UInt64) {
        let acked = ack - sendUnacknowledged
        if var buffer = sendBuffer {
            sendBuffer = nil
            let dataEnd = sendBufferStart + buffer.count
            let freed = (ack - dataEnd <= 0 ? ack : dataEnd) - sendBufferStart
            if freed > 0 {
                buffer.consume(freed)
                sendBufferStart += freed
                if buffer.isEmpty { buffer.releaseStorage() }
            }
            sendBuffer = buffer
        } else if ack - sendBufferStart > 0 {
            sendBufferStart = ack
        }
        sendUnacknowledged = ack
        if sendNext - ack < 0 { sendNext = ack }
        retransmissions = 0
        if timestampsEnabled, let echo = segment.header.options.timestamps?.echoReply, echo != 0 {
            let milliseconds = UInt32(truncatingIfNeeded: now / 1_000_000) &- echo
            if milliseconds < 60_000 { retransmissionTimer.sample(UInt64(milliseconds) * 1_000_000 + 500_000) }
        } else if let timed = timedSegment, ack - timed.sequence > 0 {
            retransmissionTimer.sample(now - timed.sentAt)
            timedSegment = nil
        }
        if congestion.newAcknowledgment(acked: acked, acknowledged: ack, flight: flightSize)
            == .retransmitFirstUnacknowledged {
            retransmitFirstPending = true
        }
        retransmitDeadline = flightSize > 0 ? now + retransmissionTimer.timeout : 0
    }

    /// Places data that starts at `sequence` (inside the window) into the receive ring.
    mutating func receive(_ payload: UnsafeRawBufferPointer, at sequence: SequenceNumber, now: UInt64) {
        guard var ring = receiveBuffer else { return }
        receiveBuffer = nil
        defer { receiveBuffer = ring }
        var offset = sequence - receiveNext
        var bytes = payload
        if offset < 0 {
            bytes = UnsafeRawBufferPointer(rebasing: bytes[min(-offset, bytes.count)...])
            offset = 0
        }
        // Room in storage for the bytes (growth may be refused under memory pressure: then the rest
        // is dropped unacknowledged and the peer retransmits it into a window that shrank).
        let wanted = min(bytes.count, ring.freeSpace - offset)
        let room = wanted > 0 && !applicationClosed ? ring.makeRoom(upTo: ring.count + offset + wanted) - ring.count - offset : wanted
        let take = min(wanted, room)
        guard take > 0 else {
            ackNow = true
            return
        }
        if applicationClosed {
            // Nobody will read it: acknowledge and drop (see the design comment). Out-of-order data
            // held from before the close is forgotten too: RCV.NXT moves over it unread.
            outOfOrder.removeAll()
            if offset == 0 {
                receiveNext += take
                ackNow = true
            }
            return
        }
        ring.write(UnsafeRawBufferPointer(rebasing: bytes[0..<take]), at: ring.count + offset)
        statistics.bytesIn += take
        let start = receiveNext + offset
        guard offset == 0 else {
            insertOutOfOrder(start, start + take)
            statistics.outOfOrderSegments += 1
            ackNow = true                                   // RFC 5681 4.2: duplicate ACK at once
            return
        }
        ring.commit(take)
        receiveNext += take
        let filledHole = !outOfOrder.isEmpty
        while let first = outOfOrder.first, first.start - receiveNext <= 0 {
            if first.end - receiveNext > 0 {
                ring.commit(first.end - receiveNext)
                receiveNext = first.end
            }
            outOfOrder.removeFirst()
        }
        if let fin = pendingFin, fin == receiveNext {
            receiveBuffer = ring
            acceptFin(now: now)
            ring = receiveBuffer ?? ring
        }
        segmentsAwaitingAck += 1
        // RFC 5681 4.2 / RFC 1122 4.2.3.2: ACK at least every second full-sized segment, at once when
        // a hole was filled, otherwise within the delayed-ACK timeout.
        if filledHole || segmentsAwaitingAck >= 2 || take >= 2 * sendSegmentSize {
            ackNow = true
        } else if delayedAckDeadline == 0 {
            delayedAckDeadline = now + configuration.delayedAckTimeout
        }
    }

    mutating func insertOutOfOrder(_ start: SequenceNumber, _ end: SequenceNumber) {
        var merged = (start: start, end: end)
        var kept: [(start: SequenceNumber, end: SequenceNumber)] = []
        for range in outOfOrder {
            if range.end - merged.start < 0 || merged.end - range.start < 0 {
                kept.append(range)
            } else {
                if range.start - merged.start < 0 { merged.start = range.start }
                if range.end - merged.end > 0 { merged.end = range.end }
            }
        }
        let position = kept.firstIndex { $0.start - merged.start > 0 } ?? kept.count
        kept.insert(merged, at: position)
        outOfOrder = kept
    }

    mutating func acceptFin(now: UInt64) {
        receiveNext += 1
        finReceived = true
        pendingFin = nil
        outOfOrder.removeAll()                              // data past the peer's FIN is not data (as Linux)
        ackNow = true
        switch state {
        case .synReceived, .established: state = .closeWait
        case .finWait1:
            if finAcknowledged { enterTimeWait(now: now) } else { state = .closing }
        case .finWait2: enterTimeWait(now: now)
        case .timeWait: timeWaitDeadline = now + configuration.timeWaitDuration
        default: break
        }
    }
}

// Sorted-set commands (t_zset.c): ZADD ZINCRBY ZREM ZPOPMIN ZPOPMAX ZRANGE ZSCORE ZCARD.
//
// ZADD follows zaddGenericCommand: options first (NX XX GT LT CH INCR, any order and case), then an even,
// non-zero number of score-member arguments (else a syntax error), then the incompatibilities, then every
// score is parsed before anything changes (DoubleText.swift), then the key is looked up (WRONGTYPE; XX on a
// missing key does nothing). ZINCRBY is ZADD INCR. Scores in replies are "%.17g" bulk strings.
//
// ZRANGE supports ranks (start stop, negative from the end) with REV and WITHSCORES. BYSCORE and BYLEX are
// not implemented and answer "ERR BYSCORE and BYLEX are not supported"; LIMIT without them is Redis's
// syntax error.

import RESP

extension KVStore {
    struct ZAddOptions {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = false
    }

    mutating func zaddCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        var options = ZAddOptions()
        var index = 2
        while index < a.count {
            let option = a[index]
            if ASCIIBytes.equalsIgnoringCase(option, "nx") { options.nx = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "xx") { options.xx = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "ch") { options.ch = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "incr") { options.incr = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "gt") { options.gt = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "lt") { options.lt = true }
            else { break }
            index += 1
        }
        try zadd(a[1], pairs: a[index...], options, &reply)
    }

    mutating func zincrbyCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        try zadd(a[1], pairs: a[2...], ZAddOptions(incr: true), &reply)
    }

    mutating func zadd(_ key: ArraySlice<UInt8>, pairs: ArraySlice<ArraySlice<UInt8>>, _ options: ZAddOptions,
                       _ reply: inout [UInt8]) throws(CommandError) {
        guard !pairs.isEmpty, pairs.count % 2 == 0 else { throw .syntax }
        if options.nx && options.xx { throw .message("ERR XX and NX options at the same time are not compatible") }
        if (options.gt && options.nx) || (options.lt && options.nx) || (options.gt && options.lt) {
            throw .message("ERR GT, LT, and/or NX options at the same time are not compatible")
        }
        if options.incr && pairs.count > 2 { throw .message("ERR INCR option supports a single increment-element pair") }
        var scores: [Double] = []
        for index in stride(from: pairs.startIndex, to: pairs.endIndex, by: 2) {
            guard let score = DoubleText.parse(pairs[index]) else { throw .notFloat }
            scores.append(score)
        }

        var sortedSet = try self.sortedSet(key)?.sortedSet
        if sortedSet == nil && !options.xx {
            let created = SortedSetValue()
            _ = keyspace.insert(key, .sortedSet(created), now: now)
            sortedSet = created
        }
        var added: Int64 = 0, updated: Int64 = 0, processed = 0
        var lastScore = 0.0
        if let sortedSet {
            let before = sortedSet.memory
            defer { keyspace.account(sortedSet.memory - before) }
            for (offset, score) in scores.enumerated() {
                let member = pairs[pairs.startIndex + 2 * offset + 1]
                var score = score
                if let current = sortedSet.score(of: member) {
                    if options.nx { continue }
                    if options.incr {
                        score += current
                        if score.isNaN { throw .notANumberResult }
                    }
                    if (options.lt && score >= current) || (options.gt && score <= current) { continue }
                    if score != current {
                        _ = sortedSet.set(member, score: score)
                        updated += 1
                    }
                } else {
                    if options.xx { continue }
                    _ = sortedSet.set(member, score: score)
                    added += 1
                }
                processed += 1
                lastScore = score
            }
        }
        if options.incr {
            if processed > 0 { Self.bulkScore(lastScore, into: &reply) } else { RESPReply.nullBulkString(into: &reply) }
        } else {
            RESPReply.integer(options.ch ? added + updated : added, into: &reply)
        }
    }

    static func bulkScore(_ score: Double, into reply: inout [UInt8]) {
        var text: [UInt8] = []
        DoubleText.append(score, to: &text)
        RESPReply.bulkString(text, into: &reply)
    }

    mutating func zremCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        removeMembers(try self.sortedSet(a[1]), a.dropFirst(2), &reply)
    }

    /// ZPOPMIN and ZPOPMAX: a flat array of member, score pairs.
    mutating func zpopCommand(_ a: Arguments, highest: Bool, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count <= 3 else { throw .syntax }
        let count = a.count == 3 ? try Self.positiveCount(a[2]) : 1
        guard let (slot, sortedSet) = try self.sortedSet(a[1]), count > 0 else {        // WRONGTYPE even for 0
            RESPReply.arrayHeader(0, into: &reply)
            return
        }
        let popped = min(count, sortedSet.count)
        let before = sortedSet.memory
        RESPReply.arrayHeader(popped * 2, into: &reply)
        for _ in 0..<popped {
            guard let element = sortedSet.popFirst(highest: highest) else { break }
            RESPReply.bulkString(element.member, into: &reply)
            Self.bulkScore(element.score, into: &reply)
        }
        keyspace.account(sortedSet.memory - before)
        removeIfEmpty(slot, count: sortedSet.count)
    }

    mutating func zrangeCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        var withScores = false, reverse = false, byScoreOrLex = false, limit = false
        var index = 4
        while index < a.count {
            let option = a[index]
            if ASCIIBytes.equalsIgnoringCase(option, "withscores") {
                withScores = true
            } else if ASCIIBytes.equalsIgnoringCase(option, "limit") && a.count - index - 1 >= 2 {
                guard RESPInteger.parse(a[index + 1]) != nil, RESPInteger.parse(a[index + 2]) != nil else { throw .notInteger }
                limit = true
                index += 2
            } else if !reverse && ASCIIBytes.equalsIgnoringCase(option, "rev") {
                reverse = true
            } else if !byScoreOrLex && (ASCIIBytes.equalsIgnoringCase(option, "byscore")
                                        || ASCIIBytes.equalsIgnoringCase(option, "bylex")) {
                byScoreOrLex = true
            } else {
                throw .syntax
            }
            index += 1
        }
        if limit && !byScoreOrLex {
            throw .message("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if byScoreOrLex { throw .message("ERR BYSCORE and BYLEX are not supported") }
        guard let start = RESPInteger.parse(a[2]), let stop = RESPInteger.parse(a[3]) else { throw .notInteger }
        guard let (_, sortedSet) = try self.sortedSet(a[1], read: true),
              let ranks = Self.indexRange(start, stop, count: sortedSet.count) else {
            RESPReply.arrayHeader(0, into: &reply)
            return
        }
        RESPReply.arrayHeader(ranks.count * (withScores ? 2 : 1), into: &reply)
        let count = sortedSet.count
        var elements: [ScoredMember] = []
        let stored = reverse ? (count - 1 - ranks.upperBound)...(count - 1 - ranks.lowerBound) : ranks
        sortedSet.forEach(in: stored) { elements.append($0) }
        if reverse { elements.reverse() }
        for element in elements {
            RESPReply.bulkString(element.member, into: &reply)
            if withScores { Self.bulkScore(element.score, into: &reply) }
        }
    }

    mutating func zscoreCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        if let score = try sortedSet(a[1], read: true)?.sortedSet.score(of: a[2]) {
            Self.bulkScore(score, into: &reply)
        } else {
            RESPReply.nullBulkString(into: &reply)
        }
    }

    mutating func zcardCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        RESPReply.integer(Int64(try sortedSet(a[1], read: true)?.sortedSet.count ?? 0), into: &reply)
    }
}

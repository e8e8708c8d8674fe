// NetWire's Internet checksum (RFC 1071): the numerical example of section 3, the properties of
// section 2 that make incremental computation work (any split, byte order independence, end-around
// carry), verification of data that includes its checksum, and the IPv4 pseudo-header.

import NetWire
import Testing

/// The checksum state after adding `pieces` one after another.
func checksumState(_ pieces: [[UInt8]]) -> InternetChecksum {
    var sum = InternetChecksum()
    for piece in pieces { piece.withUnsafeBytes { sum.add($0) } }
    return sum
}

@Suite struct NetWireChecksumTests {
    @Test func rfc1071Section3NumericalExample() {
        // 00 01 f2 03 f4 f5 f6 f7: the words sum to 0x2ddf0, which folds to 0xddf2.
        let sum = checksumState([[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]])
        #expect(sum.folded == 0xddf2)
        #expect(sum.checksum == 0x220d)
    }

    @Test func rfc1071Section2CEndAroundCarryFolds() {
        #expect(checksumState([[0xff, 0xff, 0x00, 0x01]]).folded == 0x0001)
        #expect(checksumState([[UInt8]](repeating: [0xff, 0xff], count: 100_000)).folded == 0xffff)
    }

    @Test func anOddFinalByteIsPaddedWithAZeroByte() {
        #expect(checksumState([[0xab]]).folded == 0xab00)
        #expect(checksumState([[0x12, 0x34, 0x56]]).folded == 0x1234 + 0x5600)
    }

    @Test func rfc1071Section2BTheSumIsTheSameHoweverTheDataIsSplit() {
        let data: [UInt8] = (0..<37).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 19) }
        let whole = checksumState([data])
        for first in 0...data.count {
            for second in first...data.count {
                let pieces = [Array(data[..<first]), Array(data[first..<second]), Array(data[second...])]
                #expect(checksumState(pieces).folded == whole.folded, "split at \(first), \(second)")
            }
        }
    }

    @Test func wordsAddedAfterAnOddNumberOfBytesCountAsTheirBytes() {
        var words = checksumState([[0x01, 0x02, 0x03]])
        words.add(UInt16(0xa1b2))
        words.add(UInt32(0xc3d4_e5f6))
        let bytes = checksumState([[0x01, 0x02, 0x03, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6]])
        #expect(words.folded == bytes.folded)
    }

    @Test func dataIncludingItsChecksumVerifiesAndAnyChangeDoesNot() {
        var data: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8]
        let checksum = data.withUnsafeBytes { InternetChecksum.checksum($0) }
        data[10] = UInt8(checksum >> 8)
        data[11] = UInt8(checksum & 0xff)
        #expect(checksumState([data]).isValid)
        for index in data.indices {
            var corrupted = data
            corrupted[index] ^= 0x10
            #expect(!checksumState([corrupted]).isValid, "byte \(index)")
        }
    }

    @Test func allZeroDataWithAZeroChecksumDoesNotVerify() {
        // The checksum of zeros is 0xffff; a zero field in zero data is a missing checksum, not a valid one.
        #expect(!checksumState([[UInt8](repeating: 0, count: 20)]).isValid)
        #expect([UInt8](repeating: 0, count: 20).withUnsafeBytes { InternetChecksum.checksum($0) } == 0xffff)
    }

    @Test func rfc791HeaderChecksumOfAKnownHeader() {
        // 192.168.0.1 -> 192.168.0.199, UDP, total length 115, DF, TTL 64: the checksum is 0xb861.
        let header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
                               0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]
        #expect(header.withUnsafeBytes { InternetChecksum.checksum($0) } == 0xb861)
    }

    @Test func pseudoHeaderSumsTheBytesItStandsFor() {
        var pseudo = InternetChecksum()
        pseudo.addPseudoHeader(source: IPv4Address(10, 0, 2, 15), destination: IPv4Address(10, 0, 2, 3),
                               protocol: .udp, length: 37)
        let bytes = checksumState([[10, 0, 2, 15, 10, 0, 2, 3, 0, 17, 0, 37]])
        #expect(pseudo == bytes)
        var afterOddData = checksumState([[0x99]])
        afterOddData.addPseudoHeader(source: IPv4Address(10, 0, 2, 15), destination: IPv4Address(10, 0, 2, 3),
                                     protocol: .udp, length: 37)
        #expect(afterOddData.folded == checksumState([[0x99, 10, 0, 2, 15, 10, 0, 2, 3, 0, 17, 0, 37]]).folded)
    }
}

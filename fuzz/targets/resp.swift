// RESPParser (lib/services/resp/RequestParser.swift). Input: the bytes a Redis client sent on one connection.
//
// `RESPParser.fuzz` does the work: it parses the bytes as a stream of pipelined commands (multibulk
// and inline), in one piece and one byte at a time, and checks the parser's promises with
// `precondition` (a command consumes at least one byte and no more than it was given, split input
// answers as the whole does, an error is final).

import RESP

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    RESPParser.fuzz(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

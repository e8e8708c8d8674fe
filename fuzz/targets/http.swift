// HTTPRequestParser (lib/services/http/RequestParser.swift). Input: the bytes a client sent on one connection.
//
// `HTTPRequestParser.fuzz` does the work: it parses the bytes as a stream of pipelined requests, with
// the default limits and with tiny ones, and checks the parser's promises with `precondition` (each
// request consumes at least one byte and no more than it was given, its ranges lie inside what it
// consumed, its path is safe, a prefix never answers differently from the whole), writing a response
// head and a log line for every answer.

import HTTP

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    HTTPRequestParser.fuzz(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// ShellSession: one conversation with a shell — a line editor, the commands, and the prompt.
//
// Bytes from the terminal go to `feed`; everything to send back (echo, a command's output, the next
// prompt) is appended to `out`, as text with "\n" line ends for the transport to convert. When a
// line is entered, `run` (the caller's way to reach its command table) runs it. A request to end
// the session or the image is returned instead of the next prompt, once the output that came with
// it has been appended, so the caller sends it first ("halting") and then acts.

public struct ShellSession {
    public var editor: LineEditor

    public init(prompt: String = "> ", maximumLength: Int = 200, historyCapacity: Int = 16) {
        editor = LineEditor(prompt: prompt, maximumLength: maximumLength, historyCapacity: historyCapacity)
    }

    /// The first prompt.
    public func start(into out: inout [UInt8]) {
        editor.redraw(into: &out)
    }

    @inline(never)      // one copy for the serial and TCP sessions (embedded builds inline across modules)
    public mutating func feed(_ byte: UInt8, into out: inout [UInt8],
                              run: (String) -> CommandInvocation) -> SessionRequest? {
        guard let event = editor.feed(byte, echo: &out) else { return nil }
        switch event {
        case .line(let text):
            let invocation = run(text)
            out += invocation.output
            if let last = invocation.output.last, last != UInt8(ascii: "\n") { out.append(UInt8(ascii: "\n")) }
            if let request = invocation.request { return request }
        case .cancelled:
            break
        case .endOfInput:
            return .endSession
        }
        editor.redraw(into: &out)
        return nil
    }
}

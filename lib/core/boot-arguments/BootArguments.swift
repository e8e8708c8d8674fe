// BootArguments: the kernel command line, split into kernel parameters and app arguments.
//
// Syntax (what `tessera run` produces, and what a person typing -append would expect):
//   - words are separated by spaces or tabs;
//   - "double quotes" group a word that holds spaces; a backslash takes the next byte literally,
//     inside or outside quotes (so \" and \\ and \  work);
//   - a bare `--` word ends the kernel parameters: words before it are for the kernel
//     (e.g. `tessera.bootstats`), words after it are the app's arguments;
//   - without a `--`, every word is an app argument.
// Pure logic over bytes: it runs in the guest and in host unit tests alike.

public struct BootArguments {
    /// Kernel parameters, before `--`.
    public var kernel: [String] = []
    /// The app's arguments, after `--` (or all words when there is no `--`).
    public var application: [String] = []

    public init() {}

    public init(parsing line: UnsafeBufferPointer<UInt8>) {
        var words: [String] = []
        var separatorIndex: Int? = nil
        var current: [UInt8] = []
        var inWord = false, quoted = false, escaped = false, sawQuote = false

        func finishWord() {
            if inWord {
                let bytes = current
                if separatorIndex == nil && !sawQuote && bytes.count == 2
                    && bytes[0] == UInt8(ascii: "-") && bytes[1] == UInt8(ascii: "-") {
                    separatorIndex = words.count
                } else {
                    words.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            current.removeAll(keepingCapacity: true)
            inWord = false
            sawQuote = false
        }

        for byte in line {
            if escaped {
                current.append(byte)
                escaped = false
                inWord = true
                continue
            }
            switch byte {
            case UInt8(ascii: "\\"):
                escaped = true
                inWord = true
            case UInt8(ascii: "\""):
                quoted.toggle()
                inWord = true
                sawQuote = true
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"):
                if quoted { current.append(byte) } else { finishWord() }
            default:
                current.append(byte)
                inWord = true
            }
        }
        finishWord()

        if let split = separatorIndex {
            kernel = Array(words[..<split])
            application = Array(words[split...])
        } else {
            application = words
        }
    }

    /// True when the kernel parameters contain `name` exactly.
    public func hasKernelFlag(_ name: StaticString) -> Bool {
        name.withUTF8Buffer { wanted in
            kernel.contains { $0.utf8.elementsEqual(wanted) }
        }
    }

    /// The value of the last kernel parameter `name=value` (what `tessera run -e name=value` passes),
    /// or nil when there is none.
    public func kernelValue(_ name: StaticString) -> String? {
        name.withUTF8Buffer { kernelValue(named: Array($0)) }
    }

    /// The same for a name built at run time (e.g. `volume.` + a device's tag).
    public func kernelValue(named wanted: [UInt8]) -> String? {
        for word in kernel.reversed() {
            let bytes = Array(word.utf8)
            guard bytes.count > wanted.count + 1, bytes[wanted.count] == UInt8(ascii: "="),
                  bytes[0..<wanted.count].elementsEqual(wanted) else { continue }
            return String(decoding: bytes[(wanted.count + 1)...], as: UTF8.self)
        }
        return nil
    }

    /// A size as parameters write it: "4M", "512K", "1G", "65536" → bytes (nil if malformed).
    public static func parseSize(_ text: String) -> Int? {
        var digits = Substring(text)
        var scale = 1
        switch digits.last {
        case "K", "k": scale = 1 << 10
        case "M", "m": scale = 1 << 20
        case "G", "g": scale = 1 << 30
        default: break
        }
        if scale != 1 { digits = digits.dropLast() }
        guard let value = Int(digits), value >= 0, value <= Int.max / scale else { return nil }
        return value * scale
    }
}

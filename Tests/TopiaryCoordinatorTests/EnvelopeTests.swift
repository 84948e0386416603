import Testing
import TopiaryWire

@Suite("Wire envelopes")
struct EnvelopeTests {
    func frames(_ body: [UInt8]) -> [[UInt8]] { [Array("TPY1".utf8), Array("RESULT".utf8), body] }

    @Test("a body with invalid UTF-8 inside a JSON string is refused, not read with replacement characters")
    func invalidUTF8() throws {
        let bad: [UInt8] = Array(#"{"trial":1,"attempt":1,"metrics":{},"info":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        let e = #expect(throws: WireError.self) { try Envelope.decode(frames(bad)) }
        #expect(e?.description == "RESULT body is not valid UTF-8 (JSON text must be)")
        let good = Array(#"{"trial":1,"attempt":1,"metrics":{},"info":"é"}"#.utf8)
        #expect(try Envelope.decode(frames(good)).body["info"]?.stringValue == "é")
    }
}

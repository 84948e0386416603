import Testing
import TopiaryCore

@Suite("JSON strings")
struct JSONTextTests {
    @Test("plain strings, every escape, non-ASCII text around escapes")
    func strings() throws {
        #expect(try JSONText.parse(#""plain é 😀""#) == .string("plain é 😀"))
        #expect(try JSONText.parse(#""""#) == .string(""))
        #expect(try JSONText.parse(#""a\"b\\c\/d\be\ff\ng\rh\ti""#) == .string("a\"b\\c/d\u{08}e\u{0C}f\ng\rh\ti"))
        #expect(try JSONText.parse(#""é\u00e9😀\ud83d\ude00 tail é""#) == .string("éé😀😀 tail é"))
        #expect(try JSONText.parse(#"["\n", "x", "\u0041"]"#) == .array([.string("\n"), .string("x"), .string("A")]))
    }

    @Test("bad strings are refused", arguments: [
        "\"a\u{01}b\"", #""a\qb""#, #""\ud800x""#, #""abc\"#, #""\u12""#, #""a\n"#, #""ab"#,
    ])
    func refused(_ text: String) {
        #expect(throws: JSONError.self) { try JSONText.parse(text) }
    }
}

import Testing
@testable import TopiarySearch

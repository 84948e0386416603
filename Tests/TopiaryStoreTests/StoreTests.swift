import Testing
@testable import TopiaryStore

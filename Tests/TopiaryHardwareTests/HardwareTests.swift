import Testing
@testable import TopiaryHardware

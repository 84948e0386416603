import GRDB
import TopiaryCore

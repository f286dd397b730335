import CLibPQ
import Logging

/// Sends the server's NOTICE, WARNING and similar messages to swift-log instead of stderr.
final class NoticeLogger: Sendable {
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func attach(to connection: OpaquePointer) {
        // The connection owner keeps this object alive for as long as the PGconn exists.
        let context = Unmanaged.passUnretained(self).toOpaque()
        PQsetNoticeReceiver(
            connection,
            { context, result in
                guard let context, let result else { return }
                Unmanaged<NoticeLogger>.fromOpaque(context).takeUnretainedValue().receive(result)
            }, context)
    }

    private func receive(_ result: OpaquePointer) {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let severity = field("V") ?? "NOTICE"
        let level: Logger.Level =
            switch severity {
            case "WARNING": .warning
            case "DEBUG": .debug
            default: .info
            }
        var metadata: Logger.Metadata = ["postgres.severity": "\(severity)"]
        if let sqlState = field("C") { metadata["postgres.sqlstate"] = "\(sqlState)" }
        logger.log(level: level, "\(field("M") ?? "")", metadata: metadata)
    }
}

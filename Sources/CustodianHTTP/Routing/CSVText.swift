import HTTPTypes
import Hummingbird
import NIOCore

/// CSV for a spreadsheet (RFC 4180: CRLF lines, quoted where needed), as a download.
struct CSVText {
    private var text: String

    init(header: [String]) { text = Self.line(header) }

    mutating func append(_ cells: [String]) { text += Self.line(cells) }

    /// The sheet as an attachment named `filename`; never cached.
    func response(filename: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func line(_ cells: [String]) -> String { cells.map(cell).joined(separator: ",") + "\r\n" }

    /// RFC 4180 quoting; a cell a spreadsheet would run as a formula starts with an apostrophe.
    static func cell(_ text: String) -> String {
        var cell = text
        if let first = cell.first, "=+-@\t\r".contains(first) { cell = "'" + cell }
        guard cell.contains(where: { ",\"\r\n".contains($0) }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

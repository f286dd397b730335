import Crypto
import Foundation

/// One numbered plain-SQL file from `migrations/`, such as `0001_foundation.sql`.
public struct MigrationFile: Sendable, Equatable {
    public let version: Int64
    /// The part of the file name after the number, without `.sql`.
    public let name: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex; an applied migration whose file changed is refused.
    public let checksum: String

    public init(version: Int64, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public var fileName: String { String(format: "%04lld_%@.sql", version, name) }
}

public enum MigrationSource {
    /// Reads every `NNNN_name.sql` file of a directory, ordered by number. Other files are ignored;
    /// an `.sql` file without a number, or two files with the same number, are errors.
    public static func load(from directory: URL) throws -> [MigrationFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError.directoryUnreadable(directory.path, reason: "\(error)")
        }
        var files: [MigrationFile] = []
        for fileName in names where fileName.hasSuffix(".sql") {
            let stem = fileName.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                let version = Int64(stem[..<underscore]), version > 0,
                !stem[stem.index(after: underscore)...].isEmpty
            else {
                throw MigrationError.badFileName(fileName)
            }
            let url = directory.appendingPathComponent(fileName)
            guard let data = FileManager.default.contents(atPath: url.path),
                let sql = String(data: data, encoding: .utf8)
            else {
                throw MigrationError.directoryUnreadable(url.path, reason: "not a readable UTF-8 file")
            }
            if let clash = files.first(where: { $0.version == version }) {
                throw MigrationError.duplicateVersion(version, clash.fileName, fileName)
            }
            files.append(MigrationFile(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        return files.sorted { $0.version < $1.version }
    }
}

public enum MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    case directoryUnreadable(String, reason: String)
    case badFileName(String)
    case duplicateVersion(Int64, String, String)
    /// An applied migration's file no longer matches what was applied.
    case checksumMismatch(version: Int64, name: String, applied: String, file: String)
    /// A migration failed; it was rolled back and nothing after it ran.
    case failed(version: Int64, name: String, reason: String)
    /// The API's database role cannot be used as configured.
    case apiRole(String)

    public var description: String {
        switch self {
        case .directoryUnreadable(let path, let reason):
            "cannot read migrations at \(path): \(reason)"
        case .badFileName(let name):
            "migration file \(name) must be named NNNN_description.sql (a positive number, an underscore, a name)"
        case .duplicateVersion(let version, let first, let second):
            "migrations \(first) and \(second) share the number \(version)"
        case .checksumMismatch(let version, let name, let applied, let file):
            "migration \(version) (\(name)) was changed after it was applied (applied checksum \(applied.prefix(12))…, file now \(file.prefix(12))…); "
                + "a landed migration is never edited: restore it and add a new migration instead"
        case .failed(let version, let name, let reason):
            "migration \(version) (\(name)) failed and was rolled back: \(reason)"
        case .apiRole(let reason):
            reason
        }
    }
}

import JSONText
import Postgres

/// A JSON value binds as its text, written by the project's JSON writer, for a jsonb parameter.
/// (`JSONB` encodes any Codable value through Foundation's JSONEncoder: for a `JSONValue` that
/// is a tree walk through Codable containers, and was a tenth of a read's cost when every read
/// bound its audit entries that way.)
extension JSONValue: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(String(decoding: serialized(), as: UTF8.self)) }
}

import Foundation

extension UUID {
    /// A version 4 (random) UUID from the system's generator (getrandom(2)). Foundation's
    /// `UUID()` opens, reads and closes /dev/urandom on every call: three system calls and 4% of
    /// the server's time when every request gets an id.
    public static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var halves = (generator.next() as UInt64, generator.next() as UInt64)
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { bytes in
            withUnsafeBytes(of: &halves) { random in bytes.copyMemory(from: random) }
            bytes[6] = bytes[6] & 0x0F | 0x40
            bytes[8] = bytes[8] & 0x3F | 0x80
        }
        return UUID(uuid: uuid)
    }
}

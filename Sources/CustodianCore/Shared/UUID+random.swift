import Foundation
import Synchronization

extension UUID {
    /// A UUID that no other call in this process returns and another process returns only by
    /// chance (one in 2^122): for ids that must be unique, not secret, such as a request's.
    /// (Foundation's `UUID()` opens, reads and closes /dev/urandom on every call: three system
    /// calls per request.)
    public static func unique() -> UUID {
        let number = UniqueIDs.counter.add(1, ordering: .relaxed).newValue
        // SplitMix64's finaliser is a bijection: distinct numbers give distinct halves.
        return UUID(versionFourFrom: (UniqueIDs.mix(UniqueIDs.seed.0 &+ number), UniqueIDs.mix(UniqueIDs.seed.1 ^ number)))
    }

    private init(versionFourFrom halves: (UInt64, UInt64)) {
        var halves = halves
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { bytes in
            withUnsafeBytes(of: &halves) { random in bytes.copyMemory(from: random) }
            bytes[6] = bytes[6] & 0x0F | 0x40
            bytes[8] = bytes[8] & 0x3F | 0x80
        }
        self.init(uuid: uuid)
    }
}

private enum UniqueIDs {
    static let counter = Atomic<UInt64>(0)
    static let seed: (UInt64, UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }()

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

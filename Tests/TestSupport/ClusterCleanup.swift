import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Removes what the test process created when it exits: the throwaway cluster, or on a server
/// given by `TEST_DATABASE_URL`, the template database.
enum ClusterCleanup {
    private struct Registered {
        var cluster: ThrowawayCluster?
        var databases: [(name: String, connectionString: String)] = []
        var hookInstalled = false
    }

    private static let registered = Mutex(Registered())

    static func register(_ cluster: ThrowawayCluster) {
        installHookOnce { $0.cluster = cluster }
    }

    static func registerDatabase(_ name: String, connectionString: String) {
        installHookOnce { $0.databases.append((name, connectionString)) }
    }

    private static func installHookOnce(_ change: (inout Registered) -> Void) {
        let install = registered.withLock { state in
            change(&state)
            defer { state.hookInstalled = true }
            return !state.hookInstalled
        }
        if install {
            atexit { ClusterCleanup.runAtExit() }
        }
    }

    private static func runAtExit() {
        let state = registered.withLock { $0 }
        if let cluster = state.cluster {
            // Dropping databases first would be wasted work: the whole cluster goes.
            cluster.destroy()
            return
        }
        for database in state.databases {
            dropWithPsql(database.name, connectionString: database.connectionString)
        }
    }

    /// At exit no async runtime is left to use our pool; psql does the one statement synchronously.
    private static func dropWithPsql(_ name: String, connectionString: String) {
        _ = try? ChildProcess.run(
            "/usr/bin/psql",
            ["-X", "-q", "-d", connectionString, "-c", "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)"]
        )
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of mutexes indexed by blob id, so operations on one blob (put, get's reads, delete,
/// re-wrap) exclude each other while operations on different blobs mostly run in parallel.
final class LockStripes: @unchecked Sendable {
    private let locks: [NSLock]

    init(count: Int = 64) {
        locks = (0..<count).map { _ in NSLock() }
    }

    func withLock<R>(_ id: UUID, _ body: () throws -> R) rethrows -> R {
        let b = uuidBytes(id)
        let index = (Int(b[14]) << 8 | Int(b[15])) % locks.count
        return try locks[index].withLock(body)
    }
}

/// A readers-writer lock (`pthread_rwlock`): many wrappers of data keys at once, or one rotation
/// switching the active KEK, so no data key is wrapped under a KEK after the rotation marked it retiring.
final class SharedExclusiveLock: @unchecked Sendable {
    private let rwlock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        rwlock = .allocate(capacity: 1)
        rwlock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(rwlock, nil)
    }

    deinit {
        pthread_rwlock_destroy(rwlock)
        rwlock.deallocate()
    }

    func shared<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(rwlock)
        defer { pthread_rwlock_unlock(rwlock) }
        return try body()
    }

    func exclusive<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(rwlock)
        defer { pthread_rwlock_unlock(rwlock) }
        return try body()
    }
}

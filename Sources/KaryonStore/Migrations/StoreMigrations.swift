import FluentKit

/// Every migration of the record store, in order. The server runs them on start; `karyon migrate`
/// runs them alone.
public enum StoreMigrations {
    public static var all: [any Migration] {
        [CreateAccounts(), CreateRecords(), CreateActivity(), AddExternalExtractors(), CreateWorkerPools(), IndexJobsForWorkers()]
    }
}

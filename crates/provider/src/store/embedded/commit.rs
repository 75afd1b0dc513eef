//! Group commit for the embedded store's writes.
//!
//! A durable redb commit waits for the disk (fsync) and costs CPU of its
//! own (writing the changed pages, freeing the old ones); one per write
//! caps every write-heavy route at one commit per disk flush. Writes are
//! therefore queued to one committer thread, which takes every write queued
//! so far and runs them all, in order, in ONE transaction with one commit.
//! The commit is durable when any write of the batch asked for durability,
//! and a write is answered only after that commit, so a durable write is
//! never acknowledged before it is on disk: a crash loses only writes
//! nobody was told had succeeded. Lazy writes (short-lived data, see the
//! store's `write_lazy`) join the same batches: a sign-in's writes issued
//! together share one transaction instead of one commit each, and a batch
//! of lazy writes alone commits without waiting for the disk.
//!
//! A write that fails (an error or a panic) must leave no trace, and a
//! transaction cannot be rolled back part-way: the shared transaction is
//! then dropped and the batch runs again one transaction per write (the
//! failed one rolled back alone), which is why a write is `FnMut`: it may
//! run twice, each time against the same state. Writes run one batch at a
//! time whichever way, so each sees the ones committed before it.
//! Other requests may read the writes of a batch that ran one by one a
//! flush before they are durable.
//!
//! The committer wakes on the first write queued: writes a request issues
//! together (in one `join!`) were often split over two commits, the
//! committer having woken between them (measured: a completed sign-in's
//! writes in two batches, two flushes, four times in ten). Writes issued
//! inside [`together`] are therefore held until the poll that issued them
//! ends, then queued as one group, which no batch splits.
//!
//! A group of lazy writes whose committer is idle (nothing queued, no batch
//! running) is run and committed by its caller on the spot, under the same
//! lock the committer holds for a batch ([`Route::submit`]): such a commit
//! takes tens of microseconds, and the trip to the committer thread and
//! back cost as much again in wake-ups. Durable writes, and anything that
//! finds the committer busy, still go to the committer thread, which
//! gathers concurrent ones into one flush.
//!
//! A lazy commit is durable with the next durable one, and at the latest
//! [`FLUSH_EVERY`] after it: the committer thread makes every commit still
//! only in memory durable on that period (one empty durable commit), so
//! that what a crash can lose is bounded in time, as with Redis's
//! `appendfsync everysec`, whatever the traffic.

use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, Weak, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, Durability, WriteTransaction};

use super::super::{StoreError, StoreResult};

/// Name of the committer thread.
pub const COMMIT_THREAD: &str = "store-commit";

/// At most this many writes share one flush (a group is never split), so
/// that a long queue does not delay the first caller's answer indefinitely.
const MAX_BATCH: usize = 64;

/// The longest a lazy commit stays in memory only: the committer thread
/// makes the commits not yet durable durable on this period.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Writes queued together: one, or those issued in one poll of [`together`].
type Group = Vec<Box<dyn Job>>;

tokio::task_local! {
    /// The writes issued in the current poll of a [`together`] future, with
    /// where each goes.
    static HELD: RefCell<Vec<(Route, Box<dyn Job>)>>;
}

tokio::task_local! {
    /// Set while a [`lazily`] future is polled.
    static LAZY: ();
}

/// Runs `writes` with every write it issues lazy: answered without waiting
/// for the disk, durable with the next durable commit and at the latest
/// [`FLUSH_EVERY`] later (`store::lazily`).
pub fn lazily<F: Future>(writes: F) -> impl Future<Output = F::Output> {
    LAZY.scope((), writes)
}

/// Ids telling committers apart in [`HELD`] ([`Route::id`]).
static NEXT_COMMITTER: AtomicU64 = AtomicU64::new(0);

/// One queued write and its caller.
trait Job: Send {
    /// Whether its caller waits for the disk.
    fn durable(&self) -> bool;
    /// Runs the write in `txn`; whether it succeeded (its result is kept
    /// for [`Job::answer`]). May be called again, in a new transaction,
    /// after a failure of the batch.
    fn run(&mut self, txn: &WriteTransaction) -> bool;
    /// Answers the caller once the transaction that ran it is durable (or
    /// failed to be).
    fn answer(self: Box<Self>, durable: StoreResult<()>);
}

struct Write<T, F> {
    f: F,
    durable: bool,
    result: Option<StoreResult<T>>,
    caller: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send + 'static,
    F: FnMut(&WriteTransaction) -> StoreResult<T> + Send + 'static,
{
    fn durable(&self) -> bool {
        self.durable
    }

    fn run(&mut self, txn: &WriteTransaction) -> bool {
        // A panic leaves no result from an earlier run behind.
        self.result = None;
        let result = (self.f)(txn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, durable: StoreResult<()>) {
        let result = match self.result {
            Some(result) => durable.and(result),
            // It panicked: its transaction was dropped.
            None => Err(StoreError::Unavailable(
                "embedded store write failed (the committer caught a panic)".into(),
            )),
        };
        // The caller may have gone (request cancelled).
        let _ = self.caller.send(result);
    }
}

/// What the committer has done since the store opened: for benchmarks
/// (commits per sign-in) and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commits {
    /// Transactions committed for batches (one per batch unless a write of
    /// it failed).
    pub batches: u64,
    /// Of those, the ones that waited for the disk.
    pub durable: u64,
    /// Of those, the lazy ones their caller committed on its own thread
    /// (the committer being idle).
    pub by_caller: u64,
    /// Durable commits of nothing, made by the committer thread on its
    /// period ([`FLUSH_EVERY`]) for lazy commits no durable one followed.
    pub flushes: u64,
    /// Writes run (each counted once, however often it ran).
    pub writes: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    durable: AtomicU64,
    by_caller: AtomicU64,
    flushes: AtomicU64,
    writes: AtomicU64,
}

/// What the write lock guards: whether a commit made since the last
/// durable one is still only in memory.
#[derive(Default)]
struct Unflushed(bool);

/// What the committer thread shares with the callers that commit a lazy
/// group themselves.
struct Shared {
    db: Arc<Database>,
    /// Held while a batch runs and commits, by the committer thread or by a
    /// caller: one write transaction at a time, and none begun while redb
    /// would make it wait.
    writing: Mutex<Unflushed>,
    /// Groups sent to the committer thread and not yet taken by it.
    queued: AtomicUsize,
    counters: Counters,
}

impl Shared {
    /// Commits `batch` under `writing` (the caller took it), then releases
    /// the lock and answers the batch's callers.
    fn run(&self, mut writing: MutexGuard<'_, Unflushed>, mut batch: Group) {
        let done = self.commit(&mut writing, &mut batch);
        drop(writing);
        for job in batch {
            job.answer(done.clone());
        }
    }

    /// Runs `batch` in one transaction (each write alone if one fails) and
    /// commits it, durable when one of its writes asks; the batch's outcome.
    /// The caller holds `writing`, which it updates.
    fn commit(&self, unflushed: &mut Unflushed, batch: &mut [Box<dyn Job>]) -> StoreResult<()> {
        let counters = &self.counters;
        // One write that waits for the disk makes the whole batch's commit durable.
        let durability = if batch.iter().any(|job| job.durable()) {
            counters.durable.fetch_add(1, Ordering::Relaxed);
            Durability::Immediate
        } else {
            Durability::None
        };
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let done = match run_together(&self.db, batch, durability) {
            Some(done) => done,
            None => run_one_by_one(&self.db, batch, durability),
        };
        // A durable commit persists every commit before it; a failed one
        // may leave some of its batch's in memory only (`run_one_by_one`).
        unflushed.0 = matches!(durability, Durability::None) || done.is_err();
        done
    }

    /// Makes the commits still in memory only durable (an empty durable
    /// commit persists every commit before it).
    fn flush(&self) {
        let mut writing = lock(&self.writing);
        if !writing.0 {
            return;
        }
        match transact(&self.db, Durability::Immediate, |_| Ok(())) {
            Ok(()) => {
                writing.0 = false;
                self.counters.flushes.fetch_add(1, Ordering::Relaxed);
            }
            // Tried again on the next period; the store's writes report
            // the disk's state themselves.
            Err(err) => tracing::error!(%err, "embedded store: periodic flush failed"),
        }
    }
}

/// `writing`, whatever a panic left in it (a panic while committing leaves
/// the flag at worst set, which costs one flush too many).
fn lock(writing: &Mutex<Unflushed>) -> MutexGuard<'_, Unflushed> {
    writing.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a committer's groups go.
#[derive(Clone)]
struct Route {
    /// Tells committers apart in [`HELD`].
    id: u64,
    queue: mpsc::Sender<Group>,
    shared: Arc<Shared>,
}

impl Route {
    /// Commits `group` at once on this thread when all its writes are lazy
    /// and the committer is idle (nothing queued, nothing committing);
    /// queues it for the committer thread otherwise. A lazy commit takes
    /// tens of microseconds without the disk: handing it to the committer
    /// and back cost as much again in thread wake-ups, on a machine whose
    /// cores are busy hashing passwords (measured: ARCHITECTURE.md,
    /// performance). A durable commit stays on the committer thread, which
    /// gathers concurrent ones into one flush, and so does anything queued
    /// behind a busy committer. Returns false when the committer has
    /// stopped (the group is dropped: its callers are told).
    fn submit(&self, group: Group) -> bool {
        let shared = &self.shared;
        let lazy = group.iter().all(|job| !job.durable());
        if lazy && shared.queued.load(Ordering::Acquire) == 0 {
            let writing = match shared.writing.try_lock() {
                Ok(writing) => Some(writing),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(writing) = writing {
                shared.counters.by_caller.fetch_add(1, Ordering::Relaxed);
                shared.run(writing, group);
                return true;
            }
        }
        shared.queued.fetch_add(1, Ordering::AcqRel);
        if self.queue.send(group).is_err() {
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// The committer thread and its queue; dropping it finishes the queued
/// writes and joins the thread (which releases the database).
pub(super) struct Committer {
    route: Option<Route>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Committer {
    pub(super) fn start(db: Arc<Database>) -> StoreResult<Committer> {
        let (queue, jobs) = mpsc::channel::<Group>();
        let shared = Arc::new(Shared {
            db,
            writing: Mutex::new(Unflushed::default()),
            queued: AtomicUsize::new(0),
            counters: Counters::default(),
        });
        let on_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(COMMIT_THREAD.into())
            .spawn(move || commit_batches(&on_thread, &jobs))
            .map_err(|err| StoreError::Unavailable(format!("cannot start the committer: {err}")))?;
        Ok(Committer {
            route: Some(Route {
                id: NEXT_COMMITTER.fetch_add(1, Ordering::Relaxed),
                queue,
                shared: shared.clone(),
            }),
            thread: Some(thread),
            shared,
        })
    }

    pub(super) fn commits(&self) -> Commits {
        let read = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let counters = &self.shared.counters;
        Commits {
            batches: read(&counters.batches),
            durable: read(&counters.durable),
            by_caller: read(&counters.by_caller),
            flushes: read(&counters.flushes),
            writes: read(&counters.writes),
        }
    }

    /// A handle that runs a transaction of its own between the committer's
    /// batches, for work too long to hold up the queue (the periodic purge);
    /// it does not keep the store open.
    pub(super) fn exclusive(&self) -> Exclusive {
        Exclusive(Arc::downgrade(&self.shared))
    }

    /// Runs `f` in a write transaction and answers once its commit is done,
    /// and on disk when `durable`; when `f` fails, none of its changes is
    /// kept. `f` may run twice (see the module's documentation). A lazy
    /// write may run on the calling thread ([`Route::submit`]).
    pub(super) async fn write<T, F>(&self, durable: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        let (caller, answered) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Box<dyn Job> = Box::new(Write {
            f,
            durable: durable && !in_lazily(),
            result: None,
            caller,
        });
        let closed = || StoreError::Unavailable("embedded store is closed".into());
        let route = self.route.as_ref().ok_or_else(closed)?;
        if holding() {
            // Submitted when the poll ends (dropped unqueued if the
            // committer stops meanwhile: the answer says so).
            HELD.with(|held| held.borrow_mut().push((route.clone(), job)));
        } else if !route.submit(vec![job]) {
            return Err(closed());
        }
        answered.await.map_err(|_| {
            StoreError::Unavailable("embedded store write failed (the committer stopped)".into())
        })?
    }

    /// Finishes the queued writes and stops the thread; writes after this
    /// are refused ("closed").
    pub(super) fn close(&mut self) {
        drop(self.route.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.close();
    }
}

/// See [`Committer::exclusive`].
#[derive(Clone)]
pub(super) struct Exclusive(Weak<Shared>);

impl Exclusive {
    /// Runs `f` in a durable transaction of its own, waiting for the
    /// committer's batch in progress; `None` once the store is closed.
    pub(super) fn transact<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> StoreResult<T>,
    ) -> Option<StoreResult<T>> {
        let shared = self.0.upgrade()?;
        let mut writing = lock(&shared.writing);
        let done = transact(&shared.db, Durability::Immediate, f);
        if done.is_ok() {
            writing.0 = false;
        }
        Some(done)
    }
}

/// Runs `writes`, queuing the writes it issues in each of its polls as one
/// group, which the committer runs in one batch (see the module's
/// documentation). Inside another `together`, the outer one queues them.
pub fn together<F: Future>(writes: F) -> impl Future<Output = F::Output> {
    Together {
        writes: Box::pin(writes),
    }
}

struct Together<F> {
    writes: Pin<Box<F>>,
}

impl<F: Future> Future for Together<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let writes = self.get_mut().writes.as_mut();
        if holding() {
            return writes.poll(cx);
        }
        let (polled, held) = HELD.sync_scope(RefCell::new(Vec::new()), || {
            let polled = writes.poll(cx);
            (polled, HELD.with(RefCell::take))
        });
        queue_held(held);
        polled
    }
}

/// Whether this task is inside [`together`] (its writes are held).
fn holding() -> bool {
    HELD.try_with(|_| ()).is_ok()
}

/// Whether this task is inside [`lazily`] (its writes do not wait for the disk).
fn in_lazily() -> bool {
    LAZY.try_with(|_| ()).is_ok()
}

/// Submits the writes held in one poll, one group per committer, in the
/// order they were issued.
fn queue_held(held: Vec<(Route, Box<dyn Job>)>) {
    let mut groups: Vec<(Route, Group)> = Vec::new();
    for (route, job) in held {
        match groups.iter_mut().find(|(to, _)| to.id == route.id) {
            Some((_, group)) => group.push(job),
            None => groups.push((route, vec![job])),
        }
    }
    for (route, group) in groups {
        // A stopped committer drops them: their callers are told.
        route.submit(group);
    }
}

/// One write transaction with `durability`, committed when `f` succeeds.
pub(super) fn transact<T>(
    db: &Database,
    durability: Durability,
    f: impl FnOnce(&WriteTransaction) -> StoreResult<T>,
) -> StoreResult<T> {
    let txn = begin(db, durability)?;
    let out = f(&txn)?;
    txn.commit()?;
    Ok(out)
}

/// A write transaction that commits with `durability`.
fn begin(db: &Database, durability: Durability) -> StoreResult<WriteTransaction> {
    let mut txn = db.begin_write()?;
    txn.set_durability(durability)?;
    Ok(txn)
}

/// Runs `job` in `txn`; false when it failed or panicked.
fn run_caught(job: &mut Box<dyn Job>, txn: &WriteTransaction) -> bool {
    catch_unwind(AssertUnwindSafe(|| job.run(txn))).unwrap_or(false)
}

/// The committer thread: runs the groups queued, and flushes on the
/// [`FLUSH_EVERY`] period.
fn commit_batches(shared: &Shared, groups: &mpsc::Receiver<Group>) {
    let mut next_flush = Instant::now() + FLUSH_EVERY;
    loop {
        let now = Instant::now();
        if now >= next_flush {
            shared.flush();
            next_flush = now + FLUSH_EVERY;
        }
        let mut batch = match groups.recv_timeout(next_flush.saturating_duration_since(now)) {
            Ok(group) => group,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let writing = lock(&shared.writing);
        let mut taken = 1;
        while batch.len() < MAX_BATCH {
            match groups.try_recv() {
                Ok(group) => {
                    batch.extend(group);
                    taken += 1;
                }
                Err(_) => break,
            }
        }
        shared.queued.fetch_sub(taken, Ordering::AcqRel);
        shared.run(writing, batch);
    }
}

/// Runs the whole batch in one transaction and commits it; `None` when a
/// write failed (the transaction is dropped, nothing of it kept).
fn run_together(
    db: &Database,
    batch: &mut [Box<dyn Job>],
    durability: Durability,
) -> Option<StoreResult<()>> {
    let txn = match begin(db, durability) {
        Ok(txn) => txn,
        Err(err) => return Some(Err(err)),
    };
    if !batch.iter_mut().all(|job| run_caught(job, &txn)) {
        return None;
    }
    Some(txn.commit().map_err(StoreError::from))
}

/// Runs each write of the batch in its own transaction (a failed one rolled
/// back alone); all but the last commit without waiting for the disk, and
/// one commit with the batch's `durability` at the end makes them all
/// durable when it is (redb persists earlier non-durable commits with the
/// next durable one).
fn run_one_by_one(
    db: &Database,
    batch: &mut [Box<dyn Job>],
    durability: Durability,
) -> StoreResult<()> {
    for job in batch.iter_mut() {
        let txn = begin(db, Durability::None)?;
        if run_caught(job, &txn) {
            txn.commit()?;
        }
    }
    match durability {
        Durability::None => Ok(()),
        _ => transact(db, durability, |_| Ok(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};

    const T: TableDefinition<u64, u64> = TableDefinition::new("t");

    fn open(path: &std::path::Path) -> (Arc<Database>, Committer) {
        let db = Arc::new(Database::create(path).unwrap());
        let txn = db.begin_write().unwrap();
        txn.open_table(T).unwrap();
        txn.commit().unwrap();
        let committer = Committer::start(db.clone()).unwrap();
        (db, committer)
    }

    fn stored(db: &Database) -> Vec<u64> {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(T).unwrap();
        table
            .iter()
            .unwrap()
            .map(|row| row.unwrap().0.value())
            .collect()
    }

    /// Writes `n` for each `n` of `0..count` concurrently, durable when
    /// `durable(n)`, every seventh failing after writing; checks the
    /// answers and returns the values that must be stored.
    async fn write_concurrently(
        committer: &Arc<Committer>,
        count: u64,
        durable: fn(u64) -> bool,
    ) -> Vec<u64> {
        let writes = (0..count).map(|n| {
            let committer = committer.clone();
            tokio::spawn(async move {
                committer
                    .write(durable(n), move |txn| {
                        txn.open_table(T)?.insert(n, n)?;
                        if n % 7 == 3 {
                            return Err(StoreError::Conflict("test".into()));
                        }
                        Ok(n)
                    })
                    .await
            })
        });
        for (n, write) in (0..).zip(writes.collect::<Vec<_>>()) {
            match write.await.unwrap() {
                Ok(value) => assert_eq!(value, n),
                Err(err) => {
                    assert_eq!(n % 7, 3, "write {n}: {err}");
                    assert_eq!(err, StoreError::Conflict("test".into()));
                }
            }
        }
        (0..count).filter(|n| n % 7 != 3).collect()
    }

    /// What the committer did between two readings of its counts.
    fn since(before: Commits, after: Commits) -> Commits {
        Commits {
            batches: after.batches - before.batches,
            durable: after.durable - before.durable,
            by_caller: after.by_caller - before.by_caller,
            flushes: after.flushes - before.flushes,
            writes: after.writes - before.writes,
        }
    }

    fn reopened(dir: &tempfile::TempDir) -> Vec<u64> {
        stored(&Database::create(dir.path().join("t.redb")).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_flushes_and_a_failed_one_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let committer = Arc::new(committer);
        let expected = write_concurrently(&committer, 200, |_| true).await;
        assert_eq!(stored(&db), expected);

        // Answered writes are on disk: the file reopened (after the
        // committer released it) holds them.
        drop(committer);
        drop(db);
        assert_eq!(reopened(&dir), expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lazy_writes_share_batches_with_durable_ones_and_are_readable_when_answered() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let committer = Arc::new(committer);
        // Every third write lazy: batches of lazy writes alone, mixed ones,
        // and mixed ones run one by one (a write of theirs failed).
        let mut expected = write_concurrently(&committer, 120, |n| n % 3 != 0).await;
        let insert =
            |n: u64| move |txn: &WriteTransaction| Ok(txn.open_table(T)?.insert(n, n).map(drop)?);
        // A lazy write alone is answered once readable.
        assert_eq!(committer.write(false, insert(500)).await, Ok(()));
        expected.push(500);
        assert_eq!(stored(&db), expected);

        // The file reopened holds them all. (A clean close flushes lazy
        // commits too; that a durable answer survives `kill -9` is checked
        // with a real provider process in tests/fault_injection.rs.)
        committer.write(true, insert(501)).await.unwrap();
        expected.push(501);
        drop(committer);
        drop(db);
        assert_eq!(reopened(&dir), expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_commits_together_unless_a_write_fails_then_each_runs_alone() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let committer = Arc::new(committer);
        let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..21).map(|_| AtomicUsize::new(0)).collect());
        // Write `n` (failing after writing when `fails`), counting its runs.
        let write = |n: u64, fails: bool| {
            let (committer, runs) = (committer.clone(), runs.clone());
            tokio::spawn(async move {
                committer
                    .write(true, move |txn| {
                        runs[n as usize].fetch_add(1, Ordering::SeqCst);
                        txn.open_table(T)?.insert(n, n)?;
                        if fails {
                            return Err(StoreError::Conflict("test".into()));
                        }
                        Ok(n)
                    })
                    .await
            })
        };
        // A write that holds the committer (until told to go on) while the
        // next writes queue up behind it.
        let hold_committer = || {
            let (hold, held) = std::sync::mpsc::channel::<()>();
            let committer = committer.clone();
            let holder = tokio::spawn(async move {
                committer
                    .write(true, move |_| {
                        let _ = held.recv_timeout(std::time::Duration::from_secs(5));
                        Ok(0)
                    })
                    .await
            });
            (hold, holder)
        };
        let (hold, holder) = hold_committer();
        let wait_queued = || tokio::time::sleep(std::time::Duration::from_millis(200));
        // In order: each write is queued before the next is spawned.
        let queued = || tokio::time::sleep(std::time::Duration::from_millis(20));
        wait_queued().await;
        // A batch of ten writes without failure: each runs once.
        let mut clean = Vec::new();
        for n in 1..=10 {
            clean.push(write(n, false));
            queued().await;
        }
        wait_queued().await;
        hold.send(()).unwrap();
        holder.await.unwrap().unwrap();
        for (n, w) in (1..).zip(clean) {
            assert_eq!(w.await.unwrap().unwrap(), n);
        }
        assert!((1..=10).all(|n| runs[n].load(Ordering::SeqCst) == 1));

        // The same with the fifth write failing after writing: the others
        // are kept (each ran again alone), the failed one left no trace.
        let (hold, holder) = hold_committer();
        wait_queued().await;
        let mut mixed = Vec::new();
        for n in 11..=20 {
            mixed.push(write(n, n == 15));
            queued().await;
        }
        wait_queued().await;
        hold.send(()).unwrap();
        holder.await.unwrap().unwrap();
        for (n, w) in (11..).zip(mixed) {
            match w.await.unwrap() {
                Ok(value) => assert_eq!(value, n),
                Err(err) => assert_eq!((n, err), (15, StoreError::Conflict("test".into()))),
            }
        }
        // Up to the failure they ran together, then each alone.
        assert!((11..=15).all(|n| runs[n].load(Ordering::SeqCst) == 2));
        assert!((16..=20).all(|n| runs[n].load(Ordering::SeqCst) == 1));
        let expected: Vec<u64> = (1..=20).filter(|&n| n != 15).collect();
        assert_eq!(stored(&db), expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_issued_together_are_committed_in_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let insert = |n: u64, durable: bool| {
            committer.write(durable, move |txn| {
                Ok(txn.open_table(T)?.insert(n, n).map(drop)?)
            })
        };
        let before = committer.commits();
        // Five writes, one of them durable, in one join (the inner
        // `together` leaves them to the outer one): one durable batch.
        let (a, b, c, (d, e)) = together(async {
            tokio::join!(
                insert(1, false),
                insert(2, false),
                insert(3, true),
                together(async { tokio::join!(insert(4, false), insert(5, false)) })
            )
        })
        .await;
        assert_eq!([a, b, c, d, e], [Ok(()), Ok(()), Ok(()), Ok(()), Ok(())]);
        let after = committer.commits();
        let d = since(before, after);
        assert_eq!((d.batches, d.durable, d.writes), (1, 1, 5));
        // Lazy ones alone: a batch that does not wait for the disk.
        let (f, g) = together(async { tokio::join!(insert(6, false), insert(7, false)) }).await;
        assert_eq!([f, g], [Ok(()), Ok(())]);
        let d = since(after, committer.commits());
        assert_eq!((d.batches, d.durable), (1, 0));
        assert_eq!(stored(&db), (1..=7).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lazy_write_is_committed_by_its_caller_only_while_the_committer_is_idle() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let committer = Arc::new(committer);
        // Writes `n` and says on which thread it ran.
        let insert = |n: u64, durable: bool| {
            let committer = committer.clone();
            async move {
                committer
                    .write(durable, move |txn| {
                        txn.open_table(T)?.insert(n, n)?;
                        Ok(std::thread::current().name().map(str::to_owned))
                    })
                    .await
            }
        };
        let before = committer.commits();
        let lazy = insert(1, false).await.unwrap();
        assert_ne!(lazy.as_deref(), Some(COMMIT_THREAD));
        let durable = insert(2, true).await.unwrap();
        assert_eq!(durable.as_deref(), Some(COMMIT_THREAD));
        let after = committer.commits();
        let d = since(before, after);
        assert_eq!((d.batches, d.durable, d.by_caller), (2, 1, 1));
        // While a batch runs (its lock held here), a lazy write does not
        // begin a transaction of its own: it waits for the committer.
        let writing = lock(&committer.shared.writing);
        let waiting = tokio::spawn(insert(3, false));
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!waiting.is_finished());
        drop(writing);
        let queued = waiting.await.unwrap().unwrap();
        assert_eq!(queued.as_deref(), Some(COMMIT_THREAD));
        assert_eq!(committer.commits().by_caller, after.by_caller);
        assert_eq!(stored(&db), vec![1, 2, 3]);
    }

    /// Writes `n`, waiting for the disk unless inside [`lazily`].
    fn insert_durably(committer: &Committer, n: u64) -> impl Future<Output = StoreResult<()>> {
        committer.write(true, move |txn| {
            Ok(txn.open_table(T)?.insert(n, n).map(drop)?)
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lazy_commits_are_flushed_on_the_period_unless_a_durable_one_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, committer) = open(&dir.path().join("t.redb"));
        let insert = |n| insert_durably(&committer, n);
        let periods = || tokio::time::sleep(FLUSH_EVERY * 2 + Duration::from_millis(100));
        let before = committer.commits();
        lazily(insert(1)).await.unwrap();
        periods().await;
        let flushed = committer.commits();
        assert_eq!(
            since(before, flushed).flushes,
            1,
            "a lazy commit alone is flushed once"
        );
        lazily(insert(2)).await.unwrap();
        insert(3).await.unwrap();
        periods().await;
        let d = since(flushed, committer.commits());
        assert_eq!(
            (d.durable, d.flushes),
            (1, 0),
            "the durable commit covered the lazy one"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_issued_lazily_do_not_wait_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let insert = |n| insert_durably(&committer, n);
        let before = committer.commits();
        lazily(insert(1)).await.unwrap();
        let after = committer.commits();
        let d = since(before, after);
        assert_eq!((d.batches, d.durable), (1, 0));
        // Outside the scope a durable write waits for the disk again.
        insert(2).await.unwrap();
        assert_eq!(committer.commits().durable - after.durable, 1);
        assert_eq!(stored(&db), vec![1, 2]);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_committer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let failed = committer
            .write(true, |txn| -> StoreResult<()> {
                txn.open_table(T)?.insert(1, 1)?;
                panic!("a bug in a write");
            })
            .await;
        assert!(
            matches!(&failed, Err(StoreError::Unavailable(why)) if why.contains("committer")),
            "{failed:?}"
        );
        committer
            .write(true, |txn| {
                Ok(txn.open_table(T)?.insert(2, 2).map(|_| ())?)
            })
            .await
            .unwrap();
        assert_eq!(stored(&db), vec![2]);
    }
}

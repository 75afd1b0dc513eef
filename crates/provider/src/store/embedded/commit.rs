//! Group commit for the embedded store's durable writes.
//!
//! A durable redb commit waits for the disk (fsync); one at a time, they
//! cap every write-heavy route at one commit per disk flush. Durable writes
//! are therefore queued to one committer thread, which takes every write
//! queued so far and runs each in its own transaction (same isolation and
//! atomicity as before: a write that fails is rolled back alone). All but
//! the last commit without waiting for the disk; the last one waits, which
//! makes the whole batch durable (redb persists earlier non-durable commits
//! with the next durable one). Only then is any caller answered, so a write
//! is never acknowledged before it is on disk: a crash loses only writes
//! nobody was told had succeeded. Other requests may read a batch's writes a
//! flush earlier than they are durable, as they may read `write_lazy` ones.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use redb::{Database, Durability, WriteTransaction};

use super::super::{StoreError, StoreResult};

/// Name of the committer thread.
pub const COMMIT_THREAD: &str = "store-commit";

/// At most this many writes share one flush, so that a long queue does not
/// delay the first caller's answer indefinitely.
const MAX_BATCH: usize = 64;

/// One queued write: runs its transaction with the durability it is given
/// and returns whether it committed and how to answer its caller.
type Job = Box<dyn FnOnce(&Database, Durability) -> Ran + Send>;

struct Ran {
    committed: bool,
    /// Called once the batch is durable (or failed to be), with that outcome.
    answer: Box<dyn FnOnce(StoreResult<()>) + Send>,
}

/// The committer thread and its queue; dropping it finishes the queued
/// writes and joins the thread (which releases the database).
pub(super) struct Committer {
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub(super) fn start(db: Arc<Database>) -> StoreResult<Committer> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name(COMMIT_THREAD.into())
            .spawn(move || commit_batches(&db, &jobs))
            .map_err(|err| StoreError::Unavailable(format!("cannot start the committer: {err}")))?;
        Ok(Committer {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Runs `f` in its own write transaction on the committer thread and
    /// answers once its commit is durable; aborts (drops) the transaction
    /// when `f` fails.
    pub(super) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |db, durability| {
            let result = transact(db, durability, f);
            Ran {
                committed: result.is_ok(),
                answer: Box::new(move |durable| {
                    // The caller may have gone (request cancelled).
                    let _ = answer.send(durable.and(result));
                }),
            }
        });
        let closed = || StoreError::Unavailable("embedded store is closed".into());
        self.queue
            .as_ref()
            .ok_or_else(closed)?
            .send(job)
            .map_err(|_| closed())?;
        answered.await.map_err(|_| {
            StoreError::Unavailable("embedded store write failed (the committer stopped)".into())
        })?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One write transaction with `durability`, committed when `f` succeeds.
pub(super) fn transact<T>(
    db: &Database,
    durability: Durability,
    f: impl FnOnce(&WriteTransaction) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut txn = db.begin_write()?;
    txn.set_durability(durability)
        .map_err(|err| StoreError::Unavailable(format!("embedded store: {err}")))?;
    let out = f(&txn)?;
    txn.commit()?;
    Ok(out)
}

fn commit_batches(db: &Database, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter().take(MAX_BATCH - 1));
        let last = batch.len() - 1;
        let mut answers = Vec::with_capacity(batch.len());
        // Whether a commit of this batch is not durable yet.
        let mut unflushed = false;
        for (i, job) in batch.into_iter().enumerate() {
            let durability = if i == last {
                Durability::Immediate
            } else {
                Durability::None
            };
            // A panicking write is rolled back (its transaction dropped) and
            // its caller sees the committer's failure; the others go on.
            let Ok(ran) = catch_unwind(AssertUnwindSafe(|| job(db, durability))) else {
                continue;
            };
            if ran.committed {
                unflushed = i != last;
            }
            answers.push(ran.answer);
        }
        let durable = if unflushed {
            transact(db, Durability::Immediate, |_| Ok(()))
        } else {
            Ok(())
        };
        for answer in answers {
            answer(durable.clone());
        }
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_flushes_and_a_failed_one_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let committer = Arc::new(committer);
        let writes = (0..200u64).map(|n| {
            let committer = committer.clone();
            tokio::spawn(async move {
                committer
                    .write(move |txn| {
                        txn.open_table(T)?.insert(n, n)?;
                        // Every seventh write fails after writing.
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
        let expected: Vec<u64> = (0..200).filter(|n| n % 7 != 3).collect();
        assert_eq!(stored(&db), expected);

        // Answered writes are on disk: the file reopened (after the
        // committer released it) holds them.
        drop(committer);
        drop(db);
        let reopened = Database::create(dir.path().join("t.redb")).unwrap();
        assert_eq!(stored(&reopened), expected);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_committer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (db, committer) = open(&dir.path().join("t.redb"));
        let failed = committer
            .write(|txn| -> StoreResult<()> {
                txn.open_table(T)?.insert(1, 1)?;
                panic!("a bug in a write");
            })
            .await;
        assert!(
            matches!(&failed, Err(StoreError::Unavailable(why)) if why.contains("committer")),
            "{failed:?}"
        );
        committer
            .write(|txn| Ok(txn.open_table(T)?.insert(2, 2).map(|_| ())?))
            .await
            .unwrap();
        assert_eq!(stored(&db), vec![2]);
    }
}

//! Password hashing: Argon2id at the OWASP minimum (m = 19 MiB, t = 2, p = 1),
//! stored as a PHC string so parameters can be raised later without breaking
//! existing hashes.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand_core::OsRng;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, mpsc};
use zeroize::Zeroize;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashing of an in-memory password cannot fail")
        .to_string()
}

/// Checks `password` against a stored PHC hash, with the parameters, salt
/// and algorithm the hash names; the comparison is constant time
/// (`password_hash::Output`). A malformed stored hash never verifies.
///
/// Same computation as the argon2 crate's `verify_password`, but in working
/// memory reused from one verification to the next: allocating and faulting
/// in 19 MiB per sign-in cost more system time than the rest of a sign-in.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let hashed = with_working_memory(blocks, |memory| {
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            memory,
        )
    });
    let matches = hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == expected);
    out.zeroize();
    matches
}

thread_local! {
    /// Argon2 working memory of this thread, kept for its next verification
    /// (verifications run on [`VERIFIER_THREADS`], one per core). Wiped
    /// after every use, since its blocks are derived from the password.
    static WORKING_MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hashes with more memory than the provider's own parameters (set by other
/// means) get working memory of their own, freed after use: a thread keeps
/// at most the provider's 19 MiB.
fn with_working_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let wiped = |memory: &mut [Block]| memory.iter_mut().for_each(Zeroize::zeroize);
    if blocks > argon2().params().block_count() {
        let mut memory = vec![Block::default(); blocks];
        let result = f(&mut memory);
        wiped(&mut memory);
        return result;
    }
    WORKING_MEMORY.with_borrow_mut(|memory| {
        if memory.len() != blocks {
            *memory = vec![Block::default(); blocks];
        }
        let result = f(memory);
        wiped(memory);
        result
    })
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Spends the same time as a real verification, so that an unknown user name
/// cannot be told from a wrong password by timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("tessera-dummy-password"));
    let _ = verify(password, phc);
}

/// Name of the threads that verify passwords (one per core).
pub const VERIFIER_THREADS: &str = "password-verify";

/// A verification waiting for a verifier thread.
struct Verification {
    password: secrecy::SecretString,
    phc: Option<String>,
    answer: tokio::sync::oneshot::Sender<bool>,
}

/// The queue of the verifier threads, started on first use: one thread per
/// core, each taking the next verification as soon as it finishes one. More
/// at once would not finish sooner (each is CPU-bound) but would thrash the
/// caches with 19 MiB each; a burst of sign-ins waits in order and costs no
/// memory beyond the queue. Dedicated threads rather than Tokio's blocking
/// pool, so that no async worker has to run between two verifications.
static VERIFICATIONS: LazyLock<mpsc::Sender<Verification>> = LazyLock::new(|| {
    let (queue, jobs) = mpsc::channel::<Verification>();
    let jobs = Arc::new(Mutex::new(jobs));
    for n in 0..cores() {
        let jobs = jobs.clone();
        std::thread::Builder::new()
            .name(format!("{VERIFIER_THREADS}-{n}"))
            .spawn(move || verify_queued(&jobs))
            .expect("cannot start a password verifier thread");
    }
    queue
});

fn verify_queued(jobs: &Mutex<mpsc::Receiver<Verification>>) {
    loop {
        let next = jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(job) = next else { return };
        #[cfg(test)]
        let running = tests::Running::start();
        let password = secrecy::ExposeSecret::expose_secret(&job.password);
        let verified = match &job.phc {
            Some(phc) => verify(password, phc),
            None => {
                verify_dummy(password);
                false
            }
        };
        #[cfg(test)]
        drop(running);
        // The caller may have gone (request cancelled): nothing to answer.
        let _ = job.answer.send(verified);
    }
}

/// `verify` (or `verify_dummy` for an unknown user, answering false) on the
/// verifier threads: a verification costs tens of milliseconds of CPU, which
/// would otherwise stall the async workers serving every other request.
pub async fn verify_off_thread(password: secrecy::SecretString, phc: Option<String>) -> bool {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let queued = VERIFICATIONS.send(Verification {
        password,
        phc,
        answer,
    });
    queued.is_ok() && answered.await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_uses_argon2id_owasp_parameters_and_verifies() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert!(!verify("correct horse", "not a phc string"));
        assert_ne!(h, hash("correct horse"), "salted");
    }

    #[test]
    fn verify_follows_the_parameters_and_algorithm_the_hash_names() {
        // Hashes made with other parameters (older or raised ones) and
        // another Argon2 variant still verify, with working memory of
        // another size than the pooled one in between.
        let other = |algorithm, m, t, p| {
            let params = Params::new(m, t, p, None).unwrap();
            Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"pw", &SaltString::generate(&mut OsRng))
                .unwrap()
                .to_string()
        };
        for phc in [
            other(Algorithm::Argon2i, 8 * 1024, 1, 2),
            other(Algorithm::Argon2id, 4 * 1024, 3, 1),
            // More memory than the provider's own parameters: a buffer of
            // its own, not kept by the thread.
            other(Algorithm::Argon2id, 32 * 1024, 1, 1),
            hash("pw"),
        ] {
            assert!(verify("pw", &phc), "{phc}");
            assert!(!verify("pW", &phc), "{phc}");
        }
        // A hash whose output was altered, or without output, never verifies.
        let good = hash("pw");
        let (head, digest) = good.rsplit_once('$').unwrap();
        let flipped = if digest.starts_with('A') { "B" } else { "A" };
        assert!(!verify("pw", &format!("{head}${flipped}{}", &digest[1..])));
        assert!(!verify("pw", head));
    }

    use std::sync::atomic::{AtomicUsize, Ordering};

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// Counts verifications running on the blocking pool.
    pub(super) struct Running;

    impl Running {
        pub(super) fn start() -> Running {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(now, Ordering::SeqCst);
            Running
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_verifications_at_once_than_cores() {
        let phc = hash("right");
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let burst = (0..4 * cores).map(|i| {
            let phc = phc.clone();
            tokio::spawn(async move {
                let guess = if i % 2 == 0 { "right" } else { "wrong" };
                (
                    i,
                    verify_off_thread(guess.to_owned().into(), Some(phc)).await,
                )
            })
        });
        for handle in burst.collect::<Vec<_>>() {
            let (i, ok) = handle.await.unwrap();
            assert_eq!(ok, i % 2 == 0, "verification {i}");
        }
        let peak = PEAK.load(Ordering::SeqCst);
        assert!(peak >= 1 && peak <= cores, "peak {peak}, cores {cores}");
    }

    #[tokio::test]
    async fn off_thread_verification_answers_like_verify() {
        let phc = hash("right");
        assert!(verify_off_thread("right".to_owned().into(), Some(phc.clone())).await);
        assert!(!verify_off_thread("wrong".to_owned().into(), Some(phc)).await);
        assert!(!verify_off_thread("right".to_owned().into(), None).await);
    }
}

//! Password hashing: Argon2id at the OWASP minimum (m = 19 MiB, t = 2, p = 1),
//! stored as a PHC string so parameters can be raised later without breaking
//! existing hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;
use std::sync::OnceLock;

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

/// Checks `password` against a stored PHC hash; the comparison is constant
/// time (done by the argon2 crate). A malformed stored hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, so that an unknown user name
/// cannot be told from a wrong password by timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("tessera-dummy-password"));
    let _ = verify(password, phc);
}

/// How many verifications run at once: one per core. More would not finish
/// sooner (each is CPU-bound) but would thrash the caches with 19 MiB each,
/// and unbounded, a burst of sign-ins could allocate memory without limit.
/// Waiting callers queue in order.
static VERIFIERS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// `verify` (or `verify_dummy` for an unknown user, answering false) on
/// Tokio's blocking pool, at most [`VERIFIERS`] at a time: a verification
/// costs tens of milliseconds of CPU, which would otherwise stall the async
/// workers serving every other request.
pub async fn verify_off_thread(password: secrecy::SecretString, phc: Option<String>) -> bool {
    let Ok(_permit) = VERIFIERS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        #[cfg(test)]
        let _running = tests::Running::start();
        let password = secrecy::ExposeSecret::expose_secret(&password);
        match phc {
            Some(phc) => verify(password, &phc),
            None => {
                verify_dummy(password);
                false
            }
        }
    })
    .await
    .unwrap_or(false)
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

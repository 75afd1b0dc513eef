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

/// `verify` (or `verify_dummy` for an unknown user, answering false) on
/// Tokio's blocking pool: a verification costs tens of milliseconds of CPU,
/// which would otherwise stall the async workers serving every other request.
pub async fn verify_off_thread(password: secrecy::SecretString, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
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

    #[tokio::test]
    async fn off_thread_verification_answers_like_verify() {
        let phc = hash("right");
        assert!(verify_off_thread("right".to_owned().into(), Some(phc.clone())).await);
        assert!(!verify_off_thread("wrong".to_owned().into(), Some(phc)).await);
        assert!(!verify_off_thread("right".to_owned().into(), None).await);
    }
}

//! Small cryptographic helpers shared by the provider: random tokens, token
//! hashing, constant-time comparison and authenticated encryption of secrets
//! at rest (AES-256-GCM).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand_core::{OsRng, RngCore};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    OsRng.fill_bytes(&mut buf);
    buf
}

/// A URL-safe random token carrying `bytes` bytes of entropy (32 → 43 chars).
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// How tokens, cookies and codes are keyed in the store (hex SHA-256): the
/// store never sees the values themselves.
pub fn token_hash(value: &str) -> String {
    crate::store::hash_token(value.as_bytes())
}

/// SHA-256, base64url without padding (PKCE S256).
pub fn sha256_b64url(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Constant-time equality of two strings (length is not secret).
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Why a secret key or sealed value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the secret key must be 32 bytes encoded in base64")]
    BadKey,
    #[error("sealed value is malformed or was not sealed with this key")]
    Open,
}

const SEAL_V1: u8 = 1;

/// The key that encrypts TOTP secrets at rest. Its `Debug` never shows it.
pub struct SecretKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        SecretKey(SecretBox::new(Box::new(k)))
    }

    /// Parses the base64 (standard or URL-safe) form used in configuration.
    pub fn from_base64(s: &str) -> Result<Self, SealError> {
        let s = s.trim();
        let raw = STANDARD
            .decode(s)
            .or_else(|_| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')))
            .map_err(|_| SealError::BadKey)?;
        let k: [u8; 32] = raw.try_into().map_err(|_| SealError::BadKey)?;
        Ok(SecretKey(SecretBox::new(Box::new(k))))
    }

    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.expose_secret()))
    }

    /// Encrypts `plain`, binding it to `context` (for example the user id) so
    /// that a sealed value copied to another record does not open.
    pub fn seal(&self, plain: &[u8], context: &str) -> Vec<u8> {
        let cipher = Aes256Gcm::new_from_slice(self.0.expose_secret()).expect("32-byte key");
        let nonce_bytes = random_bytes(12);
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ct = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption cannot fail for in-memory buffers");
        // Layout: version byte, 12-byte nonce, ciphertext with tag.
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        out
    }

    /// A keyed hash (HMAC-SHA-256, base64url) of `parts` for `purpose`: for
    /// stored values that must be looked up but that a copy of the store
    /// alone must not let anyone test guesses against (recovery codes).
    /// Parts are length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    pub fn keyed_hash(&self, purpose: &str, parts: &[&str]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.expose_secret());
        let mut ctx = ring::hmac::Context::with_key(&key);
        for part in std::iter::once(purpose).chain(parts.iter().copied()) {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        b64url(ctx.sign().as_ref())
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<SecretBox<Vec<u8>>, SealError> {
        let Some((&SEAL_V1, raw)) = sealed.split_first() else {
            return Err(SealError::Open);
        };
        if raw.len() < 12 + 16 {
            return Err(SealError::Open);
        }
        let (nonce, ct) = raw.split_at(12);
        let cipher = Aes256Gcm::new_from_slice(self.0.expose_secret()).expect("32-byte key");
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open)?;
        Ok(SecretBox::new(Box::new(plain)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_only_with_same_key_and_context() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"JBSWY3DPEHPK3PXP", "alice");
        assert!(!sealed.windows(8).any(|w| w == b"JBSWY3DP"));
        assert_eq!(
            key.open(&sealed, "alice").unwrap().expose_secret(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert_eq!(key.open(&sealed, "bob").unwrap_err(), SealError::Open);
        assert_eq!(
            SecretKey::generate().open(&sealed, "alice").unwrap_err(),
            SealError::Open
        );
        assert_eq!(key.open(&[1, 0, 0], "alice").unwrap_err(), SealError::Open);
        assert_eq!(key.open(b"", "alice").unwrap_err(), SealError::Open);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&tampered, "alice").unwrap_err(), SealError::Open);
    }

    #[test]
    fn key_round_trips_through_base64_and_rejects_wrong_length() {
        let key = SecretKey::generate();
        let text = key.to_base64();
        let again = SecretKey::from_base64(text.expose_secret()).unwrap();
        let sealed = key.seal(b"x", "c");
        assert!(again.open(&sealed, "c").is_ok());
        assert_eq!(
            SecretKey::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(
            SecretKey::from_base64("!!!").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(format!("{key:?}"), "SecretKey([REDACTED])");
    }

    #[test]
    fn token_hash_is_stable_and_ct_eq_compares_exactly() {
        assert_eq!(
            sha256_b64url("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(token_hash("abc").len(), 64);
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
        assert_eq!(random_token(32).len(), 43);
    }
}

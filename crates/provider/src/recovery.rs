//! Recovery codes: ten single-use codes shown once, stored hashed.
//!
//! A code is 10 characters from an alphabet without look-alikes, shown as
//! `xxxxx-xxxxx`. Typed input is normalised (case, spaces, dashes) before
//! hashing, so `ABCDE FGHJK` works as well as `abcde-fghjk`.
//!
//! The stored hash is keyed with the provider's secret key and bound to the
//! user: a code has about 50 bits, so plain hashes in a copy of the store
//! (a backup, a Redis dump) could all be recovered in one offline pass, for
//! every user at once, while the TOTP secrets beside them stay sealed.

use rand_core::{OsRng, RngCore};
use secrecy::SecretString;

use crate::crypto::SecretKey;
use crate::store::{NewAuditEvent, Store, StoreResult};

pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const LEN: usize = 10;

/// Strips separators and lower-cases; `None` if it cannot be a recovery code.
pub fn normalise(input: &str) -> Option<String> {
    let s: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (s.len() == LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

fn hash(key: &SecretKey, uid: &str, normalised: &str) -> String {
    key.keyed_hash("recovery-code", &[uid, normalised])
}

/// The unkeyed hash of sets generated before keyed hashes: still accepted,
/// so that nobody's codes stop working; regenerating replaces them.
fn legacy_hash(normalised: &str) -> String {
    crate::crypto::token_hash(&format!("recovery:{normalised}"))
}

fn one_code() -> String {
    let mut out = String::with_capacity(LEN + 1);
    for i in 0..LEN {
        if i == LEN / 2 {
            out.push('-');
        }
        // Rejection sampling keeps the distribution uniform.
        loop {
            let b = (OsRng.next_u32() & 0xff) as usize;
            if b < 256 - (256 % ALPHABET.len()) {
                out.push(ALPHABET[b % ALPHABET.len()] as char);
                break;
            }
        }
    }
    out
}

/// A new set for `uid`: the codes to show once, and the hashes to store.
pub fn generate(key: &SecretKey, uid: &str) -> (Vec<SecretString>, Vec<String>) {
    let codes: Vec<String> = (0..COUNT).map(|_| one_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| hash(key, uid, &normalise(c).expect("generated codes are valid")))
        .collect();
    (codes.into_iter().map(SecretString::from).collect(), hashes)
}

/// Generates a new set, stores its hashes (voiding the previous set) with
/// `audit`, and returns the codes to show once.
pub async fn regenerate(
    store: &dyn Store,
    key: &SecretKey,
    uid: &str,
    audit: &NewAuditEvent,
) -> StoreResult<Vec<SecretString>> {
    let (codes, hashes) = generate(key, uid);
    store.replace_recovery_codes(uid, &hashes, audit).await?;
    Ok(codes)
}

/// Consumes `input` if it is one of the user's unused codes.
pub async fn consume(
    store: &dyn Store,
    key: &SecretKey,
    uid: &str,
    input: &str,
) -> StoreResult<bool> {
    let Some(n) = normalise(input) else {
        return Ok(false);
    };
    if store
        .consume_recovery_code(uid, &hash(key, uid, &n))
        .await?
    {
        return Ok(true);
    }
    store.consume_recovery_code(uid, &legacy_hash(&n)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_normalise_and_typing_variants_agree() {
        let code = one_code();
        assert_eq!(code.len(), LEN + 1);
        let n = normalise(&code).unwrap();
        assert_eq!(
            normalise(&code.to_uppercase().replace('-', " ")),
            Some(n.clone())
        );
        assert_ne!(one_code(), one_code());
    }

    #[test]
    fn a_stored_hash_needs_the_key_and_names_the_user() {
        let (key, other_key) = (SecretKey::generate(), SecretKey::generate());
        let n = normalise(&one_code()).unwrap();
        let stored = hash(&key, "alice", &n);
        assert_eq!(stored, hash(&key, "alice", &n));
        assert_ne!(stored, hash(&other_key, "alice", &n));
        assert_ne!(stored, hash(&key, "bob", &n));
        assert_ne!(stored, legacy_hash(&n));
        assert_ne!(stored, crate::crypto::token_hash(&n));
    }

    #[tokio::test]
    async fn keyed_sets_and_sets_from_before_keyed_hashes_are_consumed_once() {
        let store = crate::store::EmbeddedStore::in_memory().unwrap();
        let key = SecretKey::generate();
        let event = |uid: &str| {
            crate::audit::event(
                &crate::audit::Origin::default(),
                crate::store::AuditAction::RecoveryCodesRegenerated,
                uid,
                Some(uid),
                None,
                &[],
            )
        };
        let codes = regenerate(&store, &key, "alice", &event("alice"))
            .await
            .unwrap();
        let first = secrecy::ExposeSecret::expose_secret(&codes[0]).to_owned();
        assert!(
            !consume(&store, &SecretKey::generate(), "alice", &first)
                .await
                .unwrap()
        );
        assert!(consume(&store, &key, "alice", &first).await.unwrap());
        assert!(!consume(&store, &key, "alice", &first).await.unwrap());
        // Another user's key and hash do not open alice's set.
        let second = secrecy::ExposeSecret::expose_secret(&codes[1]).to_owned();
        assert!(!consume(&store, &key, "bob", &second).await.unwrap());

        let old = one_code();
        let hashes = [legacy_hash(&normalise(&old).unwrap())];
        store
            .replace_recovery_codes("carol", &hashes, &event("carol"))
            .await
            .unwrap();
        assert!(
            consume(&store, &key, "carol", &old.to_uppercase())
                .await
                .unwrap()
        );
        assert!(!consume(&store, &key, "carol", &old).await.unwrap());
    }

    #[test]
    fn six_digit_codes_and_junk_are_not_recovery_codes() {
        assert_eq!(normalise("123456"), None);
        assert_eq!(normalise("abcde-fghi1"), None, "1 is not in the alphabet");
        assert_eq!(normalise(""), None);
    }
}

//! Recovery codes: ten single-use codes shown once, stored hashed.
//!
//! A code is 10 characters from an alphabet without look-alikes, shown as
//! `xxxxx-xxxxx`. Typed input is normalised (case, spaces, dashes) before
//! hashing, so `ABCDE FGHJK` works as well as `abcde-fghjk`.

use rand_core::{OsRng, RngCore};
use secrecy::SecretString;

use crate::store::{Store, StoreResult};

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

fn hash(normalised: &str) -> String {
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

/// A new set: the codes to show once, and the hashes to store.
pub fn generate() -> (Vec<SecretString>, Vec<String>) {
    let codes: Vec<String> = (0..COUNT).map(|_| one_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| hash(&normalise(c).expect("generated codes are valid")))
        .collect();
    (codes.into_iter().map(SecretString::from).collect(), hashes)
}

/// Generates a new set, stores its hashes (voiding the previous set) and
/// returns the codes to show once.
pub async fn regenerate(store: &dyn Store, uid: &str) -> StoreResult<Vec<SecretString>> {
    let (codes, hashes) = generate();
    store.replace_recovery_codes(uid, &hashes).await?;
    Ok(codes)
}

/// Consumes `input` if it is one of the user's unused codes.
pub async fn consume(store: &dyn Store, uid: &str, input: &str) -> StoreResult<bool> {
    match normalise(input) {
        Some(n) => store.consume_recovery_code(uid, &hash(&n)).await,
        None => Ok(false),
    }
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
        assert_eq!(hash(&n), hash(&normalise(&code).unwrap()));
        assert_ne!(one_code(), one_code());
    }

    #[test]
    fn six_digit_codes_and_junk_are_not_recovery_codes() {
        assert_eq!(normalise("123456"), None);
        assert_eq!(normalise("abcde-fghi1"), None, "1 is not in the alphabet");
        assert_eq!(normalise(""), None);
    }
}

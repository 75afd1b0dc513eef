//! TOTP (RFC 6238) as authenticator apps implement it: SHA-1, 6 digits,
//! 30-second steps, one step of clock skew either way.
//!
//! A code is marked used per account and code ([`used_code_id`]) for as
//! long as it could verify, whichever step it matches ([`used_code_ttl`]).

use base64::Engine;
use totp_rs::{Algorithm, Secret, TOTP};

pub const DIGITS: usize = 6;
pub const STEP_SECS: u64 = 30;
pub const SKEW_STEPS: u64 = 1;
/// 160-bit secrets, as RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    crate::crypto::random_bytes(SECRET_LEN)
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> TOTP {
    // `new_unchecked`: the length check is ours (SECRET_LEN) and a ':' in the
    // label is replaced below rather than refused.
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        SKEW_STEPS as u8,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.replace(':', "-")),
        account.replace(':', "-"),
    )
}

/// The secret in base32 (what apps accept when typed in).
pub fn base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// The base32 secret in groups of four, easier to read and type.
pub fn grouped(secret_b32: &str) -> String {
    secret_b32
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `otpauth://totp/Issuer:account?secret=…&issuer=…` for QR codes.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(secret, issuer, account).get_url()
}

/// The code for `unix_time` (used by tests and the demo printout).
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    totp(secret, "x", "x").generate(unix_time)
}

/// The step whose code equals `code` among the current one and its
/// neighbours, comparing in constant time. `None` when nothing matches or the
/// input is not six digits.
pub fn matching_step(secret: &[u8], code: &str, unix_time: u64) -> Option<u64> {
    if !has_code_form(code) {
        return None;
    }
    let t = totp(secret, "x", "x");
    let now_step = unix_time / STEP_SECS;
    let mut found = None;
    // Check every candidate step so timing does not reveal which one matched.
    for step in now_step.saturating_sub(SKEW_STEPS)..=now_step + SKEW_STEPS {
        let expected = t.generate(step * STEP_SECS);
        if crate::crypto::ct_eq(&expected, code) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Whether `input` has the form of a code (six digits), which a recovery
/// code has not.
pub fn has_code_form(input: &str) -> bool {
    input.len() == DIGITS && input.bytes().all(|b| b.is_ascii_digit())
}

/// The name of the used-code marker of `code` typed for `uid`: one per
/// account and code, not per device and step, so that it can be set before
/// the account's devices are read (see `signin::second_factor`). A hash, as
/// the store keys every code and token.
pub fn used_code_id(uid: &str, code: &str) -> String {
    crate::crypto::token_hash(&format!("{uid}\0{code}"))
}

/// How long the marker of a code typed at `unix_time` must live: as long as
/// the code could verify, whichever step it matches (the latest one lives
/// longest).
pub fn used_code_ttl(unix_time: u64) -> std::time::Duration {
    std::time::Duration::from_secs(replay_ttl_secs(last_step_accepted_at(unix_time), unix_time))
}

/// The last step whose code verifies at `unix_time` (the current one plus
/// the skew): no code of a later step could have been accepted by then.
pub fn last_step_accepted_at(unix_time: u64) -> u64 {
    unix_time / STEP_SECS + SKEW_STEPS
}

/// How long a code of `step` keeps verifying after `unix_time` — the time its
/// used-code marker must live. One spare second covers rounding.
pub fn replay_ttl_secs(step: u64, unix_time: u64) -> u64 {
    let last_valid_instant = (step + SKEW_STEPS + 1) * STEP_SECS;
    last_valid_instant.saturating_sub(unix_time).max(1) + 1
}

/// An SVG rendering of `data` as a QR code, for an `<img src="data:…">`.
pub fn qr_svg_data_uri(data: &str) -> String {
    let svg = match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    };
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1 secret "12345678901234567890" (8 digits there;
    // the 6-digit code is the last six).
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_rfc6238_vectors() {
        assert_eq!(code_at(RFC_SECRET, 59), "287082");
        assert_eq!(code_at(RFC_SECRET, 1111111109), "081804");
        assert_eq!(code_at(RFC_SECRET, 1234567890), "005924");
    }

    #[test]
    fn enrolment_uris_read_back_as_universal_with_the_printed_secret() {
        // What clients check before showing a QR code (tessera_api::otpauth).
        let secret = [7u8; 20];
        for account in ["alice@example.org", "a:b c+d", "élodie"] {
            let uri = tessera_api::OtpauthUri::parse(&otpauth_uri(&secret, "Tessera", account))
                .unwrap_or_else(|e| panic!("{account}: {e}"));
            assert_eq!(uri.secret, base32(&secret));
            assert_eq!(uri.issuer.as_deref(), Some("Tessera"));
            assert!(uri.is_universal());
        }
    }

    #[test]
    fn one_step_of_skew_each_way_and_no_more() {
        let now = 1_700_000_000;
        let step = now / STEP_SECS;
        for (offset, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let s = (step as i64 + offset) as u64;
            let code = code_at(RFC_SECRET, s * STEP_SECS);
            assert_eq!(
                matching_step(RFC_SECRET, &code, now) == Some(s),
                ok,
                "offset {offset}"
            );
        }
        assert_eq!(matching_step(RFC_SECRET, "12345", now), None);
        assert_eq!(matching_step(RFC_SECRET, "12a456", now), None);
        assert_eq!(matching_step(RFC_SECRET, "１２３４５６", now), None);
    }

    #[test]
    fn replay_marker_outlives_the_codes_validity() {
        let now = 1_700_000_010; // the first second of step 56_666_667
        let step = now / STEP_SECS;
        // The code of `step` still verifies until the end of step + 1.
        let ttl = replay_ttl_secs(step, now);
        assert!(now + ttl > (step + 2) * STEP_SECS - 1);
        assert!(matching_step(RFC_SECRET, &code_at(RFC_SECRET, now), now + ttl - 2).is_some());
        assert!(matching_step(RFC_SECRET, &code_at(RFC_SECRET, now), now + ttl).is_none());
        // A code from the previous step expires sooner.
        assert!(replay_ttl_secs(step - 1, now) < ttl);
    }

    #[test]
    fn a_typed_codes_marker_outlives_every_step_it_could_match() {
        for now in [1_700_000_010, 1_700_000_029, 1_700_000_030, 1_700_000_059] {
            let ttl = used_code_ttl(now).as_secs();
            let step = now / STEP_SECS;
            for typed in [step - 1, step, step + 1] {
                let code = code_at(RFC_SECRET, typed * STEP_SECS);
                assert!(matching_step(RFC_SECRET, &code, now).is_some());
                let last_verifying = (now..now + 200)
                    .filter(|t| matching_step(RFC_SECRET, &code, *t).is_some())
                    .max()
                    .unwrap();
                assert!(last_verifying < now + ttl, "at {now}, step {typed}");
            }
            // Not much longer: the next step's code is not held up.
            assert!(ttl <= 3 * STEP_SECS + 1, "at {now}: {ttl}");
        }
    }

    #[test]
    fn a_marker_names_its_account_and_code_and_only_codes_are_marked() {
        let id = used_code_id("alice", "123456");
        assert_eq!(id, used_code_id("alice", "123456"));
        assert_ne!(id, used_code_id("alice", "123457"));
        assert_ne!(id, used_code_id("bob", "123456"));
        assert!(!id.contains("123456"));
        assert!(has_code_form("012345"));
        for input in ["12345", "1234567", "12a456", "abcd-efgh-jk", ""] {
            assert!(!has_code_form(input), "{input}");
        }
    }

    #[test]
    fn no_code_after_the_last_step_accepted_could_have_verified() {
        for now in [1_700_000_000, 1_700_000_029, 1_700_000_030] {
            let last = last_step_accepted_at(now);
            // At `now` and at every earlier second, the code of `last + 1`
            // did not verify; that of `last` did at `now`.
            let next = code_at(RFC_SECRET, (last + 1) * STEP_SECS);
            assert!((now - 100..=now).all(|t| matching_step(RFC_SECRET, &next, t).is_none()));
            let code = code_at(RFC_SECRET, last * STEP_SECS);
            assert_eq!(matching_step(RFC_SECRET, &code, now), Some(last));
        }
    }

    #[test]
    fn uri_and_grouping_carry_the_secret() {
        let uri = otpauth_uri(RFC_SECRET, "Tessera", "alice");
        assert!(uri.starts_with("otpauth://totp/Tessera:alice?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", base32(RFC_SECRET))));
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
        assert!(qr_svg_data_uri(&uri).starts_with("data:image/svg+xml;base64,"));
    }
}

//! `otpauth://` URIs (`tessera_api::OtpauthUri::parse`), as the client reads
//! the provider's enrolment: any text is refused with a reason or parsed; a
//! parsed secret is canonical base32 of at least the minimum length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_api::otpauth::{MIN_SECRET_BYTES, normalize_secret};
use tessera_api::OtpauthUri;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match OtpauthUri::parse(&text) {
        Ok(uri) => {
            assert_eq!(normalize_secret(&uri.secret).as_deref(), Ok(uri.secret.as_str()));
            assert!(uri.secret.len() * 5 / 8 >= MIN_SECRET_BYTES);
            assert!(!uri.account.trim().is_empty());
            assert!(matches!(uri.digits, 6 | 8) && (1..=3600).contains(&uri.period));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});

//! JWT verification (`jwt::SigningKeys::verify`) on arbitrary text and on
//! mutations of a real token: never panics, and nothing but the unmodified
//! signed token verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_provider::jwt::SigningKeys;

fn keys() -> &'static (SigningKeys, String) {
    static KEYS: OnceLock<(SigningKeys, String)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys = SigningKeys::generate();
        let token = keys.sign(
            "at+jwt",
            &serde_json::json!({"sub": "demo", "exp": 4_102_444_800i64}),
        );
        (keys, token)
    })
}

fuzz_target!(|data: &[u8]| {
    let (keys, token) = keys();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = keys.verify(text, Some("at+jwt"));
        let _ = keys.verify(text, None);
    }
    // The real token with bytes of the input spliced in at a chosen place.
    if let Some((&at, rest)) = data.split_first() {
        let mut mutated = token.as_bytes().to_vec();
        let at = usize::from(at) * mutated.len() / 256;
        mutated.splice(
            at..(at + rest.len()).min(mutated.len()),
            rest.iter().copied(),
        );
        if let Ok(text) = std::str::from_utf8(&mutated)
            && text != token
        {
            assert!(
                keys.verify(text, Some("at+jwt")).is_err(),
                "a modified token verified: {text}"
            );
        }
    }
});

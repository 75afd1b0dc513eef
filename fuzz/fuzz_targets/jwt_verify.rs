//! JWT verification (`jwt::SigningKeys::verify`) on arbitrary text and on
//! mutations of real tokens, one signed by the active key and one by the
//! retired key: never panics, and nothing but an unmodified signed token
//! verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_provider::jwt::{PublicKey, RetiredKey, SigningKeys};

struct Fixture {
    keys: SigningKeys,
    /// Signed by the active key, then by the retired one.
    tokens: [String; 2],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let claims = serde_json::json!({"sub": "demo", "exp": 4_102_444_800i64});
        let old = SigningKeys::generate();
        let retired = RetiredKey {
            public: PublicKey::from_sec1(old.public().sec1()).expect("a generated key's point"),
            retired_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let keys = SigningKeys::generate().with_retired(Some(retired));
        let tokens = [keys.sign("at+jwt", &claims), old.sign("at+jwt", &claims)];
        for token in &tokens {
            assert!(keys.verify(token, Some("at+jwt")).is_ok(), "{token}");
        }
        Fixture { keys, tokens }
    })
}

fuzz_target!(|data: &[u8]| {
    let Fixture { keys, tokens } = fixture();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = keys.verify(text, Some("at+jwt"));
        let _ = keys.verify(text, None);
    }
    // A real token with bytes of the input spliced in at a chosen place.
    if let Some((&at, rest)) = data.split_first() {
        let token = &tokens[usize::from(at & 1)];
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

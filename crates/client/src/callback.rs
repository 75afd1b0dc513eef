//! The authorization response the browser brings back to the loopback
//! listener (`/callback?code=…&state=…&iss=…` or `?error=…`).

use secrecy::SecretString;
use subtle::ConstantTimeEq;

use crate::error::ClientError;

/// The parameters of an authorization response, before any check.
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub code: Option<SecretString>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Parses the query string of the callback. A parameter given twice is
/// refused (RFC 6749 §3.1), as is a response with neither `code` nor `error`.
pub fn parse_query(query: &str) -> Result<CallbackParams, ClientError> {
    let mut p = CallbackParams::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot_taken = match name.as_ref() {
            "code" => p
                .code
                .replace(SecretString::from(value.into_owned()))
                .is_some(),
            "state" => p.state.replace(value.into_owned()).is_some(),
            "iss" => p.iss.replace(value.into_owned()).is_some(),
            "error" => p.error.replace(value.into_owned()).is_some(),
            "error_description" => p.error_description.replace(value.into_owned()).is_some(),
            _ => false,
        };
        if slot_taken {
            return Err(ClientError::InvalidCallback(format!(
                "the parameter `{name}` appears twice"
            )));
        }
    }
    if p.code.is_none() && p.error.is_none() {
        return Err(ClientError::InvalidCallback(
            "neither `code` nor `error` is present".into(),
        ));
    }
    Ok(p)
}

/// What the callback must match.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub state: &'a str,
    pub issuer: &'a str,
    /// The provider advertises `authorization_response_iss_parameter_supported`
    /// (RFC 9207): `iss` is then required.
    pub iss_required: bool,
}

/// What a request on the callback path amounts to.
#[derive(Debug)]
pub enum Verdict {
    /// Not the answer to this sign-in (malformed, no `state` or another
    /// one): refused, and the sign-in goes on waiting, or any local program
    /// or stale browser tab could end every sign-in.
    Stray(ClientError),
    /// The answer to this sign-in: the code, or why the sign-in failed
    /// (an `iss` mismatch included: with the right `state`, it signals a
    /// mix-up attack, not noise).
    Answer(Result<SecretString, ClientError>),
}

/// Reads and checks the query of a request on the callback path.
pub fn judge(query: &str, expected: &Expected<'_>) -> Verdict {
    match parse_query(query) {
        Err(e) => Verdict::Stray(e),
        Ok(p) if !state_matches(&p, expected) => Verdict::Stray(ClientError::StateMismatch),
        Ok(p) => Verdict::Answer(check(p, expected)),
    }
}

/// Constant time: the comparison must not reveal how much of a guess is right.
fn state_matches(p: &CallbackParams, expected: &Expected<'_>) -> bool {
    p.state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.state.as_bytes())))
}

/// Checks `state` (constant time) and `iss`, then turns an error response
/// into the matching [`ClientError`]. Returns the authorization code.
pub fn check(p: CallbackParams, expected: &Expected<'_>) -> Result<SecretString, ClientError> {
    if !state_matches(&p, expected) {
        return Err(ClientError::StateMismatch);
    }
    match p.iss.as_deref() {
        Some(iss) if iss.trim_end_matches('/') != expected.issuer.trim_end_matches('/') => {
            return Err(ClientError::IssuerMismatch {
                expected: expected.issuer.to_owned(),
                got: Some(iss.to_owned()),
            });
        }
        None if expected.iss_required => {
            return Err(ClientError::IssuerMismatch {
                expected: expected.issuer.to_owned(),
                got: None,
            });
        }
        _ => {}
    }
    if let Some(error) = p.error {
        return Err(if error == "access_denied" {
            ClientError::AccessDenied {
                description: p.error_description,
            }
        } else {
            ClientError::Provider {
                error,
                description: p.error_description,
            }
        });
    }
    p.code
        .ok_or_else(|| ClientError::InvalidCallback("`code` is missing".into()))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const EXP: Expected<'static> = Expected {
        state: "s1",
        issuer: "https://id.example.org",
        iss_required: true,
    };

    #[test]
    fn code_with_matching_state_and_iss() {
        let p = parse_query("code=abc&state=s1&iss=https%3A%2F%2Fid.example.org").unwrap();
        assert_eq!(check(p, &EXP).unwrap().expose_secret(), "abc");
    }

    #[test]
    fn state_is_checked_before_anything_else() {
        let p = parse_query("code=abc&state=s2&iss=https%3A%2F%2Fid.example.org").unwrap();
        assert!(matches!(check(p, &EXP), Err(ClientError::StateMismatch)));
        let p = parse_query("code=abc&iss=https%3A%2F%2Fid.example.org").unwrap();
        assert!(matches!(check(p, &EXP), Err(ClientError::StateMismatch)));
        let p = parse_query("error=access_denied&state=forged").unwrap();
        assert!(matches!(check(p, &EXP), Err(ClientError::StateMismatch)));
    }

    #[test]
    fn iss_must_match_and_is_required_when_advertised() {
        let p = parse_query("code=abc&state=s1&iss=https%3A%2F%2Fevil.example").unwrap();
        assert!(matches!(
            check(p, &EXP),
            Err(ClientError::IssuerMismatch { got: Some(_), .. })
        ));
        let p = parse_query("code=abc&state=s1").unwrap();
        assert!(matches!(
            check(p, &EXP),
            Err(ClientError::IssuerMismatch { got: None, .. })
        ));
        let lax = Expected {
            iss_required: false,
            ..EXP
        };
        let p = parse_query("code=abc&state=s1").unwrap();
        assert!(check(p, &lax).is_ok());
        let p = parse_query("code=abc&state=s1&iss=https%3A%2F%2Fevil.example").unwrap();
        assert!(check(p, &lax).is_err(), "a present iss is always compared");
    }

    #[test]
    fn access_denied_and_other_errors() {
        let p = parse_query("error=access_denied&error_description=no+2fa&state=s1&iss=https%3A%2F%2Fid.example.org")
            .unwrap();
        match check(p, &EXP) {
            Err(ClientError::AccessDenied { description }) => {
                assert_eq!(description.as_deref(), Some("no 2fa"))
            }
            other => panic!("{other:?}"),
        }
        let p =
            parse_query("error=server_error&state=s1&iss=https%3A%2F%2Fid.example.org").unwrap();
        assert!(matches!(check(p, &EXP), Err(ClientError::Provider { .. })));
    }

    #[test]
    fn only_a_matching_state_makes_an_answer() {
        let stray = |q| matches!(judge(q, &EXP), Verdict::Stray(_));
        assert!(stray(""));
        assert!(stray("code=abc&code=def&state=s1"));
        assert!(stray("code=abc&iss=https%3A%2F%2Fid.example.org"));
        assert!(stray("error=access_denied&state=s2"));
        assert!(matches!(
            judge("code=abc&state=s2", &EXP),
            Verdict::Stray(ClientError::StateMismatch)
        ));
        assert!(matches!(
            judge("code=abc&state=s1&iss=https%3A%2F%2Fevil.example", &EXP),
            Verdict::Answer(Err(ClientError::IssuerMismatch { .. }))
        ));
        assert!(matches!(
            judge(
                "error=access_denied&state=s1&iss=https%3A%2F%2Fid.example.org",
                &EXP
            ),
            Verdict::Answer(Err(ClientError::AccessDenied { .. }))
        ));
        assert!(matches!(
            judge("code=abc&state=s1&iss=https%3A%2F%2Fid.example.org", &EXP),
            Verdict::Answer(Ok(_))
        ));
    }

    #[test]
    fn malformed_queries_are_refused() {
        assert!(matches!(
            parse_query(""),
            Err(ClientError::InvalidCallback(_))
        ));
        assert!(matches!(
            parse_query("state=s1"),
            Err(ClientError::InvalidCallback(_))
        ));
        let twice = parse_query("code=a&code=b&state=s1").unwrap_err();
        assert!(
            twice.to_string().contains("`code` appears twice"),
            "{twice}"
        );
        assert!(parse_query("%%%&&&==").is_err());
    }
}

/// Randomised: whatever values a provider sends, well encoded, read back
/// exactly; arbitrary bytes never panic and never yield a response without
/// `code` or `error`.
#[cfg(test)]
mod fuzz {
    use rand::Rng;
    use rand::seq::{IndexedRandom, SliceRandom};
    use secrecy::ExposeSecret;

    use super::*;

    fn random_text(rng: &mut impl Rng) -> String {
        let pool = [
            'a',
            'Z',
            '0',
            '&',
            '=',
            '+',
            '%',
            ' ',
            '/',
            '?',
            '#',
            'é',
            '\u{1F511}',
            '\0',
        ];
        (0..rng.random_range(0..20))
            .map(|_| *pool.choose(rng).unwrap())
            .collect()
    }

    #[test]
    fn encoded_parameters_round_trip() {
        let mut rng = rand::rng();
        for _ in 0..2000 {
            let code = random_text(&mut rng);
            let state = random_text(&mut rng);
            let iss = random_text(&mut rng);
            let mut pairs = vec![
                ("code", code.clone()),
                ("state", state.clone()),
                ("iss", iss.clone()),
            ];
            for _ in 0..rng.random_range(0..3) {
                pairs.push(("extra", random_text(&mut rng)));
            }
            pairs.shuffle(&mut rng);
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            let p = parse_query(&query).unwrap();
            assert_eq!(p.code.unwrap().expose_secret(), &code);
            assert_eq!(p.state.unwrap(), state);
            assert_eq!(p.iss.unwrap(), iss);
        }
    }

    #[test]
    fn arbitrary_queries_never_panic_nor_lack_code_and_error() {
        let mut rng = rand::rng();
        let pool: Vec<char> = "code=state&error%2G%zz+é=&&iss".chars().collect();
        for _ in 0..5000 {
            let q: String = (0..rng.random_range(0..40))
                .map(|_| *pool.choose(&mut rng).unwrap())
                .collect();
            if let Ok(p) = parse_query(&q) {
                assert!(p.code.is_some() || p.error.is_some(), "{q:?}");
            }
        }
    }
}

//! `WWW-Authenticate: Bearer …` challenges of the account API (RFC 6750,
//! with the step-up parameters of RFC 9470).

/// A parsed Bearer challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9470: the sign-in must be at most this many seconds old.
    pub max_age: Option<u64>,
    /// RFC 9470: acceptable acr values, space-separated on the wire.
    pub acr_values: Vec<String>,
}

pub const INSUFFICIENT_USER_AUTHENTICATION: &str = "insufficient_user_authentication";

impl BearerChallenge {
    pub fn is_step_up(&self) -> bool {
        self.error.as_deref() == Some(INSUFFICIENT_USER_AUTHENTICATION)
    }

    pub fn is_invalid_token(&self) -> bool {
        self.error.as_deref() == Some("invalid_token")
    }
}

/// Finds the Bearer challenge in a `WWW-Authenticate` value. Returns `None`
/// when there is none or it cannot be read; never panics.
pub fn parse(header: &str) -> Option<BearerChallenge> {
    let mut rest = header.trim_start();
    // Several challenges may share one header; look for the Bearer one.
    loop {
        let scheme_end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let scheme = &rest[..scheme_end];
        rest = &rest[scheme_end..];
        let params = parse_params(&mut rest)?;
        if scheme.eq_ignore_ascii_case("Bearer") {
            let mut c = BearerChallenge::default();
            for (k, v) in params {
                match k.to_ascii_lowercase().as_str() {
                    "error" => c.error = Some(v),
                    "error_description" => c.error_description = Some(v),
                    "max_age" => c.max_age = v.trim().parse().ok(),
                    "acr_values" => {
                        c.acr_values = v.split_whitespace().map(str::to_owned).collect()
                    }
                    _ => {}
                }
            }
            return Some(c);
        }
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() || scheme.is_empty() {
            return None;
        }
    }
}

/// Reads `name=value` pairs (token or quoted string) up to the next scheme.
fn parse_params(rest: &mut &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        let s = rest.trim_start_matches([' ', '\t', ',']);
        let Some(eq) = s.find('=') else {
            *rest = s;
            return Some(out);
        };
        let name = s[..eq].trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            // Not a parameter: the start of the next challenge.
            *rest = s;
            return Some(out);
        }
        let after = s[eq + 1..].trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?.1),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &q[end?..])
        } else {
            let end = after.find([',', ' ', '\t']).unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        out.push((name.to_owned(), value));
        *rest = remaining;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9470_step_up_challenge() {
        let c = parse(
            r#"Bearer error="insufficient_user_authentication", error_description="A more recent sign-in is needed", max_age=600, acr_values="eidas1-mfa eidas2""#,
        )
        .unwrap();
        assert!(c.is_step_up());
        assert_eq!(c.max_age, Some(600));
        assert_eq!(c.acr_values, ["eidas1-mfa", "eidas2"]);
        assert_eq!(
            c.error_description.as_deref(),
            Some("A more recent sign-in is needed")
        );
    }

    #[test]
    fn quoted_max_age_escapes_and_other_challenges() {
        let c =
            parse(r#"Basic realm="x", Bearer realm="a\"b", error="invalid_token", max_age="30""#)
                .unwrap();
        assert!(c.is_invalid_token());
        assert_eq!(c.max_age, Some(30));
        let c = parse("bearer error=insufficient_user_authentication,acr_values=eidas3").unwrap();
        assert!(c.is_step_up());
        assert_eq!(c.acr_values, ["eidas3"]);
        assert_eq!(parse("Bearer").unwrap(), BearerChallenge::default());
    }

    #[test]
    fn garbage_never_panics() {
        assert_eq!(parse("Basic realm=\"x\""), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("Bearer error=\"unterminated"), None);
        for s in [
            "=",
            "==,,",
            "Bearer ,,,=",
            "Bearer error=\"a\\",
            "Bearer max_age=-1",
            "\u{0}Bearer",
        ] {
            let _ = parse(s);
        }
        assert_eq!(parse("Bearer max_age=-1").unwrap().max_age, None);
    }
}

/// Randomised round trips: any challenge a server may write reads back the same.
#[cfg(test)]
mod fuzz {
    use rand::Rng;
    use rand::seq::IndexedRandom;

    use super::*;

    fn quoted(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    #[test]
    fn random_challenges_round_trip() {
        let mut rng = rand::rng();
        let ws = [" ", "  ", "\t", ""];
        for _ in 0..2000 {
            let expected = BearerChallenge {
                error: [
                    None,
                    Some("invalid_token"),
                    Some(INSUFFICIENT_USER_AUTHENTICATION),
                ]
                .choose(&mut rng)
                .unwrap()
                .map(str::to_owned),
                error_description: rng.random_bool(0.5).then(|| {
                    (0..rng.random_range(0..30))
                        .map(|_| {
                            *[' ', 'a', 'é', '"', '\\', ',', '=', 'Z']
                                .choose(&mut rng)
                                .unwrap()
                        })
                        .collect()
                }),
                max_age: rng.random_bool(0.5).then(|| rng.random_range(0..100_000)),
                acr_values: (0..rng.random_range(0..4))
                    .map(|i| format!("acr-{i}-{}", rng.random::<u16>()))
                    .collect(),
            };
            let mut params = vec![format!("realm={}", quoted("tessera, \"x\""))];
            if let Some(e) = &expected.error {
                params.push(format!("error={}", quoted(e)));
            }
            if let Some(d) = &expected.error_description {
                params.push(format!("error_description={}", quoted(d)));
            }
            if let Some(m) = expected.max_age {
                params.push(if rng.random_bool(0.5) {
                    format!("max_age={m}")
                } else {
                    format!("max_age=\"{m}\"")
                });
            }
            if !expected.acr_values.is_empty() {
                params.push(format!(
                    "acr_values={}",
                    quoted(&expected.acr_values.join(" "))
                ));
            }
            let sep = format!(",{}", ws.choose(&mut rng).unwrap());
            let mut header = format!("Bearer {}", params.join(&sep));
            if rng.random_bool(0.3) {
                header = format!(
                    "Basic realm=\"old\",{}{header}",
                    ws.choose(&mut rng).unwrap()
                );
            }
            assert_eq!(parse(&header).as_ref(), Some(&expected), "{header}");
        }
    }

    #[test]
    fn random_token_soup_yields_a_step_up_only_from_the_error_parameter() {
        let mut rng = rand::rng();
        let tokens = [
            "Bearer ",
            "Basic ",
            ", ",
            "=",
            "error=",
            "\"",
            "\\",
            "\t",
            "realm=",
            INSUFFICIENT_USER_AUTHENTICATION,
            "max_age=",
            "12",
            "acr_values=",
            " ",
        ];
        let mut step_ups = 0;
        for _ in 0..20_000 {
            let prefix = *["Bearer ", "Basic realm=x, Bearer ", ""]
                .choose(&mut rng)
                .unwrap();
            let soup: String = (0..rng.random_range(0..10))
                .map(|_| *tokens.choose(&mut rng).unwrap())
                .collect();
            let s = format!("{prefix}{soup}");
            if let Some(c) = parse(&s)
                && c.is_step_up()
            {
                step_ups += 1;
                // RFC 7235 allows whitespace around "=" (BWS) and quoted
                // pairs (`\i` is `i`) inside a quoted string.
                let from_error_param = s.match_indices("error=").any(|(i, m)| {
                    s[i + m.len()..]
                        .trim_start_matches([' ', '\t'])
                        .trim_start_matches('"')
                        .replace('\\', "")
                        .starts_with(INSUFFICIENT_USER_AUTHENTICATION)
                });
                assert!(from_error_param, "{s:?}");
            }
        }
        // The soup is rich enough to produce some real step-ups.
        assert!(step_ups > 0);
    }
}

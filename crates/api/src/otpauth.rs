//! `otpauth://totp/…` URIs (the Key Uri Format that authenticator apps read
//! from QR codes): parsed and checked, so that a client never shows a QR code
//! whose secret differs from the one printed beside it, or whose parameters
//! common authenticator apps silently ignore.

use std::borrow::Cow;
use std::fmt;

use url::Url;

/// Hash of an HOTP/TOTP code (`algorithm=`; SHA1 when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// A parsed `otpauth://totp/` URI.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpauthUri {
    /// From `issuer=`, else from the label's `Issuer:` prefix.
    pub issuer: Option<String>,
    /// The label's account part.
    pub account: String,
    /// Base32 (RFC 4648), upper case, without padding.
    pub secret: String,
    pub algorithm: OtpAlgorithm,
    pub digits: u8,
    pub period: u32,
}

impl fmt::Debug for OtpauthUri {
    // The secret stays out of logs and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpauthUri")
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

/// Why an `otpauth://` URI was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpauthError {
    NotAUri,
    NotOtpauth,
    NotTotp,
    MissingLabel,
    MissingSecret,
    /// Not base32, or shorter than [`MIN_SECRET_BYTES`].
    BadSecret,
    IssuerMismatch,
    UnknownAlgorithm(String),
    BadDigits(String),
    BadPeriod(String),
    /// A parameter given twice: apps disagree on which one wins.
    Repeated(&'static str),
}

impl fmt::Display for OtpauthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtpauthError::NotAUri => f.write_str("the enrolment link is not a URI"),
            OtpauthError::NotOtpauth => f.write_str("the enrolment link is not an otpauth:// URI"),
            OtpauthError::NotTotp => f.write_str("the enrolment link is not for a time-based code"),
            OtpauthError::MissingLabel => f.write_str("the enrolment link names no account"),
            OtpauthError::MissingSecret => f.write_str("the enrolment link has no secret"),
            OtpauthError::BadSecret => write!(
                f,
                "the enrolment link's secret is not base32 of at least {MIN_SECRET_BYTES} bytes"
            ),
            OtpauthError::IssuerMismatch => {
                f.write_str("the enrolment link names two different issuers")
            }
            OtpauthError::UnknownAlgorithm(a) => {
                write!(f, "the enrolment link's algorithm {a:?} is unknown")
            }
            OtpauthError::BadDigits(d) => {
                write!(f, "the enrolment link's digits {d:?} is not 6 or 8")
            }
            OtpauthError::BadPeriod(p) => {
                write!(
                    f,
                    "the enrolment link's period {p:?} is not 1 to 3600 seconds"
                )
            }
            OtpauthError::Repeated(name) => {
                write!(f, "the enrolment link gives {name} more than once")
            }
        }
    }
}

impl std::error::Error for OtpauthError {}

/// 80 bits: RFC 4226 §4 requires at least 128 and recommends 160, but some
/// deployed authenticators were enrolled with 80; fewer is never acceptable.
pub const MIN_SECRET_BYTES: usize = 10;

impl OtpauthUri {
    pub fn parse(raw: &str) -> Result<OtpauthUri, OtpauthError> {
        let url = Url::parse(raw).map_err(|_| OtpauthError::NotAUri)?;
        if url.scheme() != "otpauth" {
            return Err(OtpauthError::NotOtpauth);
        }
        if !url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("totp"))
        {
            return Err(OtpauthError::NotTotp);
        }
        let label = percent_decode(url.path().trim_start_matches('/'));
        let (label_issuer, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer.trim()), account.trim()),
            None => (None, label.trim()),
        };
        if account.is_empty() {
            return Err(OtpauthError::MissingLabel);
        }
        let mut secret = None;
        let mut issuer = None;
        let mut algorithm = None;
        let mut digits = None;
        let mut period = None;
        for (name, value) in url.query_pairs() {
            let (slot, name): (&mut Option<Cow<str>>, &'static str) = match &*name {
                "secret" => (&mut secret, "secret"),
                "issuer" => (&mut issuer, "issuer"),
                "algorithm" => (&mut algorithm, "algorithm"),
                "digits" => (&mut digits, "digits"),
                "period" => (&mut period, "period"),
                // Unknown parameters (image=, counter= of other types…) are
                // ignored, as apps do.
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(OtpauthError::Repeated(name));
            }
        }
        let secret = secret.ok_or(OtpauthError::MissingSecret)?;
        let secret = normalize_secret(&secret)?;
        let issuer = match (issuer.as_deref().map(str::trim), label_issuer) {
            (Some(a), Some(b)) if a != b => return Err(OtpauthError::IssuerMismatch),
            (Some(a), _) if !a.is_empty() => Some(a.to_owned()),
            (_, Some(b)) if !b.is_empty() => Some(b.to_owned()),
            _ => None,
        };
        let algorithm = match algorithm.as_deref() {
            None => OtpAlgorithm::Sha1,
            Some(a) if a.eq_ignore_ascii_case("SHA1") => OtpAlgorithm::Sha1,
            Some(a) if a.eq_ignore_ascii_case("SHA256") => OtpAlgorithm::Sha256,
            Some(a) if a.eq_ignore_ascii_case("SHA512") => OtpAlgorithm::Sha512,
            Some(a) => return Err(OtpauthError::UnknownAlgorithm(a.to_owned())),
        };
        let digits = match digits.as_deref() {
            None => 6,
            Some("6") => 6,
            Some("8") => 8,
            Some(d) => return Err(OtpauthError::BadDigits(d.to_owned())),
        };
        let period = match period.as_deref() {
            None => 30,
            Some(p) => match p.parse::<u32>() {
                // u32 parsing would accept "+30" and "030", which apps may not.
                Ok(n @ 1..=3600) if n.to_string() == p => n,
                _ => return Err(OtpauthError::BadPeriod(p.to_owned())),
            },
        };
        Ok(OtpauthUri {
            issuer,
            account: account.to_owned(),
            secret,
            algorithm,
            digits,
            period,
        })
    }

    /// Whether every authenticator app reads it the same way: SHA1, 6
    /// digits, 30 s (Google Authenticator ignores the three parameters).
    pub fn is_universal(&self) -> bool {
        self.algorithm == OtpAlgorithm::Sha1 && self.digits == 6 && self.period == 30
    }
}

/// A base32 secret as people type it (any case, spaces, padding) in its
/// canonical form: upper case, no spaces, no padding.
pub fn normalize_secret(raw: &str) -> Result<String, OtpauthError> {
    let secret: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_end_matches('=')
        .to_ascii_uppercase();
    let valid_len = matches!(secret.len() % 8, 0 | 2 | 4 | 5 | 7);
    if !valid_len
        || secret.len() * 5 / 8 < MIN_SECRET_BYTES
        || !secret
            .bytes()
            .all(|b| matches!(b, b'A'..=b'Z' | b'2'..=b'7'))
    {
        return Err(OtpauthError::BadSecret);
    }
    Ok(secret)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    #[test]
    fn reads_what_the_provider_writes() {
        let uri = OtpauthUri::parse(&format!(
            "otpauth://totp/Tessera:alice%40example.org?secret={SECRET}&issuer=Tessera&algorithm=SHA1&digits=6&period=30"
        ))
        .unwrap();
        assert_eq!(uri.issuer.as_deref(), Some("Tessera"));
        assert_eq!(uri.account, "alice@example.org");
        assert_eq!(uri.secret, SECRET);
        assert!(uri.is_universal());
    }

    #[test]
    fn defaults_and_label_issuer() {
        let uri = OtpauthUri::parse(&format!(
            "otpauth://totp/ACME%20Corp:bob?secret={}",
            SECRET.to_lowercase()
        ))
        .unwrap();
        assert_eq!(uri.issuer.as_deref(), Some("ACME Corp"));
        assert_eq!(uri.account, "bob");
        assert_eq!(uri.secret, SECRET, "secrets are canonical upper case");
        assert_eq!(
            (uri.algorithm, uri.digits, uri.period),
            (OtpAlgorithm::Sha1, 6, 30)
        );
        let uri = OtpauthUri::parse(&format!(
            "otpauth://totp/bob?secret={SECRET}&algorithm=SHA512&digits=8&period=60"
        ))
        .unwrap();
        assert_eq!(uri.issuer, None);
        assert!(!uri.is_universal());
    }

    #[test]
    fn every_refusal_says_why() {
        let cases: &[(&str, OtpauthError)] = &[
            ("not a uri", OtpauthError::NotAUri),
            ("https://example.org/?secret=x", OtpauthError::NotOtpauth),
            (
                "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=1",
                OtpauthError::NotTotp,
            ),
            (
                "otpauth://totp/?secret=JBSWY3DPEHPK3PXP",
                OtpauthError::MissingLabel,
            ),
            (
                "otpauth://totp/Acme:?secret=JBSWY3DPEHPK3PXP",
                OtpauthError::MissingLabel,
            ),
            ("otpauth://totp/a", OtpauthError::MissingSecret),
            ("otpauth://totp/a?secret=JBSW", OtpauthError::BadSecret),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PX1",
                OtpauthError::BadSecret,
            ),
            (
                "otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP&issuer=B",
                OtpauthError::IssuerMismatch,
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
                OtpauthError::UnknownAlgorithm("MD5".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=7",
                OtpauthError::BadDigits("7".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=0",
                OtpauthError::BadPeriod("0".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=%2B30",
                OtpauthError::BadPeriod("+30".into()),
            ),
            (
                "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&secret=KRSXG5CTMVRXEZLU",
                OtpauthError::Repeated("secret"),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(OtpauthUri::parse(raw).unwrap_err(), *expected, "{raw}");
            assert!(!expected.to_string().is_empty());
        }
    }

    #[test]
    fn secrets_are_normalized_or_refused() {
        assert_eq!(
            normalize_secret("jbsw y3dp ehpk 3pxp").unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert_eq!(
            normalize_secret("JBSWY3DPEHPK3PXP====").unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        // 9 characters cannot be the end of a base32 encoding.
        assert_eq!(
            normalize_secret("JBSWY3DPEHPK3PXPA"),
            Err(OtpauthError::BadSecret)
        );
        assert_eq!(normalize_secret(""), Err(OtpauthError::BadSecret));
    }

    #[test]
    fn debug_hides_the_secret() {
        let uri = OtpauthUri::parse(&format!("otpauth://totp/a?secret={SECRET}")).unwrap();
        assert!(!format!("{uri:?}").contains(SECRET));
    }
}

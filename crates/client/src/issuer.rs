//! The issuer URL and the rule on which schemes are acceptable for it (and
//! for the endpoints its discovery document names).

use std::net::IpAddr;

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    #[error("the issuer `{0}` is not a valid URL")]
    Invalid(String),
    #[error("the issuer `{0}` must use https (plain http is accepted only on a loopback address)")]
    InsecureScheme(String),
    #[error("the issuer `{0}` must not carry a query or a fragment")]
    QueryOrFragment(String),
}

/// An OpenID Connect issuer the client may talk to: `https`, or `http` on a
/// loopback address (the local demo provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(Url);

impl Issuer {
    pub fn parse(raw: &str) -> Result<Self, IssuerError> {
        let url = Url::parse(raw.trim()).map_err(|_| IssuerError::Invalid(raw.to_owned()))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(IssuerError::QueryOrFragment(raw.to_owned()));
        }
        match url.scheme() {
            "https" => Ok(Issuer(url)),
            "http" if is_loopback(&url) => Ok(Issuer(url)),
            "http" => Err(IssuerError::InsecureScheme(raw.to_owned())),
            _ => Err(IssuerError::Invalid(raw.to_owned())),
        }
    }

    /// The issuer as written in discovery documents: no trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }
}

/// The issuer's rule, for any address the client talks to or hands to the
/// browser: `https`, or `http` on a loopback address.
pub fn is_secure(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_and_normalised_without_trailing_slash() {
        let i = Issuer::parse("https://id.example.org/").unwrap();
        assert_eq!(i.as_str(), "https://id.example.org");
    }

    #[test]
    fn http_only_on_loopback() {
        assert!(Issuer::parse("http://127.0.0.1:8080").is_ok());
        assert!(Issuer::parse("http://[::1]:8080").is_ok());
        assert!(Issuer::parse("http://localhost:8080").is_ok());
        assert_eq!(
            Issuer::parse("http://id.example.org"),
            Err(IssuerError::InsecureScheme("http://id.example.org".into()))
        );
        assert!(matches!(
            Issuer::parse("http://127.0.0.1.example.org"),
            Err(IssuerError::InsecureScheme(_))
        ));
    }

    #[test]
    fn the_rule_for_any_address() {
        let secure = |u: &str| is_secure(&Url::parse(u).unwrap());
        assert!(secure("https://id.example.org/token"));
        assert!(secure("http://127.0.0.1:8080/token"));
        assert!(secure("http://[::1]/token") && secure("http://localhost/token"));
        assert!(!secure("http://id.example.org/token"));
        assert!(!secure("http://127.0.0.1.example.org/token"));
        assert!(!secure("javascript:alert(1)") && !secure("file:///etc/passwd"));
    }

    #[test]
    fn garbage_and_other_schemes_are_refused() {
        assert!(matches!(
            Issuer::parse("not a url"),
            Err(IssuerError::Invalid(_))
        ));
        assert!(matches!(
            Issuer::parse("ftp://id.example.org"),
            Err(IssuerError::Invalid(_))
        ));
        assert!(matches!(
            Issuer::parse("https://id.example.org/?x=1"),
            Err(IssuerError::QueryOrFragment(_))
        ));
    }
}

//! Redirect URIs: matching registered ones (exactly, except the port of
//! loopback IP literals, RFC 8252 §7.3) and building the redirects back to
//! the client, always with `iss` (RFC 9207).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

/// Does `requested` match the registered URI?
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback_ip = |u: &Url| match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        _ => false,
    };
    reg.scheme() == "http"
        && req.scheme() == "http"
        && loopback_ip(&reg)
        && reg.host() == req.host()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && req.fragment().is_none()
        && req.username().is_empty()
        && req.password().is_none()
}

/// `redirect_uri` with the parameters appended to its query.
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        // Only validated (registered) URIs reach here.
        Err(_) => redirect_uri.to_owned(),
    }
}

pub fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An OAuth error sent back to a validated redirect URI.
pub fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    see_other(&with_params(redirect_uri, &params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ip_redirects_match_on_any_port_and_nothing_else_does() {
        let reg = "http://127.0.0.1/callback";
        assert!(redirect_uri_matches(reg, "http://127.0.0.1:49152/callback"));
        assert!(redirect_uri_matches(reg, "http://127.0.0.1/callback"));
        assert!(!redirect_uri_matches(reg, "http://127.0.0.1:49152/other"));
        assert!(!redirect_uri_matches(
            reg,
            "http://127.0.0.2:49152/callback"
        ));
        assert!(!redirect_uri_matches(
            reg,
            "https://127.0.0.1:49152/callback"
        ));
        assert!(!redirect_uri_matches(
            reg,
            "http://user@127.0.0.1:1/callback"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]/cb",
            "http://[::1]:8080/cb"
        ));
        // Not loopback IP literals: exact match only.
        assert!(!redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:8080/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
        assert!(redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://app.example/cb",
            "https://app.example/cb?x=1"
        ));
        assert!(!redirect_uri_matches(reg, "not a url"));
    }

    #[test]
    fn parameters_are_appended_and_encoded() {
        assert_eq!(
            with_params(
                "http://127.0.0.1:5/cb?x=1",
                &[("code", "a b"), ("state", "s&t")]
            ),
            "http://127.0.0.1:5/cb?x=1&code=a+b&state=s%26t"
        );
    }
}

//! HTTP plumbing shared by the handlers: cookies, the client's address
//! (behind trusted proxies only), form and query parsing that refuses
//! repeated parameters, and the security headers of HTML pages.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::audit::Origin;

/// Names of the cookies the provider sets.
pub const SESSION_COOKIE: &str = "tessera_session";
pub const SIGNIN_COOKIE: &str = "tessera_signin";
pub const TRUSTED_COOKIE: &str = "tessera_trusted";

/// Why `Authorization: Bearer <token>` (RFC 6750 §2.1) could not be read.
/// Each endpoint family maps this to its own error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No header, another scheme, or an empty token: no credentials were sent.
    Missing,
    /// A header value that is not visible ASCII.
    Malformed,
}

/// The token of `Authorization: Bearer <token>`, the scheme matched
/// case-insensitively and the token trimmed.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?;
    let value = value.to_str().map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(BearerError::Missing);
    }
    Ok(token)
}

/// The value of cookie `name` from the request, if present and non-empty.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure unless the
/// issuer is plain http on loopback (where browsers would drop it).
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<u64>, secure: bool) -> HeaderValue {
    let mut c = cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure);
    if let Some(secs) = max_age_secs {
        c = c.max_age(cookie::time::Duration::seconds(
            secs.min(i64::MAX as u64) as i64
        ));
    }
    HeaderValue::from_str(&c.build().to_string()).expect("cookie values are URL-safe tokens")
}

pub fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", Some(0), secure)
}

/// The client's address: the peer, or — when the peer is a trusted proxy —
/// the last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let mut ip = peer.ip();
    if !trusted.contains(&ip) {
        return ip;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for hop in forwarded.into_iter().rev() {
        ip = hop;
        if !trusted.contains(&hop) {
            break;
        }
    }
    ip
}

pub fn origin(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> Origin {
    Origin {
        ip: client_ip(peer, headers, trusted).to_string(),
        user_agent: user_agent(headers),
    }
}

pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers.get(header::USER_AGENT).and_then(user_agent_text)
}

/// A `User-Agent` header as recorded: at most 300 characters.
pub fn user_agent_text(value: &HeaderValue) -> Option<String> {
    value.to_str().ok().map(|s| s.chars().take(300).collect())
}

/// Parameters of a query string or form body. OAuth forbids repeating a
/// parameter (RFC 6749 §3.1), so a repeat is an error naming it.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Params, String> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
            .map_err(|_| "the parameters are not valid form data".to_owned())?;
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(format!("parameter {k} is repeated"));
            }
        }
        Ok(Params(pairs))
    }

    /// The non-empty value of `name` (OAuth treats empty as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The form body of an OAuth endpoint (token, revocation). An unreadable or
/// too large body, or a repeated parameter, is refused as an OAuth error.
#[derive(Debug)]
pub struct OAuthForm(pub Params);

impl<S: Send + Sync> axum::extract::FromRequest<S> for OAuthForm {
    type Rejection = crate::error::OAuthError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use crate::error::OAuthError;
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| OAuthError::unreadable_body(&rejection))?;
        Params::parse(&body)
            .map(OAuthForm)
            .map_err(OAuthError::invalid_request)
    }
}

/// Adds the headers every HTML page carries: no caching, no framing, a
/// strict CSP (no script at all), no referrer.
pub fn html_page(status: axum::http::StatusCode, body: String) -> Response {
    let mut resp = (status, axum::response::Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Layer: a request that may change something (any method but GET, HEAD
/// and OPTIONS) runs to its end even if the client goes away. Hyper drops a
/// request's future when its connection closes, which would cut a handler
/// between two awaited steps: a device renamed and its audit record never
/// written, or a wrong code counted without its trace (a change to a second
/// factor and its record are one store step anyway). Reads pass through
/// untouched (nothing to finish; not even a box, as they are the hot path).
#[derive(Debug, Clone, Copy, Default)]
pub struct FinishChanges;

impl<S> tower_layer::Layer<S> for FinishChanges {
    type Service = FinishChangesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FinishChangesService(inner)
    }
}

/// The service of [`FinishChanges`].
#[derive(Debug, Clone)]
pub struct FinishChangesService<S>(S);

type Finished =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, B> tower_service::Service<axum::http::Request<B>> for FinishChangesService<S>
where
    S: tower_service::Service<axum::http::Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Either<S::Future, Finished>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        use axum::http::Method;
        use futures_util::future::Either;
        if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            return Either::Left(self.0.call(req));
        }
        let handled = tokio::spawn(self.0.call(req));
        Either::Right(Box::pin(async move {
            Ok(match handled.await {
                Ok(Ok(resp)) => resp,
                Ok(Err(never)) => match never {},
                Err(_) => crate::error::problem(
                    tessera_api::ErrorCode::Internal,
                    "The request failed inside the provider.",
                ),
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that goes away while its POST is being handled does not cut
    /// the handler short; a GET's is dropped as before (which shows the
    /// client's going away is seen by the server at all).
    #[tokio::test]
    async fn a_change_runs_to_its_end_when_the_client_goes_away() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::Duration;
        use tokio::io::AsyncWriteExt;

        let finished = |flag: &Arc<AtomicBool>| {
            let flag = flag.clone();
            move || async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                flag.store(true, Ordering::SeqCst);
                "done"
            }
        };
        let (changed, read) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let app = axum::Router::new()
            .route("/change", axum::routing::post(finished(&changed)))
            .route("/read", axum::routing::get(finished(&read)))
            .layer(FinishChanges);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        for request in [
            "POST /change HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            "GET /read HTTP/1.1\r\nHost: t\r\n\r\n",
        ] {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(stream);
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(changed.load(Ordering::SeqCst), "the POST was cut short");
        assert!(
            !read.load(Ordering::SeqCst),
            "the GET ran on: the test sees no disconnect"
        );
    }

    #[test]
    fn repeated_or_malformed_parameters_are_refused() {
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(
            Params::parse(b"a=1&a=2").unwrap_err(),
            "parameter a is repeated"
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.0.0.2"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        let peer = SocketAddr::new(proxy, 1234);
        assert_eq!(client_ip(peer, &h, &[]), proxy);
        assert_eq!(client_ip(peer, &h, &[proxy]), inner);
        assert_eq!(
            client_ip(peer, &h, &[proxy, inner]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn cookies_are_read_and_set_with_safe_attributes() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_session=xyz"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
        let set = set_cookie("n", "v", Some(60), true);
        let s = set.to_str().unwrap();
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=60"] {
            assert!(s.contains(attr), "{s}");
        }
        assert!(
            !set_cookie("n", "v", None, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}

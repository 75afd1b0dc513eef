//! The loopback redirect listener over real HTTP on 127.0.0.1.

use std::time::Duration;

use secrecy::ExposeSecret;
use tessera_client::ClientError;
use tessera_client::Lang;
use tessera_client::callback::Expected;
use tessera_client::loopback::LoopbackListener;
use tokio_util::sync::CancellationToken;

const ISSUER: &str = "https://id.example.org";

fn expected(state: &str) -> Expected<'_> {
    Expected {
        state,
        issuer: ISSUER,
        iss_required: true,
    }
}

/// Starts waiting, sends `query` to the callback like a browser would, and
/// returns the listener's outcome with the page the browser got.
async fn run(query: &str, lang: Lang) -> (Result<String, ClientError>, u16, String) {
    let listener = LoopbackListener::bind().await.unwrap();
    let uri = listener.redirect_uri().to_owned();
    assert!(
        uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"),
        "{uri}"
    );
    let cancel = CancellationToken::new();
    let waiting = tokio::spawn(async move {
        listener
            .wait(expected("state-1"), lang, Duration::from_secs(30), &cancel)
            .await
            .map(|c| c.expose_secret().to_owned())
    });
    let http = reqwest::Client::new();
    // A favicon request first: answered 404, the wait goes on.
    let fav = http
        .get(uri.replace("/callback", "/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(fav.status(), 404);
    let resp = http.get(format!("{uri}?{query}")).send().await.unwrap();
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body = resp.text().await.unwrap();
    (waiting.await.unwrap(), status, body)
}

const ISS: &str = "iss=https%3A%2F%2Fid.example.org";

#[tokio::test]
async fn a_good_callback_yields_the_code_and_a_success_page() {
    let (r, status, body) = run(&format!("code=the-code&state=state-1&{ISS}"), Lang::Fr).await;
    assert_eq!(r.unwrap(), "the-code");
    assert_eq!(status, 200);
    assert!(
        body.contains("lang=\"fr\"") && body.contains("Connexion reçue"),
        "{body}"
    );
}

#[tokio::test]
async fn stray_callbacks_are_refused_and_the_sign_in_still_completes() {
    let listener = LoopbackListener::bind().await.unwrap();
    let uri = listener.redirect_uri().to_owned();
    let cancel = CancellationToken::new();
    let waiting = tokio::spawn(async move {
        listener
            .wait(
                expected("state-1"),
                Lang::En,
                Duration::from_secs(30),
                &cancel,
            )
            .await
            .map(|c| c.expose_secret().to_owned())
    });
    let http = reqwest::Client::new();
    // What a local program or a stale tab could send: nothing, no state,
    // another sign-in's state (with a code or an error), garbage.
    let strays = [
        String::new(),
        format!("?code=c&{ISS}"),
        format!("?code=c&state=other&{ISS}"),
        format!("?error=access_denied&state=other&{ISS}"),
        "?code=a&code=b&state=state-1".to_owned(),
    ];
    for query in &strays {
        let resp = http.get(format!("{uri}{query}")).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body = resp.text().await.unwrap();
        if query.contains("state=other") {
            assert!(body.contains("state mismatch"), "{body}");
        }
    }
    let resp = http
        .get(format!("{uri}?code=the-code&state=state-1&{ISS}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(waiting.await.unwrap().unwrap(), "the-code");
}

#[tokio::test]
async fn iss_mismatch_and_missing_iss_are_refused() {
    let (r, status, _) = run(
        "code=c&state=state-1&iss=https%3A%2F%2Fevil.example",
        Lang::En,
    )
    .await;
    assert!(
        matches!(r, Err(ClientError::IssuerMismatch { .. })),
        "{r:?}"
    );
    assert_eq!(status, 400);
    let (r, _, _) = run("code=c&state=state-1", Lang::En).await;
    assert!(
        matches!(r, Err(ClientError::IssuerMismatch { got: None, .. })),
        "{r:?}"
    );
}

#[tokio::test]
async fn access_denied_is_explained_with_the_2fa_message() {
    let (r, status, body) = run(
        &format!("error=access_denied&state=state-1&{ISS}"),
        Lang::Fr,
    )
    .await;
    assert_eq!(r.unwrap_err().code(), "access_denied");
    assert_eq!(status, 400);
    assert!(body.contains("double authentification installée"), "{body}");
}

#[tokio::test]
async fn timeout_gives_a_clear_error() {
    let listener = LoopbackListener::bind().await.unwrap();
    let err = listener
        .wait(
            expected("s"),
            Lang::En,
            Duration::from_millis(200),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "timeout");
    assert!(err.to_string().contains("not completed"), "{err}");
}

#[tokio::test]
async fn cancel_stops_the_wait_and_frees_the_port() {
    let listener = LoopbackListener::bind().await.unwrap();
    let uri = listener.redirect_uri().to_owned();
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let waiting = tokio::spawn(async move {
        listener
            .wait(expected("s"), Lang::En, Duration::from_secs(600), &c2)
            .await
    });
    cancel.cancel();
    let err = waiting.await.unwrap().unwrap_err();
    assert_eq!(err.code(), "cancelled");
    assert!(reqwest::get(uri).await.is_err(), "nobody listens any more");
}

#[tokio::test]
async fn a_silent_connection_does_not_block_the_browser() {
    let listener = LoopbackListener::bind().await.unwrap();
    let uri = listener.redirect_uri().to_owned();
    let addr = uri
        .trim_start_matches("http://")
        .trim_end_matches("/callback")
        .to_owned();
    let waiting = tokio::spawn(async move {
        listener
            .wait(
                expected("state-1"),
                Lang::En,
                Duration::from_secs(60),
                &CancellationToken::new(),
            )
            .await
            .map(|c| c.expose_secret().to_owned())
    });
    // A client that connects and says nothing, and one that sends garbage.
    let _silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut garbage = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut garbage, b"\x00\x01 nonsense\r\n\r\n")
        .await
        .unwrap();
    drop(garbage);
    let resp = reqwest::get(format!("{uri}?code=ok&state=state-1&{ISS}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(waiting.await.unwrap().unwrap(), "ok");
}

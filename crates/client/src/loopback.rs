//! The loopback redirect listener of RFC 8252: `http://127.0.0.1:<port>/callback`
//! on an ephemeral port, waiting for the browser to bring the authorization
//! response back, then answering it with a small page in the user's language.

use std::time::Duration;

use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::callback::{self, Expected, Verdict};
use crate::error::ClientError;
use crate::i18n::Lang;

/// Path of the redirect URI on the listener.
pub const CALLBACK_PATH: &str = "/callback";
/// Longest request head read from the browser.
const MAX_HEAD: usize = 16 * 1024;
/// A connection that sends nothing for this long is dropped (a stray client
/// must not block the browser's real request).
const CONNECTION_IDLE: Duration = Duration::from_secs(10);

pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: String,
}

impl LoopbackListener {
    /// Binds 127.0.0.1 on a port chosen by the system.
    pub async fn bind() -> Result<Self, ClientError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| ClientError::Internal(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| ClientError::Internal(e.to_string()))?
            .port();
        Ok(LoopbackListener {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the authorization response, at most `timeout`, or until
    /// `cancel` fires. Requests for other paths (a favicon) get a 404, and
    /// requests on the callback path that are not this sign-in's answer
    /// (see [`callback::Verdict`]) a 400, and the wait goes on; the first
    /// callback with this sign-in's `state` decides.
    pub async fn wait(
        self,
        expected: Expected<'_>,
        lang: Lang,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<SecretString, ClientError> {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(ClientError::Cancelled),
            _ = tokio::time::sleep(timeout) => Err(ClientError::Timeout { seconds: timeout.as_secs() }),
            r = self.accept_loop(&expected, lang) => r,
        }
    }

    /// Serves each connection in its own task (a silent or slow client must
    /// not hold up the browser); the first answer to this sign-in decides
    /// the outcome.
    async fn accept_loop(
        &self,
        expected: &Expected<'_>,
        lang: Lang,
    ) -> Result<SecretString, ClientError> {
        let expected = OwnedExpected {
            state: expected.state.to_owned(),
            issuer: expected.issuer.to_owned(),
            iss_required: expected.iss_required,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        // Dropping the set when we return aborts the connections still open.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let (tx, expected) = (tx.clone(), expected.clone());
                    connections.spawn(async move {
                        if let Some(outcome) = serve_connection(stream, &expected, lang).await {
                            let _ = tx.send(outcome).await;
                        }
                    });
                }
                Some(outcome) = rx.recv() => return outcome,
            }
        }
    }
}

#[derive(Clone)]
struct OwnedExpected {
    state: String,
    issuer: String,
    iss_required: bool,
}

/// Answers one connection; `Some` when it was this sign-in's answer.
async fn serve_connection(
    mut stream: TcpStream,
    expected: &OwnedExpected,
    lang: Lang,
) -> Option<Result<SecretString, ClientError>> {
    let head = tokio::time::timeout(CONNECTION_IDLE, read_head(&mut stream))
        .await
        .ok()?
        .ok()?;
    let Some(target) = request_target(&head) else {
        respond(
            &mut stream,
            400,
            &page(lang, false, lang.pick("Bad request", "Requête invalide")),
        )
        .await;
        return None;
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        respond(
            &mut stream,
            404,
            &page(lang, false, lang.pick("Not found", "Introuvable")),
        )
        .await;
        return None;
    }
    let expected = Expected {
        state: &expected.state,
        issuer: &expected.issuer,
        iss_required: expected.iss_required,
    };
    let outcome = match callback::judge(query, &expected) {
        Verdict::Stray(e) => {
            respond(&mut stream, 400, &page(lang, false, &e.message(lang))).await;
            return None;
        }
        Verdict::Answer(outcome) => outcome,
    };
    match &outcome {
        Ok(_) => {
            let msg = lang.pick(
                "Sign-in received. You can close this window and go back to Tessera.",
                "Connexion reçue. Vous pouvez fermer cette fenêtre et revenir à Tessera.",
            );
            respond(&mut stream, 200, &page(lang, true, msg)).await;
        }
        Err(e) => respond(&mut stream, 400, &page(lang, false, &e.message(lang))).await,
    }
    Some(outcome)
}

/// Reads up to the end of the request head.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_HEAD {
            break;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The request target of a `GET` request line.
fn request_target(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (method == "GET" && version.starts_with("HTTP/1.") && target.starts_with('/')).then_some(target)
}

async fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The browser may already be gone; the outcome stands either way.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The page the browser shows after the redirect.
pub fn page(lang: Lang, ok: bool, message: &str) -> String {
    let title = match (ok, lang) {
        (true, Lang::En) => "Tessera — signed in",
        (true, Lang::Fr) => "Tessera — connexion reçue",
        (false, Lang::En) => "Tessera — sign-in failed",
        (false, Lang::Fr) => "Tessera — échec de la connexion",
    };
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}\
         @media (prefers-color-scheme:dark){{body{{background:#111;color:#eee}}}}</style></head>\
         <body><h1>{title}</h1><p role=\"status\">{}</p></body></html>",
        lang.as_str(),
        escape_html(message)
    )
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_parsing() {
        assert_eq!(
            request_target("GET /callback?code=a HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some("/callback?code=a")
        );
        assert_eq!(request_target("POST /callback HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target("GET http://evil/ HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target("garbage"), None);
        assert_eq!(request_target(""), None);
    }

    #[test]
    fn page_escapes_and_speaks_the_language() {
        let p = page(Lang::Fr, false, "<script>x</script>");
        assert!(p.contains("lang=\"fr\"") && p.contains("échec"));
        assert!(!p.contains("<script>") && p.contains("&lt;script&gt;"));
    }
}

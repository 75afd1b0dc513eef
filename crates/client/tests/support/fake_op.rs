//! A stand-in provider on 127.0.0.1 that serves a discovery document (the
//! test writes what it says) and an empty key set, nothing else: for the
//! checks the client makes on what a provider tells it, which the
//! project's own provider never gets wrong.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct FakeOp {
    pub issuer: String,
    server: JoinHandle<()>,
}

impl Drop for FakeOp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeOp {
    /// Serves a complete discovery document for its own address, first
    /// changed by `tune` (which gets the issuer).
    pub async fn start(tune: impl FnOnce(&str, &mut Value)) -> FakeOp {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let mut doc = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "revocation_endpoint": format!("{issuer}/revoke"),
            "end_session_endpoint": format!("{issuer}/end-session"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "acr_values_supported": ["eidas1-mfa"],
            "authorization_response_iss_parameter_supported": true,
        });
        tune(&issuer, &mut doc);
        let doc = doc.to_string();
        let server = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let doc = doc.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]);
                    let path = head.split(' ').nth(1).unwrap_or("");
                    let (status, body) = match path {
                        "/.well-known/openid-configuration" => ("200 OK", doc),
                        "/jwks" => ("200 OK", r#"{"keys":[]}"#.to_owned()),
                        _ => ("404 Not Found", "{}".to_owned()),
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        FakeOp { issuer, server }
    }
}

/// `http://127.0.0.1:<port>` where nothing listens.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

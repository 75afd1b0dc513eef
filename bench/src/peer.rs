//! Node's `oidc-provider` (the OpenID-certified provider the client's
//! interoperability test runs, crates/client/tests/interop/op.mjs) as the
//! peer of the token endpoint and userinfo: same driver, same machine, same
//! run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http1::Getter;
use crate::load::closed_loop;
use crate::report::Measure;
use crate::signin;

const OP_DIR: &str = "crates/client/tests/interop";

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Refresh-grant and userinfo figures of `oidc-provider` with `clients`
/// concurrent clients, or why they could not be measured.
pub fn measure(
    rt: &tokio::runtime::Runtime,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<(Measure, Measure), String> {
    if !Path::new(OP_DIR)
        .join("node_modules/oidc-provider")
        .is_dir()
    {
        return Err(format!("{OP_DIR}/node_modules missing (npm install there)"));
    }
    let mut child = Command::new("node")
        .arg("op.mjs")
        .current_dir(OP_DIR)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    stdout.read_line(&mut line).map_err(|e| e.to_string())?;
    // Keep reading: Node dies of EPIPE if it prints to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let _node = Node(child);
    let issuer = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| v["issuer"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("unexpected first line from op.mjs: {line:?}"))?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let doc: serde_json::Value = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let endpoint = |name: &str| {
            doc[name]
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("no {name}"))
        };
        let (authz, token, userinfo) = (
            endpoint("authorization_endpoint")?,
            endpoint("token_endpoint")?,
            endpoint("userinfo_endpoint")?,
        );
        // Sign-ins with a path-aware cookie store (op.mjs scopes its
        // interaction cookies by path), one connection per request.
        let flow_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| e.to_string())?;
        let mut refresh = Vec::new();
        let mut access = Vec::new();
        for _ in 0..clients {
            let t = signin::code_flow_without_pages(
                &flow_http,
                &issuer,
                &authz,
                &token,
                "openid offline_access profile email",
            )
            .await?;
            refresh.push(Mutex::new(
                t["refresh_token"]
                    .as_str()
                    .ok_or("the peer issued no refresh token")?
                    .to_owned(),
            ));
            access.push(
                t["access_token"]
                    .as_str()
                    .ok_or("no access token")?
                    .to_owned(),
            );
        }
        // Userinfo first: oidc-provider invalidates the grant's earlier
        // access tokens once its refresh token rotates.
        let getter = Arc::new(Getter::new(&userinfo, clients, &access)?);
        let userinfo_stats = closed_loop(clients, warmup, measure, move |w, _| {
            let getter = getter.clone();
            async move { getter.expect(w, b"{").await }
        })
        .await;
        let userinfo_m = Measure::from_stats(&userinfo_stats, clients);
        let refresh = Arc::new(refresh);
        let (h, t) = (http.clone(), token.clone());
        let stats = closed_loop(clients, warmup, measure, move |w, _| {
            let (http, token, refresh) = (h.clone(), t.clone(), refresh.clone());
            async move {
                let current = refresh[w].lock().unwrap().clone();
                let resp = http
                    .post(&token)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", current.as_str()),
                        ("client_id", signin::CLIENT_ID),
                    ])
                    .send()
                    .await
                    .map_err(|e| format!("stop: {e}"))?;
                let status = resp.status();
                let body: serde_json::Value =
                    resp.json().await.map_err(|e| format!("stop: {e}"))?;
                if !status.is_success() {
                    return Err(format!("stop: {status} {body}"));
                }
                // Rotation when the peer rotates; otherwise the same token again.
                if let Some(next) = body["refresh_token"].as_str() {
                    *refresh[w].lock().unwrap() = next.to_owned();
                }
                Ok(())
            }
        })
        .await;
        let refresh_m = Measure::from_stats(&stats, clients);
        let refresh_stats = stats;
        for (what, st) in [("refresh", &refresh_stats), ("userinfo", &userinfo_stats)] {
            if let Some(e) = &st.first_error {
                eprintln!("oidc-provider {what}: {} errors, first: {e}", st.errors);
            }
        }
        Ok((refresh_m, userinfo_m))
    })
}

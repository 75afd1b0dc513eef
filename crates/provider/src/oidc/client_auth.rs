//! Client authentication at the token and revocation endpoints: a public
//! client names itself with `client_id`; a confidential one proves its
//! secret with HTTP Basic (`client_secret_basic`) or in the form
//! (`client_secret_post`).

use axum::http::{HeaderMap, header};
use base64::Engine;

use crate::error::OAuthError;
use crate::password;
use crate::state::Provider;
use crate::store::Client;
use crate::web::Params;

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// (client_id, secret) from `Authorization: Basic`, if present.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic authorization header");
    let value = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(bad());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded.
    Ok(Some((percent_decode(id), percent_decode(secret))))
}

pub async fn authenticate(
    app: &Provider,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Client, OAuthError> {
    let (client_id, secret) = match basic(headers)? {
        Some((id, secret)) => {
            if form.get("client_id").is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_client(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret))
        }
        None => match form.get("client_id") {
            Some(id) => (id.to_owned(), form.get("client_secret").map(str::to_owned)),
            None => {
                return Err(OAuthError::invalid_client(
                    "client authentication is missing",
                ));
            }
        },
    };
    let client = app
        .store
        .get_client(&client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    match (&client.secret_hash, secret, client.public) {
        (_, None, true) => Ok(client),
        (Some(hash), Some(secret), false) if password::verify(&secret, &hash.0) => Ok(client),
        (_, Some(_), true) => Err(OAuthError::invalid_client("a public client has no secret")),
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

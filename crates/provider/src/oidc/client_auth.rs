//! Client authentication at the token and revocation endpoints: a public
//! client names itself with `client_id`; a confidential one proves its
//! secret with HTTP Basic (`client_secret_basic`) or in the form
//! (`client_secret_post`).

use axum::http::{HeaderMap, header};
use base64::Engine;

use crate::crypto::{ct_eq, sha256_b64url};
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

/// The stored form of a generated client secret. Such a secret carries 256
/// bits of entropy, so a plain SHA-256 is as safe as a password hash and keeps
/// the token endpoint fast; PHC (Argon2) hashes set by other means still work.
pub fn hash_generated_secret(secret: &str) -> String {
    format!("{SHA256_PREFIX}{}", sha256_b64url(secret))
}

const SHA256_PREFIX: &str = "$sha256$";

/// A PHC hash is verified on the password verifier threads, like a user's
/// password: Argon2 on an async worker would stall every other request.
async fn secret_matches(secret: &str, stored: &str) -> bool {
    match stored.strip_prefix(SHA256_PREFIX) {
        Some(digest) => ct_eq(&sha256_b64url(secret), digest),
        None => {
            password::verify_off_thread(secret.to_owned().into(), Some(stored.to_owned())).await
        }
    }
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
        (Some(hash), Some(secret), false) if secret_matches(&secret, &hash.0).await => Ok(client),
        (_, Some(_), true) => Err(OAuthError::invalid_client("a public client has no secret")),
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generated_secrets_use_sha256_and_phc_hashes_still_verify() {
        let stored = hash_generated_secret("s3cret-from-the-cli");
        assert!(stored.starts_with("$sha256$"));
        assert!(secret_matches("s3cret-from-the-cli", &stored).await);
        assert!(!secret_matches("s3cret-from-the-clj", &stored).await);
        let phc = password::hash("legacy");
        assert!(secret_matches("legacy", &phc).await);
        assert!(!secret_matches("legacy", "$sha256$").await);
    }
}

//! The sign-in transaction: the validated authorization request and how far
//! the user got, kept in the store between form posts, keyed by the hash of
//! a random id and bound to the browser by a cookie.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::crypto::{ct_eq, random_token, token_hash};
use crate::i18n::Lang;
use crate::oidc::authorize::AuthRequest;
use crate::state::Provider;
use crate::store::{SignInTransaction, StoreError};
use crate::web::{SIGNIN_COOKIE, cookie, set_cookie};

/// What the transaction remembers between form posts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Txn {
    pub csrf: String,
    /// Hash of the browser-binding cookie.
    pub binding_hash: String,
    pub request: AuthRequest,
    pub stage: Stage,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    Password,
    /// Password known good (now or by the browser session): a code is due.
    SecondFactor {
        uid: String,
    },
    /// No device yet: the confirming code enrols it and signs in.
    Enrol {
        uid: String,
        pending_id: String,
    },
    /// The first device is confirmed and its recovery codes were shown (once,
    /// in the answer to the confirming code): the next post, "I have saved
    /// them", completes the sign-in. Without this stage a user who enrols on
    /// the sign-in page of some application would have no recovery codes.
    SaveRecoveryCodes {
        uid: String,
        #[serde(with = "time::serde::rfc3339")]
        authenticated_at: OffsetDateTime,
    },
}

/// Starts a sign-in and answers with the form of its first stage. The form
/// is the answer itself rather than a redirect to `GET /signin?tx=…`: one
/// request and one store read fewer per sign-in (as the password post
/// answers with the code form); `GET /signin?tx=…` still shows the current
/// stage (reload, language, a link kept by the user).
pub(super) async fn start_transaction(
    app: &Provider,
    request: AuthRequest,
    stage: Stage,
    headers: &HeaderMap,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<Response, StoreError> {
    // One binding cookie per browser, shared by concurrent sign-ins.
    let binding = cookie(headers, SIGNIN_COOKIE).unwrap_or_else(|| random_token(32));
    let tx = random_token(32);
    let lifetime = app.config.tokens.sign_in_secs;
    let txn = Txn {
        csrf: random_token(32),
        binding_hash: token_hash(&binding),
        request,
        stage,
        expires_at: now + Duration::seconds(lifetime as i64),
    };
    save(app, &tx, &txn).await?;
    let mut resp = super::page(app, &tx, &txn, lang, None, StatusCode::OK).await?;
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGNIN_COOKIE, &binding, Some(lifetime), app.secure_cookies),
    );
    Ok(resp)
}

pub(super) async fn save(app: &Provider, tx: &str, txn: &Txn) -> Result<(), StoreError> {
    let payload = serde_json::to_value(txn).map_err(StoreError::corrupt)?;
    app.store
        .put_transaction(
            &token_hash(tx),
            &SignInTransaction {
                payload,
                expires_at: txn.expires_at,
            },
        )
        .await
}

/// The transaction named by `tx` if this browser owns it.
pub(super) async fn load(
    app: &Provider,
    tx: &str,
    headers: &HeaderMap,
) -> Result<Option<Txn>, StoreError> {
    if tx.is_empty() || tx.len() > 100 {
        return Ok(None);
    }
    let Some(stored) = app.store.get_transaction(&token_hash(tx)).await? else {
        return Ok(None);
    };
    let Ok(txn) = serde_json::from_value::<Txn>(stored.payload) else {
        return Ok(None);
    };
    let bound =
        cookie(headers, SIGNIN_COOKIE).is_some_and(|b| ct_eq(&token_hash(&b), &txn.binding_hash));
    Ok(bound.then_some(txn))
}

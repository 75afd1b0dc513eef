//! The end of a sign-in: the browser session, the authorization code and
//! the redirect back to the client.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use time::{Duration, OffsetDateTime};

use crate::audit::{self, Origin};
use crate::crypto::{random_token, token_hash};
use crate::oidc::authorize::AuthRequest;
use crate::oidc::redirect::{error_redirect, see_other, with_params};
use crate::state::Provider;
use crate::store::{self, AuditAction, AuthCodeGrant, BrowserSession, Device, StoreError, User};
use crate::trusted;
use crate::web::{SESSION_COOKIE, cookie, set_cookie};

/// How the user was authenticated.
pub struct Completion {
    uid: String,
    amr: Vec<String>,
    /// `Some` when an existing browser session answered (no new sign-in).
    existing: Option<(BrowserSession, String)>,
    /// The browser's previous session cookie, ended when a new session starts.
    replaces: Option<String>,
    /// When the factors were proven, if not now (the sign-in waited for the
    /// user to save their recovery codes): the session's `auth_time`.
    authenticated_at: Option<OffsetDateTime>,
}

impl Completion {
    /// A sign-in that just happened with these factors.
    pub fn fresh(uid: String, amr: &[&str]) -> Self {
        Completion {
            uid,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            existing: None,
            replaces: None,
            authenticated_at: None,
        }
    }

    /// The factors were proven at `at`, before this completion.
    pub fn authenticated_at(mut self, at: OffsetDateTime) -> Self {
        self.authenticated_at = Some(at);
        self
    }

    /// Ends the browser's current session (if any) when this one starts.
    pub fn replacing(mut self, headers: &HeaderMap) -> Self {
        self.replaces = cookie(headers, SESSION_COOKIE);
        self
    }

    /// An existing session (cookie value given) that satisfies the request.
    pub fn from_session(uid: String, session: BrowserSession, cookie_value: String) -> Self {
        Completion {
            uid,
            amr: session.amr.clone(),
            existing: Some((session, cookie_value)),
            replaces: None,
            authenticated_at: None,
        }
    }

    /// Keeps only the first factor of an existing session whose second
    /// factor no longer exists (the account's devices were reset since).
    pub fn without_second_factor(mut self) -> Self {
        self.amr.retain(|m| m == "pwd");
        self
    }
}

/// Skips the code when this browser is trusted by `user`: the sign-in
/// completes with the password (or session) and the remembered factor.
/// The trust was earned with a code of one of the user's devices: without
/// any device left (a help-desk reset) it stands for nothing, and the user
/// enrols again.
///
/// A request with `max_age` asks for a recent authentication, which a
/// browser remembered for days is not: the code is asked (the account API's
/// step-up relies on it, see `account::auth::require_recent`).
/// `password_proven_at` is when the password was checked, if not now (an
/// existing session): the remembered factor proves nothing new, so the
/// sign-in keeps that `auth_time`.
pub async fn via_trusted_browser(
    app: &Provider,
    tx: Option<&str>,
    request: &AuthRequest,
    (user, devices): (&User, &[Device]),
    headers: &HeaderMap,
    origin: &Origin,
    password_proven_at: Option<OffsetDateTime>,
) -> Result<Option<Response>, StoreError> {
    if devices.is_empty() || request.max_age.is_some() {
        return Ok(None);
    }
    let now = OffsetDateTime::now_utc();
    if trusted::recognise(app, headers, user, now).await?.is_none() {
        return Ok(None);
    }
    // RFC 8176 has no value for a remembered browser; "mfa" says two factors
    // were established, without claiming a code was typed now ("otp").
    let mut done = Completion::fresh(user.uid.clone(), &["pwd", "mfa"]).replacing(headers);
    if let Some(at) = password_proven_at {
        done = done.authenticated_at(at);
    }
    finish(app, tx, request, done, origin, Vec::new())
        .await
        .map(Some)
}

/// Issues the code and redirects to the client. A fresh sign-in gets a new
/// browser session (a new cookie value: no fixation); the transaction, if
/// any, is removed so it cannot complete twice.
pub async fn finish(
    app: &Provider,
    tx: Option<&str>,
    request: &AuthRequest,
    done: Completion,
    origin: &Origin,
    mut cookies: Vec<HeaderValue>,
) -> Result<Response, StoreError> {
    let now = OffsetDateTime::now_utc();
    let mfa_done = done.amr.iter().any(|a| a == "mfa");
    let Some(acr) = request.acr.emitted(mfa_done, &app.config) else {
        return Ok(error_redirect(
            &request.redirect_uri,
            "access_denied",
            "the requested acr could not be satisfied",
            request.state.as_deref(),
            &app.issuer,
        ));
    };
    let (session_hash, auth_time, new_session) = match done.existing {
        Some((session, value)) => (token_hash(&value), session.auth_time, None),
        None => {
            if let Some(old) = &done.replaces {
                app.store.delete_session(&token_hash(old)).await?;
            }
            let value = random_token(32);
            let hash = token_hash(&value);
            let lifetime = app.config.tokens.session_secs;
            let auth_time = done.authenticated_at.unwrap_or(now);
            let session = BrowserSession {
                uid: done.uid.clone(),
                auth_time,
                amr: done.amr.clone(),
                created_at: now,
                expires_at: now + Duration::seconds(lifetime as i64),
            };
            cookies.push(set_cookie(
                SESSION_COOKIE,
                &value,
                Some(lifetime),
                app.secure_cookies,
            ));
            (hash.clone(), auth_time, Some((hash, session)))
        }
    };
    let code = random_token(32);
    let grant = AuthCodeGrant {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        uid: done.uid.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: Some(request.code_challenge.clone()),
        code_challenge_method: Some("S256".into()),
        acr: Some(acr.clone()),
        amr: done.amr.clone(),
        auth_time,
        claims: request.claims.clone(),
        session_id: Some(session_hash),
        issued_at: now,
    };
    let ttl = std::time::Duration::from_secs(app.config.tokens.auth_code_secs);
    let amr = done.amr.join(" ");
    // The writes of a completed sign-in are independent of each other, and
    // all are done before the browser is sent on: issued together, they
    // share one commit of the embedded store and one flush to Redis. A fresh
    // sign-in with a second factor clears the account's failure counter; one
    // with the password alone (a client that waives 2FA) must not, or it
    // would wipe the count of wrong codes typed in another sign-in.
    let session_stored = async {
        match &new_session {
            Some((hash, session)) if mfa_done => tokio::try_join!(
                app.store.put_session(hash, session),
                app.config.rate_limit.success(&*app.store, &done.uid),
            )
            .map(drop),
            Some((hash, session)) => app.store.put_session(hash, session).await,
            None => Ok(()),
        }
    };
    let code_hash = token_hash(&code);
    let code_stored = app.store.put_auth_code(&code_hash, &grant, ttl);
    // The binding cookie stays: other sign-ins in this browser may use it.
    let transaction_removed = async {
        match tx {
            Some(tx) => app
                .store
                .delete_transaction(&token_hash(tx))
                .await
                .map(drop),
            None => Ok(()),
        }
    };
    let details = [
        ("client_id", request.client_id.as_str()),
        ("acr", acr.as_str()),
        ("amr", amr.as_str()),
    ];
    let recorded = audit::record(
        &*app.store,
        origin,
        AuditAction::SignInSucceeded,
        &done.uid,
        Some(&done.uid),
        &details,
    );
    // Nor do they wait for the disk (`store::lazily`): they become durable
    // with the next durable commit, the store's close, or at the latest
    // `store::FLUSH_EVERY` later (as does the code's redemption, without
    // which the sign-in has no effect). A crash before that loses them all
    // together, one transaction:
    // the code, the session, the audit record (of a sign-in that then had
    // no effect) and the used-code marker of the code typed, which is why
    // a store recovered from a crash refuses every code that could have
    // been accepted before (`Store::recovered_at`). One durable commit per
    // sign-in fewer (benchmark: ARCHITECTURE.md, performance).
    let (stored, ()) = store::together(store::lazily(async {
        tokio::join!(
            async { tokio::try_join!(session_stored, code_stored, transaction_removed) },
            recorded
        )
    }))
    .await;
    stored?;
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        params.push(("state", state.as_str()));
    }
    params.push(("iss", app.issuer.as_str()));
    let mut resp = see_other(&with_params(&request.redirect_uri, &params));
    for c in cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

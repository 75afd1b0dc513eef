//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
//!
//! With a valid `id_token_hint` for the signed-in user, the session ends at
//! once; otherwise the user confirms with a form whose CSRF token derives
//! from the session cookie. `post_logout_redirect_uri` must be registered
//! for the client (exact match, loopback IPs on any port as for redirect URIs) or the request is refused with a page.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;

use super::redirect::{redirect_uri_matches, see_other, with_params};
use crate::audit;
use crate::crypto::{ct_eq, token_hash};
use crate::i18n::Lang;
use crate::pages::{LogoutForm, MessagePage, error_page, render};
use crate::state::{AppState, Provider};
use crate::store::{AuditAction, StoreError};
use crate::tokens::ID_TOKEN_TYP;
use crate::web::{self, Params, SESSION_COOKIE, clear_cookie, cookie};

fn logout_csrf(session_value: &str) -> String {
    token_hash(&format!("logout:{session_value}"))
}

pub async fn logout(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let body = match body {
        Ok(b) => b,
        Err(rejection) => return error_page(lang, rejection.status(), lang.texts().bad_request),
    };
    let raw = if method == Method::POST {
        body.to_vec()
    } else {
        query.unwrap_or_default().into_bytes()
    };
    let params = match Params::parse(&raw) {
        Ok(p) => p,
        Err(e) => {
            return error_page(
                lang,
                StatusCode::BAD_REQUEST,
                &format!("{}: {e}.", lang.texts().bad_request),
            );
        }
    };
    match handle(&app, peer, &method, &headers, &params, lang).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "logout failed on the store");
            error_page(
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                lang.texts().unavailable,
            )
        }
    }
}

async fn handle(
    app: &Provider,
    peer: SocketAddr,
    method: &Method,
    headers: &HeaderMap,
    params: &Params,
    lang: Lang,
) -> Result<Response, StoreError> {
    let t = lang.texts();
    let bad = |why: &str| {
        Ok(error_page(
            lang,
            StatusCode::BAD_REQUEST,
            &format!("{}: {why}.", t.bad_request),
        ))
    };
    // The hint may have expired; its signature and issuer must still hold.
    let hint = match params.get("id_token_hint") {
        None => None,
        // Typed as an ID token: an access token of the same user is not a hint.
        Some(token) => match app.verify_jwt(token, Some(ID_TOKEN_TYP)).await {
            Ok(c) if c["iss"] == app.issuer.as_str() => Some(c),
            _ => return bad("id_token_hint is not an ID token of this provider"),
        },
    };
    let hint_aud = hint.as_ref().and_then(|c| match &c["aud"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    });
    let client_id = match (params.get("client_id"), hint_aud.as_deref()) {
        (Some(a), Some(b)) if a != b => return bad("client_id does not match id_token_hint"),
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(client_id) = &client_id else {
                return bad("post_logout_redirect_uri needs client_id or id_token_hint");
            };
            match app.store.get_client(client_id).await? {
                Some(c)
                    if c.post_logout_redirect_uris
                        .iter()
                        .any(|r| redirect_uri_matches(r, uri)) =>
                {
                    Some(uri.to_owned())
                }
                _ => return bad("post_logout_redirect_uri is not registered for this client"),
            }
        }
    };
    let state = params.get("state").map(str::to_owned);
    let session_value = cookie(headers, SESSION_COOKIE);
    let session = match &session_value {
        Some(v) => app.store.get_session(&token_hash(v)).await?,
        None => None,
    };
    let confirmed = match (&session, &session_value) {
        (None, _) => true, // nothing to end
        (Some(s), Some(v)) => {
            let hint_matches = hint.as_ref().is_some_and(|c| c["sub"] == s.uid.as_str());
            let posted = *method == Method::POST
                && params
                    .get("csrf")
                    .is_some_and(|c| ct_eq(c, &logout_csrf(v)));
            hint_matches || posted
        }
        (Some(_), None) => true,
    };
    if !confirmed {
        let form = LogoutForm {
            csrf: logout_csrf(session_value.as_deref().unwrap_or_default()),
            post_logout_redirect_uri: redirect,
            client_id,
            state,
            button: t.logout_button,
        };
        return Ok(render(
            StatusCode::OK,
            &MessagePage {
                lang: lang.code(),
                title: t.logout_title,
                message: t.logout_confirm,
                is_error: false,
                logout_form: Some(form),
            },
        ));
    }
    if let (Some(s), Some(v)) = (&session, &session_value) {
        app.store.delete_session(&token_hash(v)).await?;
        let origin = web::origin(peer, headers, &app.config.trusted_proxies);
        audit::record(
            &*app.store,
            &origin,
            AuditAction::SignedOut,
            &s.uid,
            Some(&s.uid),
            &[],
        )
        .await;
    }
    let mut resp = match redirect {
        Some(uri) => {
            let params: Vec<(&str, &str)> = state.iter().map(|s| ("state", s.as_str())).collect();
            see_other(&with_params(&uri, &params))
        }
        None => render(
            StatusCode::OK,
            &MessagePage {
                lang: lang.code(),
                title: t.logout_title,
                message: t.logged_out,
                is_error: false,
                logout_form: None,
            },
        ),
    };
    resp.headers_mut().append(
        header::SET_COOKIE,
        clear_cookie(SESSION_COOKIE, app.secure_cookies),
    );
    Ok(resp)
}

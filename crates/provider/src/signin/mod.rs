//! The sign-in pages: password, then the second factor (or enrolment of a
//! first authenticator) when the acr or the MFA policy needs one.
//!
//! A sign-in is a transaction in the store, keyed by the hash of a random id
//! carried in the page URL and form; it is bound to the browser by a cookie
//! (only its hash is kept) and every form carries a CSRF token. Form fields
//! are exactly `username`, `password`, `otp`, `trust_browser` (plus the
//! hidden `tx` and `csrf`), so any HTTP client can drive a sign-in; a client
//! may send `otp` together with the password. The code form repeats the
//! account's name in a hidden `username` (password managers file the code
//! under it); the transaction decides whose code it is. The account a form
//! names is read, and a password's or a code's attempt counted (the code
//! marked used), with the transaction (`submit`).

mod complete;
mod first_factor;
mod second_factor;
mod transaction;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use time::OffsetDateTime;

use crate::audit::{self, Origin};
use crate::crypto::{ct_eq, token_hash};
use crate::i18n::Lang;
use crate::oidc::authorize::{AuthRequest, fresh_enough};
use crate::oidc::redirect::error_redirect;
use crate::pages::{EnrolView, RecoveryView, SignInPage, error_page, render};
use crate::ratelimit::{self, Attempt};
use crate::state::Provider;
use crate::store::{self, AuditAction, Device, StoreError, StoreResult, User};
use crate::web::{self, Params, SESSION_COOKIE, cookie};
use crate::{policy, totp, trusted};

pub use complete::Completion;
pub use transaction::{Stage, Txn};
use transaction::{load, start_transaction};

/// Entry from the authorization endpoint with a validated request.
pub async fn begin(
    app: &Provider,
    request: AuthRequest,
    headers: &HeaderMap,
    origin: Origin,
    lang: Lang,
) -> Response {
    match begin_inner(app, request.clone(), headers, &origin, lang).await {
        Ok(resp) => resp,
        Err(e) => store_failure(lang, e),
    }
}

async fn begin_inner(
    app: &Provider,
    request: AuthRequest,
    headers: &HeaderMap,
    origin: &Origin,
    lang: Lang,
) -> Result<Response, StoreError> {
    let now = OffsetDateTime::now_utc();
    // An existing browser session may answer at once, or need only a code.
    if let Some(session_value) = cookie(headers, SESSION_COOKIE)
        && let Some(session) = app.store.get_session(&token_hash(&session_value)).await?
        && fresh_enough(&request, session.auth_time, now)
        && let Some(user) = active_user(app, &session.uid).await?
        // A session from before a reset of the devices is not reused at all
        // (its password proof included): the reset may be a theft's answer.
        && user.signed_in_since_reset(session.auth_time.unix_timestamp())
    {
        // A second factor proven earlier stands only while the account
        // still has one: after a reset of its devices the user enrols again.
        let needs = needs_mfa(app, &request, &user);
        let claims_mfa = session.amr.iter().any(|a| a == "mfa");
        let devices = if needs || claims_mfa {
            app.store.list_devices(&user.uid).await?
        } else {
            Vec::new()
        };
        // A request for a recent sign-in (`max_age`, the account API's
        // step-up) is answered by a code typed in this session, not by a
        // remembered browser (see `complete::via_trusted_browser`).
        let typed_code = request.max_age.is_none() || crate::acr::code_typed(&session.amr);
        let mfa_done = claims_mfa && typed_code && !devices.is_empty();
        if !needs || mfa_done {
            let mut done = Completion::from_session(user.uid.clone(), session, session_value);
            if !mfa_done {
                done = done.without_second_factor();
            }
            return complete::finish(app, None, &request, done, origin, Vec::new()).await;
        }
        if let Some(resp) = complete::via_trusted_browser(
            app,
            None,
            &request,
            (&user, &devices),
            headers,
            origin,
            Some(session.auth_time),
        )
        .await?
        {
            return Ok(resp);
        }
        if request.prompt_none {
            return Ok(interaction_required(app, &request));
        }
        let stage = second_factor::stage_for(app, &user, &devices, lang, origin, now).await?;
        return start_transaction(app, request, stage, headers, lang, now).await;
    }
    if request.prompt_none {
        return Ok(error_redirect(
            &request.redirect_uri,
            "login_required",
            "the user is not signed in",
            request.state.as_deref(),
            &app.issuer,
        ));
    }
    start_transaction(app, request, Stage::Password, headers, lang, now).await
}

fn interaction_required(app: &Provider, request: &AuthRequest) -> Response {
    error_redirect(
        &request.redirect_uri,
        "interaction_required",
        "a second factor is required",
        request.state.as_deref(),
        &app.issuer,
    )
}

pub(crate) async fn active_user(app: &Provider, uid: &str) -> Result<Option<User>, StoreError> {
    Ok(app.store.get_user(uid).await?.filter(|u| !u.disabled))
}

pub(crate) fn needs_mfa(app: &Provider, request: &AuthRequest, user: &User) -> bool {
    request.acr.needs_mfa(&app.config)
        || policy::mfa_required(&app.config.mfa, request.client_requires_mfa, user)
}

fn store_failure(lang: Lang, e: StoreError) -> Response {
    tracing::error!(code = e.code(), error = %e, "sign-in failed on the store");
    error_page(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        lang.texts().unavailable,
    )
}

/// `GET /signin?tx=…`: the form of the current stage.
pub async fn show(
    State(app): State<crate::state::AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let tx = Params::parse(q.unwrap_or_default().as_bytes())
        .ok()
        .and_then(|p| p.get("tx").map(str::to_owned))
        .unwrap_or_default();
    match load(&app, &tx, &headers).await {
        Ok(Some(txn)) => {
            let lang = Lang::for_request(txn.request.ui_locales.as_deref(), &headers);
            match page(&app, &tx, &txn, lang, None, StatusCode::OK).await {
                Ok(r) => r,
                Err(e) => store_failure(lang, e),
            }
        }
        Ok(None) => error_page(lang, StatusCode::GONE, lang.texts().expired),
        Err(e) => store_failure(lang, e),
    }
}

/// Renders the current stage's form, with an optional error.
async fn page(
    app: &Provider,
    tx: &str,
    txn: &Txn,
    lang: Lang,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, StoreError> {
    stage_page(app, tx, txn, lang, error, status, Vec::new()).await
}

/// [`page`], with the recovery codes of a first device just confirmed:
/// only the answer to the confirming code has them.
async fn stage_page(
    app: &Provider,
    tx: &str,
    txn: &Txn,
    lang: Lang,
    error: Option<String>,
    status: StatusCode,
    fresh_recovery_codes: Vec<String>,
) -> Result<Response, StoreError> {
    let t = lang.texts();
    let (stage_password, username, enrol, recovery) = match &txn.stage {
        Stage::Password => (
            true,
            txn.request.login_hint.clone().unwrap_or_default(),
            None,
            None,
        ),
        Stage::SecondFactor { uid } => (false, uid.clone(), None, None),
        Stage::Enrol { uid, pending_id } => {
            let enrol = match app.store.get_pending_enrollment(uid, pending_id).await? {
                Some(p) => match app.secret_key.open(&p.secret.0, uid) {
                    Ok(secret) => {
                        let secret = secrecy::ExposeSecret::expose_secret(&secret);
                        let uri = totp::otpauth_uri(secret, &app.config.totp_issuer, uid);
                        Some(EnrolView {
                            qr_data_uri: totp::qr_svg_data_uri(&uri),
                            secret_grouped: totp::grouped(&totp::base32(secret)),
                        })
                    }
                    Err(_) => return Err(StoreError::Corrupt("pending enrolment secret".into())),
                },
                None => return Ok(error_page(lang, StatusCode::GONE, t.expired)),
            };
            (false, uid.clone(), enrol, None)
        }
        Stage::SaveRecoveryCodes { uid, .. } => (
            false,
            uid.clone(),
            None,
            Some(RecoveryView::new(fresh_recovery_codes)),
        ),
    };
    Ok(render(
        status,
        &SignInPage {
            lang: lang.code(),
            t,
            client_name: &txn.request.client_name,
            tx,
            csrf: &txn.csrf,
            stage_password,
            username: &username,
            enrol,
            recovery,
            error,
        },
    ))
}

/// `POST /signin`: one step of the sign-in.
pub async fn submit(
    State(app): State<crate::state::AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let t = lang.texts();
    let body = match body {
        Ok(b) => b,
        Err(rejection) => return error_page(lang, rejection.status(), t.bad_request),
    };
    let Ok(form) = Params::parse(&body) else {
        return error_page(lang, StatusCode::BAD_REQUEST, t.bad_request);
    };
    let tx = form.get("tx").unwrap_or_default().to_owned();
    let origin = web::origin(peer, &headers, &app.config.trusted_proxies);
    // A form names its account (the password form's `username`, the code
    // form's hidden one): that account's reads are sent with the
    // transaction's (one store round trip before the factor is checked
    // instead of two), and awaited only once the transaction shows the
    // account is the one its stage checks (`Step::run`). Otherwise they are
    // dropped unanswered: no answer waits on them, so none says by its
    // timing whether the account named exists.
    let typed = form.get("username").map(|name| name.trim().to_owned());
    let named = typed
        .clone()
        .filter(|_| form.get("password").is_some() || form.get("otp").is_some())
        .filter(|name| !name.is_empty());
    // A password's or a code's attempt is counted with those reads too (it
    // must be before the factor is checked, see `ratelimit`), and given back
    // when the transaction turns out not to be at the stage of the account
    // named (`Step::run`) or not to be there at all (below). A code form's
    // code is marked used with them (`second_factor`), and the mark given
    // back likewise.
    let counting = match (form.get("password"), form.get("otp")) {
        (Some(_), _) => Some(EarlyAttempt::count(&app, typed, &origin.ip, None)),
        (None, Some(code)) if named.is_some() => Some(EarlyAttempt::count(
            &app,
            named.clone(),
            &origin.ip,
            Some(code.trim()),
        )),
        _ => None,
    };
    let mut pending = std::pin::pin!(Account::read(&app, named.as_deref(), true));
    let mut loading = std::pin::pin!(load(&app, &tx, &headers));
    let mut early = None;
    let (txn, counted) = tokio::join!(
        async {
            loop {
                tokio::select! {
                    biased;
                    txn = &mut loading => break txn,
                    account = &mut pending, if named.is_some() && early.is_none() => early = Some(account),
                }
            }
        },
        async {
            match counting {
                Some(counting) => Some(counting.await),
                None => None,
            }
        }
    );
    let prefetched = named.clone().map(|name| Prefetched {
        name,
        early,
        pending: pending.as_mut(),
    });
    let counted = match counted.transpose() {
        Ok(counted) => counted,
        Err(e) => return store_failure(lang, e),
    };
    // Every refusal here gives the early attempt back.
    let checked = match txn {
        Ok(Some(txn)) => {
            let lang = Lang::for_request(txn.request.ui_locales.as_deref(), &headers);
            if ct_eq(form.get("csrf").unwrap_or_default(), &txn.csrf) {
                Ok((txn, lang))
            } else {
                Err(error_page(
                    lang,
                    StatusCode::FORBIDDEN,
                    lang.texts().forbidden,
                ))
            }
        }
        Ok(None) => Err(error_page(lang, StatusCode::GONE, t.expired)),
        Err(e) => Err(store_failure(lang, e)),
    };
    let (txn, lang) = match checked {
        Ok(checked) => checked,
        Err(refusal) => {
            EarlyAttempt::give_back(&app, counted).await;
            return refusal;
        }
    };
    let step = Step {
        app: &app,
        tx: &tx,
        txn,
        headers: &headers,
        origin,
        lang,
        form,
        attempt: std::sync::Mutex::new(None),
    };
    match step.run(prefetched, counted).await {
        Ok(resp) => resp,
        Err(e) => store_failure(lang, e),
    }
}

/// A password or code post's attempt, counted before its transaction was
/// read (see `submit`): the name it was counted under, the count's outcome,
/// and a code form's code marked used under that name.
struct EarlyAttempt {
    name: Option<String>,
    counted: Result<Attempt, ratelimit::Locked>,
    code_mark: Option<CodeMark>,
}

/// A code marked used before it was checked ([`totp::used_code_id`]):
/// kept if the code is accepted, given back otherwise.
struct CodeMark {
    id: String,
    /// The mark is this post's: the code was not marked before.
    fresh: bool,
}

impl EarlyAttempt {
    async fn count(
        app: &Provider,
        name: Option<String>,
        ip: &str,
        code: Option<&str>,
    ) -> StoreResult<EarlyAttempt> {
        let marking = async {
            let (Some(name), Some(code)) = (name.as_deref(), code) else {
                return Ok(None);
            };
            if name.is_empty() || !totp::has_code_form(code) {
                return Ok(None);
            }
            let unix = OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
            CodeMark::take(app, name, code, unix).await.map(Some)
        };
        let (counted, code_mark) = store::together(async {
            tokio::join!(
                (app.config.rate_limit).begin(&*app.store, name.as_deref(), ip),
                marking
            )
        })
        .await;
        match (counted, code_mark) {
            (Ok(counted), Ok(code_mark)) => Ok(EarlyAttempt {
                name,
                counted,
                code_mark,
            }),
            // Neither stays taken for a post answered with an error.
            (Ok(counted), Err(e)) => {
                let early = EarlyAttempt {
                    name,
                    counted,
                    code_mark: None,
                };
                Self::give_back(app, Some(early)).await;
                Err(e)
            }
            (Err(e), code_mark) => {
                CodeMark::give_back(app, code_mark.ok().flatten()).await;
                Err(e)
            }
        }
    }

    /// Gives the attempt and its code's mark back: they were not the
    /// transaction's to take. (A refused attempt counted nothing.)
    async fn give_back(app: &Provider, early: Option<EarlyAttempt>) {
        let Some(EarlyAttempt {
            counted, code_mark, ..
        }) = early
        else {
            return;
        };
        let attempt = async {
            if let Ok(attempt) = counted
                && let Err(e) = (app.config.rate_limit).release(&*app.store, attempt).await
            {
                tracing::warn!(error = %e, "a sign-in attempt could not be given back");
            }
        };
        tokio::join!(attempt, CodeMark::give_back(app, code_mark));
    }
}

impl CodeMark {
    /// Marks `code`, typed at `unix` for `account`, used.
    async fn take(app: &Provider, account: &str, code: &str, unix: u64) -> StoreResult<CodeMark> {
        let id = totp::used_code_id(account, code);
        let fresh = app
            .store
            .mark_code_used(&id, totp::used_code_ttl(unix))
            .await?;
        Ok(CodeMark { id, fresh })
    }

    /// Takes the mark back if it was this post's: its code was not
    /// accepted, and stays usable (a code typed into an expired sign-in,
    /// or refused unchecked, is not used up).
    async fn give_back(app: &Provider, mark: Option<CodeMark>) {
        if let Some(CodeMark { id, fresh: true }) = mark
            && let Err(e) = app.store.unmark_code_used(&id).await
        {
            tracing::warn!(error = %e, "a code's used mark could not be given back");
        }
    }
}

/// One form post, with everything its handlers need.
struct Step<'a> {
    app: &'a Provider,
    tx: &'a str,
    txn: Txn,
    headers: &'a HeaderMap,
    origin: Origin,
    lang: Lang,
    form: Params,
    /// The password or code of this post, counted against the rate limits
    /// before it is checked; taken by whichever outcome settles it (a
    /// failure keeps it counted), given back by `run` otherwise.
    attempt: std::sync::Mutex<Option<Attempt>>,
}

/// The reads of the account a form names (a code form's hidden `username`),
/// sent with its transaction's (see `submit`).
struct Prefetched<'a> {
    name: String,
    /// Their answer, if it came before the transaction's.
    early: Option<StoreResult<Account>>,
    pending: std::pin::Pin<&'a mut (dyn Future<Output = StoreResult<Account>> + Send + 'a)>,
}

/// The account a form post is about.
struct Account {
    /// The user named by the account name, disabled or not.
    user: Option<User>,
    /// That name's devices, when read (not for enrolment, and a failed
    /// read is left to the stage that needs them, which reads again).
    devices: Option<Vec<Device>>,
}

impl Account {
    /// Reads `name`'s user and (`with_devices`) devices concurrently: one
    /// pipelined round trip on Redis, issued together with the rate-limit
    /// check (and at the code stage the code's mark).
    async fn read(app: &Provider, name: Option<&str>, with_devices: bool) -> StoreResult<Account> {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Ok(Account {
                user: None,
                devices: None,
            });
        };
        let devices = async {
            if with_devices {
                app.store.list_devices(name).await.ok()
            } else {
                None
            }
        };
        let (user, devices) = tokio::join!(app.store.get_user(name), devices);
        Ok(Account {
            user: user?,
            devices,
        })
    }

    /// The user unless disabled.
    fn active(self) -> Option<User> {
        self.user.filter(|u| !u.disabled)
    }
}

impl Step<'_> {
    /// Runs the post's stage; `prefetched` is used when it is the reads of
    /// the account this transaction's stage checks, `early` (a password or
    /// code post's attempt, and a code's mark) when it was counted under
    /// the name this stage checks, and given back otherwise.
    async fn run(
        mut self,
        prefetched: Option<Prefetched<'_>>,
        early: Option<EarlyAttempt>,
    ) -> Result<Response, StoreError> {
        let now = OffsetDateTime::now_utc();
        // Trimmed as the password step looks it up, so that " name" counts
        // against the lock of "name".
        let name = match &self.txn.stage {
            Stage::Password => self.form.get("username").map(|u| u.trim().to_owned()),
            Stage::SecondFactor { uid } | Stage::Enrol { uid, .. } => Some(uid.clone()),
            Stage::SaveRecoveryCodes { .. } => None,
        };
        let at_code = matches!(self.txn.stage, Stage::SecondFactor { .. });
        let at_recovery_codes = matches!(self.txn.stage, Stage::SaveRecoveryCodes { .. });
        // Counted under the name this stage checks: this stage's attempt.
        // A code's mark is the code stage's alone (the enrolment's
        // confirming code is not used up).
        let (early, code_mark) = match early {
            Some(early) if !at_recovery_codes && early.name == name => {
                let code_mark = match early.code_mark {
                    Some(mark) if !at_code => {
                        CodeMark::give_back(self.app, Some(mark)).await;
                        None
                    }
                    mark => mark,
                };
                (Some(early.counted), code_mark)
            }
            other => {
                EarlyAttempt::give_back(self.app, other).await;
                (None, None)
            }
        };
        // Nothing is guessed at this stage (the factors are proven): no
        // rate limit, and a lock-out started meanwhile does not undo it.
        if let Stage::SaveRecoveryCodes {
            uid,
            authenticated_at,
        } = &self.txn.stage
        {
            return self.recovery_codes_saved(uid, *authenticated_at).await;
        }
        let with_devices = !matches!(self.txn.stage, Stage::Enrol { .. });
        // Unless counted with the transaction's read, the code stage counts
        // its attempt itself, in one write with the code's mark (see
        // `second_factor`).
        let counted_by_stage = at_code && early.is_none();
        // Read already if the form named the account this stage checks
        // (the password stage's typed name, the code or enrolment stage's
        // own account); any other name is ignored.
        let prefetched = match prefetched {
            Some(p) if name.as_deref() == Some(p.name.as_str()) => Some(p),
            _ => None,
        };
        let (begun, account) = tokio::join!(
            async {
                match early {
                    Some(counted) => self.settle_attempt(counted).await,
                    None if counted_by_stage => Ok(Ok(())),
                    None => self.begin_attempt(name.as_deref()).await,
                }
            },
            async {
                match prefetched {
                    Some(Prefetched {
                        early: Some(account),
                        ..
                    }) => account,
                    Some(Prefetched { pending, .. }) => pending.await,
                    None => Account::read(self.app, name.as_deref(), with_devices).await,
                }
            },
        );
        let code_mark = match self.refused_unchecked(begun, code_mark).await {
            Ok(code_mark) => code_mark,
            Err(refused) => return refused,
        };
        let answer = match account {
            Ok(account) => self.stage(account, code_mark, now).await,
            Err(e) => Err(e),
        };
        // Not a failure (which keeps it): not counted.
        self.release_attempt().await;
        answer
    }

    /// The post's stage, run with its account read (and at the code stage
    /// with the code's mark, if set with the transaction's read).
    async fn stage(
        &mut self,
        account: Account,
        code_mark: Option<CodeMark>,
        now: OffsetDateTime,
    ) -> Result<Response, StoreError> {
        match self.txn.stage.clone() {
            Stage::Password => self.password(account, now).await,
            Stage::SecondFactor { uid } => self.second_factor(&uid, account, code_mark, now).await,
            Stage::Enrol { uid, pending_id } => {
                self.enrol(&uid, &pending_id, account.active(), now).await
            }
            Stage::SaveRecoveryCodes {
                uid,
                authenticated_at,
            } => self.recovery_codes_saved(&uid, authenticated_at).await,
        }
    }

    fn attempt_slot(&self) -> std::sync::MutexGuard<'_, Option<Attempt>> {
        // A panic elsewhere cannot leave the slot half-written.
        self.attempt
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts this post's attempt against `name` and the client's address
    /// before anything is checked (see `ratelimit`); the page refusing it
    /// when either is locked out.
    async fn begin_attempt(&self, name: Option<&str>) -> StoreResult<Result<(), Response>> {
        let limits = &self.app.config.rate_limit;
        let counted = limits
            .begin(&*self.app.store, name, &self.origin.ip)
            .await?;
        self.settle_attempt(counted).await
    }

    /// The code's mark when the attempt `begun`; otherwise the answer
    /// refusing the post (or the store's error), the mark given back: a
    /// code refused unchecked is not used up.
    async fn refused_unchecked(
        &self,
        begun: StoreResult<Result<(), Response>>,
        code_mark: Option<CodeMark>,
    ) -> Result<Option<CodeMark>, Result<Response, StoreError>> {
        let refused = match begun {
            Ok(Ok(())) => return Ok(code_mark),
            Ok(Err(page)) => Ok(page),
            Err(e) => Err(e),
        };
        CodeMark::give_back(self.app, code_mark).await;
        Err(refused)
    }

    /// Keeps a counted attempt for the post's outcome; the page refusing it
    /// when it was refused.
    async fn settle_attempt(
        &self,
        counted: Result<Attempt, ratelimit::Locked>,
    ) -> StoreResult<Result<(), Response>> {
        match counted {
            Ok(attempt) => {
                *self.attempt_slot() = Some(attempt);
                Ok(Ok(()))
            }
            Err(locked) => {
                let msg = self.lang.texts().too_many_attempts(locked.minutes);
                Ok(Err(self.again(msg, StatusCode::TOO_MANY_REQUESTS).await?))
            }
        }
    }

    /// This post's attempt, now settled by the caller.
    fn take_attempt(&self) -> Option<Attempt> {
        self.attempt_slot().take()
    }

    /// Counts this post's attempt under `uid` (see [`RateLimits::rebind`]).
    ///
    /// [`RateLimits::rebind`]: crate::config::RateLimits::rebind
    async fn rebind_attempt(&self, uid: &str) -> StoreResult<Result<(), ratelimit::Locked>> {
        let Some(mut attempt) = self.take_attempt() else {
            return Ok(Ok(()));
        };
        let rebound = (self.app.config.rate_limit)
            .rebind(&*self.app.store, &mut attempt, uid)
            .await;
        *self.attempt_slot() = Some(attempt);
        rebound
    }

    /// The form of the current stage, without an error.
    async fn form_of_stage(&self) -> Result<Response, StoreError> {
        page(
            self.app,
            self.tx,
            &self.txn,
            self.lang,
            None,
            StatusCode::OK,
        )
        .await
    }

    /// Re-renders the current form with an error.
    async fn again(&self, message: String, status: StatusCode) -> Result<Response, StoreError> {
        page(
            self.app,
            self.tx,
            &self.txn,
            self.lang,
            Some(message),
            status,
        )
        .await
    }

    /// Counts a failure; the answer says "locked" if this one locked.
    async fn failed(
        &self,
        account: Option<&str>,
        message: &str,
        status: StatusCode,
    ) -> Result<Response, StoreError> {
        let limits = &self.app.config.rate_limit;
        let Some(attempt) = self.take_attempt() else {
            // Every post that checks a password or code began an attempt.
            return Err(StoreError::Unavailable(
                "sign-in attempt not counted before its check".into(),
            ));
        };
        match limits.failed(&*self.app.store, attempt).await? {
            Ok(()) => self.again(message.to_owned(), status).await,
            Err(locked) => {
                if let Some(uid) = account {
                    audit::record(
                        &*self.app.store,
                        &self.origin,
                        AuditAction::LockedOut,
                        uid,
                        None,
                        &[],
                    )
                    .await;
                }
                self.again(
                    self.lang.texts().too_many_attempts(locked.minutes),
                    StatusCode::TOO_MANY_REQUESTS,
                )
                .await
            }
        }
    }

    /// Completes this sign-in (its transaction ends) for `done`.
    async fn complete(
        &self,
        done: Completion,
        cookies: Vec<HeaderValue>,
    ) -> Result<Response, StoreError> {
        // Given back together with the completion's writes (one commit, one
        // flush to Redis), which also clear the account's counter.
        let (finished, ()) = store::together(async {
            tokio::join!(
                complete::finish(
                    self.app,
                    Some(self.tx),
                    &self.txn.request,
                    done,
                    &self.origin,
                    cookies,
                ),
                self.release_attempt()
            )
        })
        .await;
        finished
    }

    /// This post's attempt was not a failure: its hits are given back.
    async fn release_attempt(&self) {
        if let Some(attempt) = self.take_attempt()
            && let Err(e) = (self.app.config.rate_limit)
                .release(&*self.app.store, attempt)
                .await
        {
            tracing::warn!(error = %e, "a sign-in attempt could not be given back");
        }
    }

    fn wants_trust(&self) -> bool {
        matches!(
            self.form.get("trust_browser"),
            Some("on" | "true" | "1" | "yes")
        )
    }

    /// Trusts the browser when asked; returns the cookie to set.
    async fn maybe_trust(
        &self,
        uid: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<HeaderValue>, StoreError> {
        if !self.wants_trust() {
            return Ok(Vec::new());
        }
        let (record, cookie) =
            trusted::trust(self.app, uid, self.origin.user_agent.as_deref(), now).await?;
        let details = [
            ("trusted_browser_id", record.id.as_str()),
            ("name", record.name.as_str()),
        ];
        audit::record(
            &*self.app.store,
            &self.origin,
            AuditAction::BrowserTrusted,
            uid,
            Some(uid),
            &details,
        )
        .await;
        Ok(vec![cookie])
    }
}

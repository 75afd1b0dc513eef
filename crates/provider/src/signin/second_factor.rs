//! The second-factor stages: a code from a registered authenticator (or a
//! recovery code), or the enrolment of a first authenticator whose
//! confirming code also completes the sign-in.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use time::{Duration, OffsetDateTime};

use super::complete::Completion;
use super::{Account, CodeMark, Stage, Step, transaction};
use crate::audit;
use crate::crypto::random_token;
use crate::i18n::Lang;
use crate::state::Provider;
use crate::store::{
    self, AuditAction, Device, EncryptedSecret, FirstDeviceCodes, PendingEnrollment, StoreError,
    StoreResult, User,
};
use crate::{recovery, totp};

/// How long a sign-in enrolment stays pending.
const ENROLMENT_SECS: i64 = 15 * 60;

/// The stage for a user who needs a second factor: a code if they have a
/// device (`devices`, theirs), else enrolment (a pending authenticator is
/// created now).
pub(super) async fn stage_for(
    app: &Provider,
    user: &User,
    devices: &[Device],
    lang: Lang,
    origin: &audit::Origin,
    now: OffsetDateTime,
) -> Result<Stage, StoreError> {
    if !devices.is_empty() {
        return Ok(Stage::SecondFactor {
            uid: user.uid.clone(),
        });
    }
    let secret = totp::new_secret();
    let pending = PendingEnrollment {
        id: random_token(16),
        uid: user.uid.clone(),
        name: match lang {
            Lang::En => "Authenticator app".into(),
            Lang::Fr => "Application d'authentification".into(),
        },
        secret: EncryptedSecret(app.secret_key.seal(&secret, &user.uid)),
        created_at: now,
        expires_at: now + Duration::seconds(ENROLMENT_SECS),
    };
    app.store.put_pending_enrollment(&pending).await?;
    audit::record(
        &*app.store,
        origin,
        AuditAction::EnrollmentStarted,
        &user.uid,
        Some(&user.uid),
        &[
            ("enrollment_id", pending.id.as_str()),
            ("during", "sign_in"),
        ],
    )
    .await;
    Ok(Stage::Enrol {
        uid: user.uid.clone(),
        pending_id: pending.id,
    })
}

impl Step<'_> {
    /// The typed code and the (still active) user, or the page refusing.
    async fn code_and_user(
        &self,
        user: Option<User>,
    ) -> Result<Result<(&str, User), Response>, StoreError> {
        let t = self.lang.texts();
        let Some(code) = self.form.get("otp").map(str::trim) else {
            // The password form sent again (a reload of the code form, which
            // answered that post): the code form again, nothing counted.
            if self.form.get("password").is_some() {
                return Ok(Err(self.form_of_stage().await?));
            }
            let page = self
                .again(t.missing_fields.to_owned(), StatusCode::BAD_REQUEST)
                .await?;
            return Ok(Err(page));
        };
        match user {
            Some(user) => Ok(Ok((code, user))),
            None => Ok(Err(self
                .again(t.account_disabled.to_owned(), StatusCode::FORBIDDEN)
                .await?)),
        }
    }

    /// `mark` is this post's code marked used with the transaction's read
    /// (`submit`), if it was; otherwise the code is marked here, once it
    /// matches.
    pub(super) async fn second_factor(
        &self,
        uid: &str,
        account: Account,
        mark: Option<CodeMark>,
        now: OffsetDateTime,
    ) -> Result<Response, StoreError> {
        let t = self.lang.texts();
        let devices = account.devices.clone();
        let (code, user) = match self.code_and_user(account.active()).await? {
            Ok(found) => found,
            Err(refusal) => {
                CodeMark::give_back(self.app, mark).await;
                return Ok(refusal);
            }
        };
        let devices = match devices {
            Some(devices) => devices,
            None => self.app.store.list_devices(uid).await?,
        };
        let unix = now.unix_timestamp().max(0) as u64;
        // A code that could have been accepted before the store's last
        // recovery from a crash may have lost its used-code marker in it
        // (see `Store::recovered_at`): it counts as used.
        let recovered_through = self
            .app
            .store
            .recovered_at()
            .map(|at| totp::last_step_accepted_at(at.unix_timestamp().max(0) as u64));
        let mut used_before_recovery = false;
        // The device whose code this is (one, in practice): matching is
        // arithmetic, done before anything is written.
        let matched: Option<Device> = devices.into_iter().find(|device| {
            let Ok(secret) = self.app.secret_key.open(&device.secret.0, uid) else {
                tracing::error!(uid, device = %device.id, "device secret does not decrypt");
                return false;
            };
            let Some(step) = totp::matching_step(secret.expose_secret(), code, unix) else {
                return false;
            };
            if recovered_through.is_some_and(|last| step <= last) {
                used_before_recovery = true;
                return false;
            }
            true
        });
        let (mark, begun) = match mark {
            Some(mark) => (Some(mark), Ok(Ok(()))),
            None => {
                self.count_and_mark(uid, code, matched.is_some(), unix)
                    .await
            }
        };
        let mark = match self.refused_unchecked(begun, mark).await {
            Ok(mark) => mark,
            Err(refused) => return refused,
        };
        let fresh = mark.as_ref().is_some_and(|m| m.fresh);
        let replayed = used_before_recovery || (matched.is_some() && !fresh);
        let used_device = matched.filter(|_| fresh);
        if used_device.is_none() {
            // Not this code's use: a wrong code (or a recovery code) stays
            // what it was.
            CodeMark::give_back(self.app, mark).await;
        }
        let amr: &[&str] = if used_device.is_some() {
            &["pwd", "otp", "mfa"]
        } else if !replayed
            && recovery::consume(&*self.app.store, &self.app.secret_key, uid, code).await?
        {
            audit::record(
                &*self.app.store,
                &self.origin,
                AuditAction::RecoveryCodeUsed,
                uid,
                Some(uid),
                &[],
            )
            .await;
            // A recovery code is a one-time password typed now (RFC 8176
            // "otp"), which the account API's step-up asks for.
            &["pwd", "otp", "mfa"]
        } else {
            let reason = if replayed {
                "replayed_code"
            } else {
                "wrong_code"
            };
            audit::record(
                &*self.app.store,
                &self.origin,
                AuditAction::SecondFactorFailed,
                uid,
                None,
                &[("reason", reason)],
            )
            .await;
            let msg = if replayed {
                t.code_reused
            } else {
                t.wrong_code
            };
            return self.failed(Some(uid), msg, StatusCode::UNAUTHORIZED).await;
        };
        let cookies = self.maybe_trust(&user.uid, now).await?;
        let done = Completion::fresh(user.uid.clone(), amr).replacing(self.headers);
        // Recording the device's use does not depend on finishing the
        // sign-in: issued together, their writes share one commit, which
        // does not wait for the disk either (see `complete::finish`).
        let touched = store::lazily(async {
            match &used_device {
                Some(device) => self.app.store.touch_device(uid, &device.id, now).await,
                None => Ok(()),
            }
        });
        let finished = self.complete(done, cookies);
        let (finished, touched) = store::together(async { tokio::join!(finished, touched) }).await;
        touched?;
        finished
    }

    /// Counts this post's attempt (unless it was counted with the
    /// password) and, when the code `matches` one of the account's devices,
    /// marks it used: in one write (one commit of the embedded store
    /// instead of two). Counted before any answer all the same.
    async fn count_and_mark(
        &self,
        uid: &str,
        code: &str,
        matches: bool,
        unix: u64,
    ) -> (Option<CodeMark>, StoreResult<Result<(), Response>>) {
        let counted_here = self.attempt_slot().is_none();
        let (begun, marked) = store::together(async {
            tokio::join!(
                async {
                    if !counted_here {
                        return Ok(Ok(()));
                    }
                    self.begin_attempt(Some(uid)).await
                },
                async {
                    if !matches {
                        return Ok(None);
                    }
                    CodeMark::take(self.app, uid, code, unix).await.map(Some)
                }
            )
        })
        .await;
        match marked {
            Ok(mark) => (mark, begun),
            Err(e) => (None, begun.and(Err(e))),
        }
    }

    pub(super) async fn enrol(
        &self,
        uid: &str,
        pending_id: &str,
        user: Option<User>,
        now: OffsetDateTime,
    ) -> Result<Response, StoreError> {
        let t = self.lang.texts();
        let (code, user) = match self.code_and_user(user).await? {
            Ok(found) => found,
            Err(refusal) => return Ok(refusal),
        };
        let Some(pending) = self
            .app
            .store
            .get_pending_enrollment(uid, pending_id)
            .await?
        else {
            return Ok(crate::pages::error_page(
                self.lang,
                StatusCode::GONE,
                t.expired,
            ));
        };
        let secret = self
            .app
            .secret_key
            .open(&pending.secret.0, uid)
            .map_err(|_| StoreError::Corrupt("pending enrolment secret".into()))?;
        let unix = now.unix_timestamp().max(0) as u64;
        if totp::matching_step(secret.expose_secret(), code, unix).is_none() {
            audit::record(
                &*self.app.store,
                &self.origin,
                AuditAction::SecondFactorFailed,
                uid,
                None,
                &[("reason", "wrong_enrollment_code")],
            )
            .await;
            return self
                .failed(Some(uid), t.wrong_code, StatusCode::UNAUTHORIZED)
                .await;
        }
        // The confirming code is deliberately NOT recorded as used: it
        // completes this sign-in, and must not make the user wait for the
        // next code on their next sign-in either (the CAS defect).
        // A first device gets recovery codes in the same atomic step, as
        // through the account API (`account/devices.rs`).
        let (codes, hashes) = recovery::generate(&self.app.secret_key, uid);
        let event = |action, during| {
            audit::event(
                &self.origin,
                action,
                uid,
                Some(uid),
                None,
                &[("during", during)],
            )
        };
        let confirmation = event(AuditAction::EnrollmentConfirmed, "sign_in");
        let codes_event = event(AuditAction::RecoveryCodesRegenerated, "first_enrollment");
        let first_device_codes = FirstDeviceCodes {
            hashes: &hashes,
            audit: &codes_event,
        };
        let confirmed = match self
            .app
            .store
            .confirm_enrollment(
                uid,
                pending_id,
                now,
                self.app.config.max_devices_per_user,
                Some(first_device_codes),
                &confirmation,
            )
            .await
        {
            Ok(confirmed) => confirmed,
            Err(StoreError::NotFound { .. }) => {
                return Ok(crate::pages::error_page(
                    self.lang,
                    StatusCode::GONE,
                    t.expired,
                ));
            }
            // The sign-in enrols only accounts without an app, so only apps
            // added meanwhile through the account API lead here.
            Err(StoreError::TooManyDevices { .. }) => {
                return Ok(crate::pages::error_page(
                    self.lang,
                    StatusCode::CONFLICT,
                    t.too_many_devices,
                ));
            }
            Err(e) => return Err(e),
        };
        audit::logged(&confirmation);
        let cookies = self.maybe_trust(&user.uid, now).await?;
        if confirmed.first_device {
            audit::logged(&codes_event);
            return self.show_recovery_codes(uid, &codes, cookies, now).await;
        }
        // Another device was confirmed meanwhile (the account API): the
        // user had their codes then.
        let done =
            Completion::fresh(user.uid.clone(), &["pwd", "otp", "mfa"]).replacing(self.headers);
        self.complete(done, cookies).await
    }

    /// Answers the confirming code of a first device with its recovery
    /// codes, and moves the sign-in to the stage whose next post completes it.
    async fn show_recovery_codes(
        &self,
        uid: &str,
        codes: &[SecretString],
        cookies: Vec<HeaderValue>,
        now: OffsetDateTime,
    ) -> Result<Response, StoreError> {
        let mut txn = self.txn.clone();
        txn.stage = Stage::SaveRecoveryCodes {
            uid: uid.to_owned(),
            authenticated_at: now,
        };
        transaction::save(self.app, self.tx, &txn).await?;
        let codes = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
        let mut resp = super::stage_page(
            self.app,
            self.tx,
            &txn,
            self.lang,
            None,
            StatusCode::OK,
            codes,
        )
        .await?;
        for c in cookies {
            resp.headers_mut().append(header::SET_COOKIE, c);
        }
        Ok(resp)
    }

    /// "I have saved them": completes a sign-in whose factors were proven
    /// when the recovery codes were shown. Any other post (a reload of the
    /// page, which sends the code form again) shows the page again, without
    /// the codes: the sign-in goes on only when the user says so.
    pub(super) async fn recovery_codes_saved(
        &self,
        uid: &str,
        authenticated_at: OffsetDateTime,
    ) -> Result<Response, StoreError> {
        if self.form.get("saved").is_none() {
            return self.form_of_stage().await;
        }
        if super::active_user(self.app, uid).await?.is_none() {
            let t = self.lang.texts();
            return self
                .again(t.account_disabled.to_owned(), StatusCode::FORBIDDEN)
                .await;
        }
        let done = Completion::fresh(uid.to_owned(), &["pwd", "otp", "mfa"])
            .authenticated_at(authenticated_at)
            .replacing(self.headers);
        self.complete(done, Vec::new()).await
    }
}

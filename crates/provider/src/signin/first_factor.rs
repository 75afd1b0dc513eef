//! The first factor (password): who is signing in, and whether a second factor follows.

use axum::http::StatusCode;
use axum::response::Response;
use time::OffsetDateTime;

use super::complete::{self, Completion};
use super::transaction::{Stage, save};
use super::{Account, Step, needs_mfa, second_factor};
use crate::audit;
use crate::password;
use crate::store::{self, AuditAction, StoreError};

impl Step<'_> {
    pub(super) async fn password(
        &mut self,
        account: Account,
        now: OffsetDateTime,
    ) -> Result<Response, StoreError> {
        let t = self.lang.texts();
        let (Some(username), Some(pw)) = (self.form.get("username"), self.form.get("password"))
        else {
            return self
                .again(t.missing_fields.to_owned(), StatusCode::BAD_REQUEST)
                .await;
        };
        let username = username.trim().to_owned();
        let pw = secrecy::SecretString::from(pw.to_owned());
        let (mut user, mut devices) = (account.user, account.devices);
        if user.is_none() && username.contains('@') {
            user = self.app.store.get_user_by_email(&username).await?;
            // Read under the typed name, not the account's.
            devices = None;
            // Typed as an email, the attempt counts against the account's
            // own lock, before the password is checked.
            if let Some(u) = &user
                && let Err(locked) = self.rebind_attempt(&u.uid).await?
            {
                let msg = t.too_many_attempts(locked.minutes);
                return self.again(msg, StatusCode::TOO_MANY_REQUESTS).await;
            }
        }
        let verified =
            password::verify_off_thread(pw, user.as_ref().map(|u| u.password_hash.0.clone())).await;
        let user = match (user, verified) {
            (Some(u), true) => u,
            (u, _) => {
                if let Some(u) = &u {
                    let details = [("client_id", self.txn.request.client_id.as_str())];
                    audit::record(
                        &*self.app.store,
                        &self.origin,
                        AuditAction::SignInFailed,
                        &u.uid,
                        None,
                        &details,
                    )
                    .await;
                }
                // Keep what was typed so the user can correct the password.
                self.txn.request.login_hint = Some(username.chars().take(256).collect());
                // A lock-out is audited under an existing account only: a
                // typed name may be junk, or a password typed in the wrong
                // field, which the trail and the log must not keep.
                return self
                    .failed(
                        u.as_ref().map(|u| u.uid.as_str()),
                        t.wrong_credentials,
                        StatusCode::UNAUTHORIZED,
                    )
                    .await;
            }
        };
        if user.disabled {
            return self
                .again(t.account_disabled.to_owned(), StatusCode::FORBIDDEN)
                .await;
        }
        let request = self.txn.request.clone();
        if !needs_mfa(self.app, &request, &user) {
            let done = Completion::fresh(user.uid.clone(), &["pwd"]).replacing(self.headers);
            return self.complete(done, Vec::new()).await;
        }
        let devices = match devices {
            Some(devices) => devices,
            None => self.app.store.list_devices(&user.uid).await?,
        };
        if let Some(resp) = complete::via_trusted_browser(
            self.app,
            Some(self.tx),
            &request,
            (&user, &devices),
            self.headers,
            &self.origin,
            None,
        )
        .await?
        {
            return Ok(resp);
        }
        self.txn.stage =
            second_factor::stage_for(self.app, &user, &devices, self.lang, &self.origin, now)
                .await?;
        let code_follows = self.form.get("otp").is_some()
            && matches!(
                self.txn.stage,
                Stage::SecondFactor { .. } | Stage::Enrol { .. }
            );
        if code_follows {
            save(self.app, self.tx, &self.txn).await?;
        } else {
            // A right password is not a failure: its attempt is given back
            // with the transaction's save (one commit, one flush to Redis).
            let (saved, ()) = store::together(async {
                tokio::join!(save(self.app, self.tx, &self.txn), self.release_attempt())
            })
            .await;
            saved?;
        }
        // A client that sent the code along with the password goes on at
        // once; a browser gets the code form as the answer to its post (no
        // redirect: one request and one store read fewer per sign-in).
        let account = Account {
            user: Some(user),
            devices: Some(devices),
        };
        match self.txn.stage.clone() {
            Stage::SecondFactor { uid } if self.form.get("otp").is_some() => {
                Box::pin(self.second_factor(&uid, account, None, now)).await
            }
            Stage::Enrol { uid, pending_id } if self.form.get("otp").is_some() => {
                Box::pin(self.enrol(&uid, &pending_id, account.active(), now)).await
            }
            _ => self.form_of_stage().await,
        }
    }
}

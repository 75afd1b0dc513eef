//! The account API over HTTP: one typed method per route of
//! `tessera_api`, with refresh and RFC 9470 step-up handled here.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tessera_api::{
    ActivityPage, Device, DeviceRename, EnrollmentConfirm, EnrollmentConfirmed, EnrollmentStart,
    EnrollmentStarted, HelpdeskChange, Me, OtpauthUri, Problem, RecoveryCodes, Removed, SecretText,
    TrustedBrowser, UserSearchResults, normalize_device_name, otpauth, paths,
};

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::oidc::StepUp;
use crate::www_auth;

/// One request, replayable after a refresh or a step-up.
struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
}

impl Call {
    fn get(path: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }
    fn new(method: Method, path: impl Into<String>, body: Option<serde_json::Value>) -> Call {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body,
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Option<serde_json::Value> {
    Some(serde_json::to_value(v).expect("wire types serialise"))
}

fn reason(raw: &str) -> Result<serde_json::Value> {
    let change = HelpdeskChange::new(raw).map_err(|e| ClientError::InvalidInput {
        field: "reason",
        reason: e.to_string(),
    })?;
    Ok(to_json(&change).expect("serialises"))
}

fn device_name(raw: &str) -> Result<String> {
    normalize_device_name(raw).map_err(|e| ClientError::InvalidInput {
        field: "name",
        reason: e.to_string(),
    })
}

/// A TOTP code as typed: spaces removed, exactly six digits.
fn totp_code(raw: &str) -> Result<SecretText> {
    let code: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(ClientError::InvalidInput {
            field: "code",
            reason: "a code has exactly 6 digits".into(),
        });
    }
    Ok(SecretText::new(code))
}

/// An enrolment is shown only when its QR code and the secret printed beside
/// it are the same key, read the same way by every authenticator app: a user
/// who scans one and types the other must not end up with a wrong code.
fn checked_enrollment(started: EnrollmentStarted) -> Result<EnrollmentStarted> {
    let bad = |why: String| ClientError::BadEnrollment(why);
    let uri = OtpauthUri::parse(started.otpauth_uri.expose()).map_err(|e| bad(e.to_string()))?;
    let printed = otpauth::normalize_secret(started.secret.expose())
        .map_err(|_| bad("the printed secret is not a valid base32 key".into()))?;
    // Both values come from the same answer: there is no timing oracle here.
    if uri.secret != printed {
        return Err(bad(
            "the QR code's secret differs from the printed secret".into()
        ));
    }
    if !uri.is_universal() {
        return Err(bad(
            "it asks for codes other than 6 digits, SHA1, every 30 seconds, which some apps ignore"
                .into(),
        ));
    }
    Ok(started)
}

fn paging(call: &mut Call, cursor: Option<&str>, limit: Option<u32>) {
    if let Some(c) = cursor {
        call.query.push(("cursor", c.to_owned()));
    }
    if let Some(l) = limit {
        call.query.push(("limit", l.to_string()));
    }
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.config.account_api.as_str().trim_end_matches('/'),
            paths::relative(path)
        )
    }

    async fn send(&self, call: &Call) -> Result<reqwest::Response> {
        let mut refreshed = false;
        let mut stepped_up = false;
        loop {
            let token = self.access_token(false).await?;
            let url = self.url(&call.path);
            let mut req = self
                .http
                .request(call.method.clone(), &url)
                .bearer_auth(token.expose_secret());
            if !call.query.is_empty() {
                req = req.query(&call.query);
            }
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| ClientError::network(&url, e))?;
            if resp.status().is_success() {
                return Ok(resp);
            }
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
                let challenge = resp
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find_map(www_auth::parse);
                match challenge {
                    Some(c) if c.is_step_up() && !stepped_up => {
                        stepped_up = true;
                        self.step_up(&StepUp {
                            max_age: c.max_age,
                            acr_values: c.acr_values,
                        })
                        .await?;
                        continue;
                    }
                    Some(c) if c.is_invalid_token() && !refreshed => {
                        refreshed = true;
                        self.access_token(true).await?;
                        continue;
                    }
                    _ => {}
                }
            }
            return Err(problem(resp).await);
        }
    }

    async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let resp = self.send(&call).await?;
        let url = self.url(&call.path);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::network(&url, e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Api {
            status: 200,
            code: None,
            detail: format!("the account API sent an unreadable answer: {e}"),
        })
    }

    async fn no_content(&self, call: Call) -> Result<()> {
        self.send(&call).await.map(|_| ())
    }

    /// `GET /api/v1/me`
    pub async fn me(&self) -> Result<Me> {
        self.json(Call::get(paths::ME)).await
    }

    /// `GET /api/v1/me/devices`
    pub async fn devices(&self) -> Result<Vec<Device>> {
        self.json(Call::get(paths::MY_DEVICES)).await
    }

    /// `POST /api/v1/me/devices`: starts enrolling an authenticator app.
    pub async fn start_enrollment(&self, name: &str) -> Result<EnrollmentStarted> {
        let body = EnrollmentStart {
            name: device_name(name)?,
        };
        let started = self
            .json(Call::new(Method::POST, paths::MY_DEVICES, to_json(&body)))
            .await?;
        checked_enrollment(started)
    }

    /// `POST /api/v1/me/devices/enrollments/{id}/confirm`
    pub async fn confirm_enrollment(
        &self,
        enrollment_id: &str,
        code: &str,
    ) -> Result<EnrollmentConfirmed> {
        let body = EnrollmentConfirm {
            code: totp_code(code)?,
        };
        self.json(Call::new(
            Method::POST,
            paths::my_enrollment_confirm(enrollment_id),
            to_json(&body),
        ))
        .await
    }

    /// `PATCH /api/v1/me/devices/{id}`
    pub async fn rename_device(&self, id: &str, name: &str) -> Result<Device> {
        let body = DeviceRename {
            name: device_name(name)?,
        };
        self.json(Call::new(
            Method::PATCH,
            paths::my_device(id),
            to_json(&body),
        ))
        .await
    }

    /// `DELETE /api/v1/me/devices/{id}` (step-up; `last_factor` for the last one)
    pub async fn remove_device(&self, id: &str) -> Result<()> {
        self.no_content(Call::new(Method::DELETE, paths::my_device(id), None))
            .await
    }

    /// `GET /api/v1/me/trusted-browsers`
    pub async fn trusted_browsers(&self) -> Result<Vec<TrustedBrowser>> {
        self.json(Call::get(paths::MY_TRUSTED_BROWSERS)).await
    }

    /// `DELETE /api/v1/me/trusted-browsers/{id}`
    pub async fn revoke_browser(&self, id: &str) -> Result<()> {
        self.no_content(Call::new(
            Method::DELETE,
            paths::my_trusted_browser(id),
            None,
        ))
        .await
    }

    /// `DELETE /api/v1/me/trusted-browsers`
    pub async fn revoke_all_browsers(&self) -> Result<Removed> {
        self.json(Call::new(Method::DELETE, paths::MY_TRUSTED_BROWSERS, None))
            .await
    }

    /// `POST /api/v1/me/recovery-codes` (step-up): the old set is void.
    pub async fn regenerate_recovery_codes(&self) -> Result<RecoveryCodes> {
        self.json(Call::new(Method::POST, paths::MY_RECOVERY_CODES, None))
            .await
    }

    /// `GET /api/v1/me/activity`, newest first.
    pub async fn activity(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<ActivityPage> {
        let mut call = Call::get(paths::MY_ACTIVITY);
        paging(&mut call, cursor, limit);
        self.json(call).await
    }

    /// Help desk: `GET /api/v1/users?q=` (prefix of uid, email or name).
    pub async fn search_users(&self, q: &str, limit: Option<u32>) -> Result<UserSearchResults> {
        let q = q.trim();
        if q.is_empty() {
            return Err(ClientError::InvalidInput {
                field: "q",
                reason: "the search text is empty".into(),
            });
        }
        let mut call = Call::get(paths::USERS);
        call.query.push(("q", q.to_owned()));
        paging(&mut call, None, limit);
        self.json(call).await
    }

    /// Help desk: `GET /api/v1/users/{uid}/devices`
    pub async fn user_devices(&self, uid: &str) -> Result<Vec<Device>> {
        self.json(Call::get(paths::user_devices(uid))).await
    }

    /// Help desk: `DELETE /api/v1/users/{uid}/devices/{id}` with a reason.
    pub async fn remove_user_device(&self, uid: &str, id: &str, why: &str) -> Result<()> {
        let body = reason(why)?;
        self.no_content(Call::new(
            Method::DELETE,
            paths::user_device(uid, id),
            Some(body),
        ))
        .await
    }

    /// Help desk: `DELETE /api/v1/users/{uid}/devices` — the user enrols again
    /// at next sign-in.
    pub async fn reset_user_devices(&self, uid: &str, why: &str) -> Result<Removed> {
        let body = reason(why)?;
        self.json(Call::new(
            Method::DELETE,
            paths::user_devices(uid),
            Some(body),
        ))
        .await
    }

    /// Help desk: `GET /api/v1/users/{uid}/trusted-browsers`
    pub async fn user_browsers(&self, uid: &str) -> Result<Vec<TrustedBrowser>> {
        self.json(Call::get(paths::user_trusted_browsers(uid)))
            .await
    }

    /// Help desk: `DELETE /api/v1/users/{uid}/trusted-browsers/{id}`
    pub async fn revoke_user_browser(&self, uid: &str, id: &str, why: &str) -> Result<()> {
        let body = reason(why)?;
        self.no_content(Call::new(
            Method::DELETE,
            paths::user_trusted_browser(uid, id),
            Some(body),
        ))
        .await
    }

    /// Help desk: `DELETE /api/v1/users/{uid}/trusted-browsers`
    pub async fn revoke_user_browsers(&self, uid: &str, why: &str) -> Result<Removed> {
        let body = reason(why)?;
        self.json(Call::new(
            Method::DELETE,
            paths::user_trusted_browsers(uid),
            Some(body),
        ))
        .await
    }

    /// Help desk: `GET /api/v1/users/{uid}/activity`
    pub async fn user_activity(
        &self,
        uid: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ActivityPage> {
        let mut call = Call::get(paths::user_activity(uid));
        paging(&mut call, cursor, limit);
        self.json(call).await
    }
}

/// Turns an error answer into [`ClientError::Api`], reading the problem
/// details when there are some.
async fn problem(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let body = resp.bytes().await.unwrap_or_default();
    if is_json && let Ok(p) = serde_json::from_slice::<Problem>(&body) {
        return ClientError::Api {
            status: status.as_u16(),
            code: Some(p.code),
            detail: p.detail,
        };
    }
    ClientError::Api {
        status: status.as_u16(),
        code: None,
        detail: format!("the account API answered {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_before_sending() {
        assert_eq!(totp_code(" 123 456 ").unwrap().expose(), "123456");
        for bad in ["12345", "1234567", "abcdef", ""] {
            assert_eq!(totp_code(bad).unwrap_err().code(), "bad_request", "{bad}");
        }
        assert_eq!(device_name("  Phone ").unwrap(), "Phone");
        assert!(matches!(
            device_name(""),
            Err(ClientError::InvalidInput { field: "name", .. })
        ));
        assert!(matches!(
            reason("  "),
            Err(ClientError::InvalidInput {
                field: "reason",
                ..
            })
        ));
        assert_eq!(
            reason("lost phone").unwrap(),
            serde_json::json!({"reason": "lost phone"})
        );
    }

    fn started(secret: &str, uri: &str) -> EnrollmentStarted {
        EnrollmentStarted {
            enrollment_id: "e1".into(),
            name: "Phone".into(),
            secret: SecretText::new(secret),
            otpauth_uri: SecretText::new(uri),
            expires_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_enrolment_is_shown_only_when_its_qr_code_and_secret_agree() {
        const S: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        let ok = format!(
            "otpauth://totp/Tessera:alice?secret={S}&issuer=Tessera&algorithm=SHA1&digits=6&period=30"
        );
        assert!(checked_enrollment(started(S, &ok)).is_ok());
        // Printed lower case with spaces is the same key.
        assert!(
            checked_enrollment(started(&crate::qr::group_secret(&S.to_lowercase()), &ok)).is_ok()
        );
        let other = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
        let cases = [
            (started(other, &ok), "differs from the printed secret"),
            (started(S, "https://example.org/"), "not an otpauth:// URI"),
            (
                started("not base32!", &ok),
                "printed secret is not a valid base32 key",
            ),
            (
                started(S, &ok.replace("digits=6", "digits=8")),
                "other than 6 digits",
            ),
        ];
        for (enrolment, why) in cases {
            let err = checked_enrollment(enrolment).unwrap_err();
            assert_eq!(err.code(), "bad_enrollment");
            assert!(err.to_string().contains(why), "{err}");
            assert!(
                err.message(crate::i18n::Lang::Fr)
                    .contains("rien n'a été ajouté")
            );
            assert!(!err.to_string().contains(S), "no secret in messages");
        }
    }
}

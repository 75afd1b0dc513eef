//! The demo accounts: a desktop client, a demo user and a help-desk user,
//! each user with a TOTP device whose secret is printed, so anyone can sign
//! in without a phone. Re-running resets the passwords (they are printed
//! again) and keeps the devices.

use std::collections::{BTreeMap, BTreeSet};

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::crypto::random_token;
use crate::state::Provider;
use crate::store::{Client, Device, EncryptedSecret, PasswordHash, StoreError, StoreResult, User};
use crate::{password, totp};

pub const DESKTOP_CLIENT_ID: &str = "tessera-desktop";
pub const DEMO_UID: &str = "demo";
pub const HELPDESK_UID: &str = "helpdesk";

/// A demo account as printed.
#[derive(Debug)]
pub struct DemoAccount {
    pub uid: String,
    pub password: SecretString,
    /// Raw TOTP secret of the account's device.
    pub totp_secret: SecretString,
    pub otpauth_uri: SecretString,
}

#[derive(Debug)]
pub struct DemoAccounts {
    pub demo: DemoAccount,
    pub helpdesk: DemoAccount,
}

/// The desktop app's registration: public, PKCE, loopback redirect on any port.
pub fn desktop_client(now: OffsetDateTime) -> Client {
    Client {
        client_id: DESKTOP_CLIENT_ID.into(),
        name: "Tessera".into(),
        redirect_uris: vec![
            "http://127.0.0.1/callback".into(),
            "http://[::1]/callback".into(),
        ],
        post_logout_redirect_uris: vec![
            "http://127.0.0.1/logout".into(),
            "http://[::1]/logout".into(),
        ],
        public: true,
        secret_hash: None,
        require_mfa: Some(true),
        created_at: now,
    }
}

pub async fn seed(app: &Provider) -> StoreResult<DemoAccounts> {
    let now = OffsetDateTime::now_utc();
    match app.store.create_client(&desktop_client(now)).await {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e),
    }
    let demo = account(app, DEMO_UID, "Demo User", &[], now).await?;
    let helpdesk = account(app, HELPDESK_UID, "Help Desk", &["helpdesk"], now).await?;
    Ok(DemoAccounts { demo, helpdesk })
}

async fn account(
    app: &Provider,
    uid: &str,
    name: &str,
    roles: &[&str],
    now: OffsetDateTime,
) -> StoreResult<DemoAccount> {
    let pw = random_token(12);
    let user = User {
        uid: uid.into(),
        email: format!("{uid}@example.org"),
        display_name: name.into(),
        password_hash: PasswordHash(password::hash(&pw)),
        roles: roles
            .iter()
            .map(|r| (*r).to_owned())
            .collect::<BTreeSet<_>>(),
        attributes: BTreeMap::new(),
        disabled: false,
        created_at: now,
        devices_reset_at: None,
    };
    match app.store.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists { .. }) => {
            let mut existing = app.store.get_user(uid).await?.unwrap_or(user);
            existing.password_hash = PasswordHash(password::hash(&pw));
            existing.disabled = false;
            app.store.update_user(&existing).await?;
        }
        Err(e) => return Err(e),
    }
    let secret = match app.store.list_devices(uid).await?.first() {
        Some(d) => {
            let opened = app
                .secret_key
                .open(&d.secret.0, uid)
                .map_err(StoreError::corrupt)?;
            secrecy::ExposeSecret::expose_secret(&opened).clone()
        }
        None => {
            let secret = totp::new_secret();
            let device = Device {
                id: random_token(12),
                uid: uid.into(),
                name: "Demo authenticator".into(),
                secret: EncryptedSecret(app.secret_key.seal(&secret, uid)),
                registered_at: now,
                last_used_at: None,
            };
            app.store.create_device(&device).await?;
            secret
        }
    };
    Ok(DemoAccount {
        uid: uid.into(),
        password: SecretString::from(pw),
        totp_secret: SecretString::from(totp::base32(&secret)),
        otpauth_uri: SecretString::from(totp::otpauth_uri(&secret, &app.config.totp_issuer, uid)),
    })
}

//! `user`, `client` and `key` subcommands: manage the store's users,
//! clients and signing keys.

use std::collections::{BTreeMap, BTreeSet};

use clap::Subcommand;
use time::OffsetDateTime;

use crate::config::Config;
use crate::crypto::{SecretKey, random_token};
use crate::keyring;
use crate::password;
use crate::state::StartError;
use crate::store::{Client, PasswordHash, Store, StoreError, User};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Without --password, a random one is generated and printed.
    Add {
        uid: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Initial password (prefer the environment variable: command lines are visible to others).
        #[arg(long, env = "TESSERA_PROVIDER_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// A role, e.g. helpdesk (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A directory attribute name=value, read by the MFA policy (repeatable).
        #[arg(long = "attribute", value_parser = parse_attribute)]
        attributes: Vec<(String, String)>,
    },
    /// List users.
    List,
    /// Disable a user (or enable again with --enable).
    Disable {
        uid: String,
        #[arg(long)]
        enable: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. Public by default (PKCE, no secret); --confidential
    /// generates a secret and prints it once.
    Add {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        /// Allowed redirect URI (repeatable). Loopback IP URIs match any port.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Allowed post-logout redirect URI (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long)]
        confidential: bool,
        /// true: always require MFA; false: waive the global policy; unset: follow it.
        #[arg(long)]
        require_mfa: Option<bool>,
    },
    /// List clients.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Show the key that signs and the retired key that still verifies.
    List,
    /// Sign with a new key from now on. The old key is retired: it still
    /// verifies what it signed, and stays published, until the next
    /// rotation. Running providers on this store sign with the new key
    /// within a minute.
    Rotate {
        /// The old key was exposed: drop it (and any retired key) at once.
        /// Each running provider refuses the tokens they signed as soon as
        /// it reads the keys again (within a minute); clients refresh.
        #[arg(long)]
        discard_old_key: bool,
    },
}

fn parse_attribute(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not name=value")),
    }
}

pub(super) async fn user(store: &dyn Store, cmd: UserCommand) -> Result<(), StartError> {
    match cmd {
        UserCommand::Add {
            uid,
            email,
            name,
            password: pw,
            roles,
            attributes,
        } => {
            if uid.trim().is_empty() || uid.contains(char::is_whitespace) || uid.contains(':') {
                return Err(StartError::Io(
                    "the uid must be non-empty, without spaces or ':'".into(),
                ));
            }
            if !email.contains('@') {
                return Err(StartError::Io(format!("{email:?} is not an email address")));
            }
            let generated = pw.is_none();
            let pw = pw.unwrap_or_else(|| random_token(12));
            let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, v) in attributes {
                attrs.entry(k).or_default().push(v);
            }
            let user = User {
                display_name: name.unwrap_or_else(|| uid.clone()),
                uid,
                email,
                password_hash: PasswordHash(password::hash(&pw)),
                roles: roles.into_iter().collect::<BTreeSet<_>>(),
                attributes: attrs,
                disabled: false,
                created_at: OffsetDateTime::now_utc(),
                devices_reset_at: None,
            };
            store.create_user(&user).await?;
            println!("user {} added", user.uid);
            if generated {
                println!("password: {pw}");
            }
        }
        UserCommand::List => {
            for u in store.list_users().await? {
                let roles: Vec<_> = u.roles.iter().cloned().collect();
                let devices = store.list_devices(&u.uid).await?.len();
                println!(
                    "{}\t{}\t{}\troles={}\tdevices={}{}",
                    u.uid,
                    u.email,
                    u.display_name,
                    roles.join(","),
                    devices,
                    if u.disabled { "\tDISABLED" } else { "" }
                );
            }
        }
        UserCommand::Disable { uid, enable } => {
            store
                .set_user_disabled(&uid, !enable)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound { .. } => StartError::Io(format!("no user {uid:?}")),
                    e => e.into(),
                })?;
            println!("user {uid} {}", if enable { "enabled" } else { "disabled" });
        }
    }
    Ok(())
}

pub(super) async fn client(store: &dyn Store, cmd: ClientCommand) -> Result<(), StartError> {
    match cmd {
        ClientCommand::Add {
            client_id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            confidential,
            require_mfa,
        } => {
            for uri in redirect_uris.iter().chain(&post_logout_redirect_uris) {
                let url =
                    url::Url::parse(uri).map_err(|e| StartError::Io(format!("{uri:?}: {e}")))?;
                if url.fragment().is_some() {
                    return Err(StartError::Io(format!(
                        "{uri:?}: a redirect URI has no fragment"
                    )));
                }
            }
            let secret = confidential.then(|| random_token(32));
            let client = Client {
                name: name.unwrap_or_else(|| client_id.clone()),
                client_id,
                redirect_uris,
                post_logout_redirect_uris,
                public: !confidential,
                secret_hash: secret
                    .as_ref()
                    .map(|s| PasswordHash(crate::oidc::client_auth::hash_generated_secret(s))),
                require_mfa,
                created_at: OffsetDateTime::now_utc(),
            };
            store.create_client(&client).await?;
            println!("client {} added", client.client_id);
            if let Some(s) = secret {
                println!("client secret (shown once): {s}");
            }
        }
        ClientCommand::List => {
            for c in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\tredirect_uris={}\trequire_mfa={}",
                    c.client_id,
                    c.name,
                    if c.public { "public" } else { "confidential" },
                    c.redirect_uris.join(","),
                    c.require_mfa.map_or("policy".to_owned(), |b| b.to_string()),
                );
            }
        }
    }
    Ok(())
}

pub(super) async fn key(
    store: &dyn Store,
    secret: &SecretKey,
    config: &Config,
    cmd: KeyCommand,
) -> Result<(), StartError> {
    let keep_retired = keyring::retired_key_use(config);
    match cmd {
        KeyCommand::List => {
            let keys = keyring::LiveKeys::load(store, secret).await?.get();
            println!("signing\t{}", keys.kid());
            if let Some(r) = keys.retired() {
                println!(
                    "retired\t{}\tretired {}\tits tokens expire by {}",
                    r.public.kid(),
                    keyring::to_the_second(r.retired_at),
                    keyring::to_the_second(r.retired_at + keep_retired)
                );
            }
        }
        KeyCommand::Rotate { discard_old_key } => {
            let now = OffsetDateTime::now_utc();
            let done = keyring::rotate(store, secret, now, keep_retired, discard_old_key).await?;
            println!("signing key {}", done.active);
            if let Some(retired) = &done.retired {
                println!("retired key {retired} (still verifies until the next rotation)");
            }
            for kid in &done.dropped {
                println!("dropped key {kid} (its tokens are refused)");
            }
            println!(
                "running providers on this store sign with the new key within {} s",
                keyring::RELOAD_INTERVAL.as_secs()
            );
        }
    }
    Ok(())
}

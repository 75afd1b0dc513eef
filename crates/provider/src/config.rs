//! Provider configuration: a TOML file, overridden by environment variables
//! (`TESSERA_PROVIDER_*`) and command-line options (see `cli`), with secure
//! defaults when neither says anything.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

/// Which store backs the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A single file (redb) in the data directory.
    #[default]
    Embedded,
    /// A Redis server (`redis_url`).
    Redis,
}

/// One acr level the provider offers, and what satisfies it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcrLevel {
    /// The value as it appears in `acr_values`, the claims request and tokens.
    pub value: String,
    /// `true`: password and a second factor; `false`: password alone.
    pub requires_mfa: bool,
}

/// MFA policy for a user attribute, as CAS's principal-attribute trigger:
/// MFA is required when one of the user's values of `name` matches `value_regex`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeTrigger {
    pub name: String,
    #[serde(with = "serde_regex")]
    pub value_regex: Regex,
}

mod serde_regex {
    use regex::Regex;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Regex, D::Error> {
        let s = String::deserialize(d)?;
        // Anchor so that "yes" does not match "yesterday".
        Regex::new(&format!("^(?:{s})$")).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaPolicy {
    /// Every sign-in needs a second factor, unless the client waives it
    /// (`require_mfa = false` on the client).
    pub global: bool,
    /// Users matching this trigger need a second factor whatever the client.
    pub attribute: Option<AttributeTrigger>,
}

impl Default for MfaPolicy {
    fn default() -> Self {
        MfaPolicy {
            global: true,
            attribute: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenLifetimes {
    pub auth_code_secs: u64,
    pub access_token_secs: u64,
    pub id_token_secs: u64,
    pub refresh_token_secs: u64,
    /// How long the browser session (SSO cookie) lasts.
    pub session_secs: u64,
    /// How long a sign-in may take from authorize to the last form.
    pub sign_in_secs: u64,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            auth_code_secs: 60,
            access_token_secs: 600,
            id_token_secs: 600,
            refresh_token_secs: 14 * 24 * 3600,
            session_secs: 8 * 3600,
            sign_in_secs: 15 * 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Failed passwords or codes for one account before it is locked.
    pub account_failures: u64,
    /// Failed attempts from one IP address before it is locked.
    pub ip_failures: u64,
    /// Counting window; a lock-out lasts until the window ends.
    pub window_secs: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            account_failures: 5,
            ip_failures: 50,
            window_secs: 15 * 60,
        }
    }
}

/// The whole configuration (the TOML file's shape).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Public issuer URL; defaults to `http://127.0.0.1:<port>`.
    pub issuer: Option<String>,
    /// Address to listen on.
    pub listen_address: IpAddr,
    pub port: u16,
    pub store: StoreKind,
    pub redis_url: String,
    /// Redis Sentinel addresses (`redis://host:26379/`); when set, the store
    /// follows the primary of `redis_sentinel_service` instead of `redis_url`.
    pub redis_sentinels: Vec<String>,
    pub redis_sentinel_service: String,
    /// Prefix of every key the provider writes in Redis.
    pub redis_prefix: String,
    /// Where the embedded store and generated keys live; defaults to the
    /// platform data directory.
    pub data_dir: Option<PathBuf>,
    /// Base64 of the 32-byte key encrypting TOTP secrets at rest. When absent,
    /// a key is generated in `<data_dir>/secret.key` on first start.
    pub secret_key: Option<String>,
    /// Issuer name shown in authenticator apps.
    pub totp_issuer: String,
    /// Audience of access tokens (the account API); defaults to `<issuer>/api`.
    pub api_audience: Option<String>,
    /// Clients whose access tokens the account API accepts (default: the
    /// Tessera desktop app). Every client's access token names the API as
    /// its audience, so without this list any relying party the user signs
    /// in to could enrol an app or take new recovery codes with it.
    pub account_api_clients: Vec<String>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// acr levels offered, in order of preference for unspecific requests.
    pub acr: Vec<AcrLevel>,
    pub mfa: MfaPolicy,
    pub tokens: TokenLifetimes,
    pub rate_limit: RateLimits,
    /// Days a trusted browser skips the second factor.
    pub trusted_browser_days: u64,
    /// Most authenticator apps one account may have. Every code typed at
    /// sign-in is tried against each of them, so the number is bounded.
    pub max_devices_per_user: u32,
    /// How recent a sign-in must be for sensitive account changes (step-up).
    pub step_up_max_age_secs: u64,
    /// PEM certificate chain: with `tls_key`, the provider serves HTTPS itself.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

pub const DEFAULT_PORT: u16 = 8765;

/// Default of [`Config::max_devices_per_user`].
pub const DEFAULT_MAX_DEVICES_PER_USER: u32 = 10;
/// Highest [`Config::max_devices_per_user`] accepted.
pub const MAX_DEVICES_PER_USER_LIMIT: u32 = 100;

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: None,
            listen_address: IpAddr::from([127, 0, 0, 1]),
            port: DEFAULT_PORT,
            store: StoreKind::Embedded,
            redis_url: "redis://127.0.0.1:6379/".into(),
            redis_sentinels: Vec::new(),
            redis_sentinel_service: "tessera".into(),
            redis_prefix: "tessera:".into(),
            data_dir: None,
            secret_key: None,
            totp_issuer: "Tessera".into(),
            api_audience: None,
            account_api_clients: vec![crate::demo::DESKTOP_CLIENT_ID.into()],
            trusted_proxies: Vec::new(),
            acr: default_acr_levels(),
            mfa: MfaPolicy::default(),
            tokens: TokenLifetimes::default(),
            rate_limit: RateLimits::default(),
            trusted_browser_days: 7,
            max_devices_per_user: DEFAULT_MAX_DEVICES_PER_USER,
            step_up_max_age_secs: 600,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// DESIGN §4: eidas1 is a password; the others need a second factor.
pub fn default_acr_levels() -> Vec<AcrLevel> {
    let level = |value: &str, requires_mfa| AcrLevel {
        value: value.into(),
        requires_mfa,
    };
    vec![
        level("eidas1", false),
        level("eidas1-mfa", true),
        level(
            "https://proconnect.gouv.fr/assurance/self-asserted-2fa",
            true,
        ),
        level("https://refeds.org/profile/mfa", true),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Checks what serde cannot: a usable issuer, at least one acr level,
    /// no duplicate levels, non-zero lifetimes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let issuer = self.issuer();
        let url = url::Url::parse(&issuer)
            .map_err(|e| ConfigError::Invalid(format!("issuer {issuer:?} is not a URL: {e}")))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::Invalid(
                "the issuer must not have a query or fragment".into(),
            ));
        }
        if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback_host(&url)) {
            return Err(ConfigError::Invalid(
                "the issuer must use https (plain http only on a loopback address)".into(),
            ));
        }
        if self.redis_prefix.is_empty() || self.redis_sentinel_service.is_empty() {
            return Err(ConfigError::Invalid(
                "redis_prefix and redis_sentinel_service must not be empty".into(),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key go together".into(),
            ));
        }
        if self.account_api_clients.is_empty()
            || self.account_api_clients.iter().any(|c| c.trim().is_empty())
        {
            return Err(ConfigError::Invalid(
                "account_api_clients must name at least one client, and no empty one".into(),
            ));
        }
        if !(1..=MAX_DEVICES_PER_USER_LIMIT).contains(&self.max_devices_per_user) {
            return Err(ConfigError::Invalid(format!(
                "max_devices_per_user must be between 1 and {MAX_DEVICES_PER_USER_LIMIT}"
            )));
        }
        if self.acr.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one acr level must be configured".into(),
            ));
        }
        for (i, level) in self.acr.iter().enumerate() {
            if level.value.trim().is_empty() || level.value.contains(' ') {
                return Err(ConfigError::Invalid(format!(
                    "acr value {:?} is invalid",
                    level.value
                )));
            }
            if self.acr[..i].iter().any(|l| l.value == level.value) {
                return Err(ConfigError::Invalid(format!(
                    "acr value {:?} is listed twice",
                    level.value
                )));
            }
        }
        let t = &self.tokens;
        for (name, v) in [
            ("auth_code_secs", t.auth_code_secs),
            ("access_token_secs", t.access_token_secs),
            ("id_token_secs", t.id_token_secs),
            ("refresh_token_secs", t.refresh_token_secs),
            ("session_secs", t.session_secs),
            ("sign_in_secs", t.sign_in_secs),
            ("rate_limit.window_secs", self.rate_limit.window_secs),
            ("trusted_browser_days", self.trusted_browser_days),
            ("step_up_max_age_secs", self.step_up_max_age_secs),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be greater than zero"
                )));
            }
        }
        if let Some(key) = &self.secret_key {
            crate::crypto::SecretKey::from_base64(key)
                .map_err(|e| ConfigError::Invalid(format!("secret_key: {e}")))?;
        }
        Ok(())
    }

    /// The issuer URL without a trailing slash.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                };
                match self.listen_address {
                    IpAddr::V6(a) => format!("{scheme}://[{a}]:{}", self.port),
                    IpAddr::V4(a) => format!("{scheme}://{a}:{}", self.port),
                }
            }
        }
    }

    pub fn api_audience(&self) -> String {
        self.api_audience
            .clone()
            .unwrap_or_else(|| format!("{}/api", self.issuer()))
    }

    /// The configured level named `value`, if offered.
    pub fn acr_level(&self, value: &str) -> Option<&AcrLevel> {
        self.acr.iter().find(|l| l.value == value)
    }

    /// The data directory: configured, or the platform's (e.g.
    /// `~/.local/share/tessera-provider` on Linux).
    pub fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        directories::ProjectDirs::from("org", "Tessera", "tessera-provider")
            .map(|p| p.data_dir().to_owned())
            .ok_or_else(|| ConfigError::Invalid("no home directory: pass --data-dir".into()))
    }
}

/// True for `localhost`, 127.0.0.0/8 and `[::1]`.
pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_design() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.issuer(), "http://127.0.0.1:8765");
        assert_eq!(c.api_audience(), "http://127.0.0.1:8765/api");
        let values: Vec<_> = c
            .acr
            .iter()
            .map(|l| (l.value.as_str(), l.requires_mfa))
            .collect();
        assert_eq!(values[0], ("eidas1", false));
        assert!(values[1..].iter().all(|(_, mfa)| *mfa));
        assert!(c.acr_level("eidas2").is_none());
        assert!(c.mfa.global);
        assert_eq!(c.trusted_browser_days, 7);
    }

    #[test]
    fn toml_sets_levels_policy_and_lifetimes() {
        let c = Config::from_toml(
            r#"
            issuer = "https://id.example.org/"
            trusted_browser_days = 3
            [[acr]]
            value = "eidas2"
            requires_mfa = false
            [mfa]
            global = false
            attribute = { name = "employeeType", value_regex = "admin|ops" }
            [tokens]
            access_token_secs = 120
            "#,
            Path::new("t.toml"),
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.issuer(), "https://id.example.org");
        assert_eq!(
            c.acr,
            vec![AcrLevel {
                value: "eidas2".into(),
                requires_mfa: false
            }]
        );
        let trigger = c.mfa.attribute.unwrap();
        assert!(trigger.value_regex.is_match("ops"));
        assert!(!trigger.value_regex.is_match("opsx"), "anchored");
        assert_eq!(c.tokens.access_token_secs, 120);
        assert_eq!(c.tokens.auth_code_secs, 60);
    }

    #[test]
    fn the_example_file_parses_and_states_the_defaults() {
        let text = include_str!("../provider.example.toml");
        let c = Config::from_toml(text, Path::new("provider.example.toml")).unwrap();
        c.validate().unwrap();
        let d = Config::default();
        assert_eq!(c.acr, d.acr);
        assert_eq!(
            (c.port, c.store, c.mfa.global),
            (d.port, d.store, d.mfa.global)
        );
        assert_eq!(c.redis_prefix, d.redis_prefix);
        assert_eq!(c.tokens.refresh_token_secs, d.tokens.refresh_token_secs);
        assert_eq!(c.tokens.session_secs, d.tokens.session_secs);
        assert_eq!(c.rate_limit.ip_failures, d.rate_limit.ip_failures);
        assert_eq!(c.step_up_max_age_secs, d.step_up_max_age_secs);
    }

    #[test]
    fn bad_configuration_is_refused_with_the_reason() {
        let err = Config::from_toml("prot = 1", Path::new("c.toml")).unwrap_err();
        assert!(
            err.to_string().contains("c.toml") && err.to_string().contains("prot"),
            "{err}"
        );
        let err = Config::from_toml(
            "[mfa]\nattribute = { name = \"a\", value_regex = \"(\" }",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }));
        let c = Config {
            issuer: Some("http://id.example.org".into()),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("https"));
        let c = Config {
            acr: vec![],
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.acr.push(c.acr[0].clone());
        assert!(c.validate().unwrap_err().to_string().contains("twice"));
        let c = Config {
            secret_key: Some("short".into()),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("secret_key"));
    }

    #[test]
    fn the_account_api_accepts_the_desktop_app_unless_configured_otherwise() {
        let c = Config::default();
        assert_eq!(c.account_api_clients, ["tessera-desktop"]);
        for clients in [vec![], vec!["tessera-desktop".to_owned(), " ".to_owned()]] {
            let c = Config {
                account_api_clients: clients.clone(),
                ..Config::default()
            };
            match c.validate() {
                Err(ConfigError::Invalid(msg)) => {
                    assert!(msg.contains("account_api_clients"), "{clients:?}: {msg}")
                }
                other => panic!("{clients:?}: {other:?}"),
            }
        }
        let text = "account_api_clients = [\"tessera-desktop\", \"intranet\"]";
        let c = Config::from_toml(text, Path::new("t.toml")).unwrap();
        assert_eq!(c.account_api_clients, ["tessera-desktop", "intranet"]);
    }

    #[test]
    fn the_number_of_devices_per_account_is_bounded() {
        assert_eq!(Config::default().max_devices_per_user, 10);
        for n in [0, MAX_DEVICES_PER_USER_LIMIT + 1] {
            let c = Config {
                max_devices_per_user: n,
                ..Config::default()
            };
            match c.validate() {
                Err(ConfigError::Invalid(msg)) => {
                    assert!(msg.contains("max_devices_per_user"), "{n}: {msg}")
                }
                other => panic!("{n}: {other:?}"),
            }
        }
        let c = Config::from_toml("max_devices_per_user = 3", Path::new("t.toml")).unwrap();
        assert_eq!(c.max_devices_per_user, 3);
        c.validate().unwrap();
    }
}

//! Configuration: built-in defaults, then the system-wide managed file, the
//! user's file, `TESSERA_*` environment variables and command-line flags.
//!
//! The managed file (written by the organisation) fixes the security
//! settings — issuer, client id, accepted acr list and the account API URL
//! (bearer tokens are sent there) — so that nothing the user controls can
//! change them: values from lower layers are ignored and reported in
//! [`Config::ignored`]. Its other settings are mere defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::i18n::Lang;
use crate::issuer::Issuer;
use crate::policy;

pub const DEFAULT_CLIENT_ID: &str = "tessera-desktop";
/// As long as the provider keeps a sign-in (15 min): a first sign-in may
/// mean installing an authenticator app, scanning its QR code and saving
/// the recovery codes before the browser comes back. The waiting screen
/// can be cancelled at any time.
pub const DEFAULT_LOGIN_TIMEOUT_SECS: u64 = 15 * 60;
const LOGIN_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 10..=3600;

/// One configurable setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    Issuer,
    ClientId,
    AccountApi,
    AcceptedAcr,
    Language,
    LoginTimeoutSecs,
}

impl Setting {
    pub const ALL: [Setting; 6] = [
        Setting::Issuer,
        Setting::ClientId,
        Setting::AccountApi,
        Setting::AcceptedAcr,
        Setting::Language,
        Setting::LoginTimeoutSecs,
    ];

    /// Key in the TOML files.
    pub fn key(self) -> &'static str {
        match self {
            Setting::Issuer => "issuer",
            Setting::ClientId => "client_id",
            Setting::AccountApi => "account_api",
            Setting::AcceptedAcr => "accepted_acr",
            Setting::Language => "language",
            Setting::LoginTimeoutSecs => "login_timeout_secs",
        }
    }

    pub fn env_var(self) -> &'static str {
        match self {
            Setting::Issuer => "TESSERA_ISSUER",
            Setting::ClientId => "TESSERA_CLIENT_ID",
            Setting::AccountApi => "TESSERA_ACCOUNT_API",
            Setting::AcceptedAcr => "TESSERA_ACCEPTED_ACR",
            Setting::Language => "TESSERA_LANGUAGE",
            Setting::LoginTimeoutSecs => "TESSERA_LOGIN_TIMEOUT_SECS",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Setting::Issuer => "--issuer",
            Setting::ClientId => "--client-id",
            Setting::AccountApi => "--account-api",
            Setting::AcceptedAcr => "--accepted-acr",
            Setting::Language => "--language",
            Setting::LoginTimeoutSecs => "--login-timeout-secs",
        }
    }

    /// Settings the managed file fixes for good.
    pub fn is_security(self) -> bool {
        matches!(
            self,
            Setting::Issuer | Setting::ClientId | Setting::AccountApi | Setting::AcceptedAcr
        )
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Origin {
    Default,
    /// The system-wide managed file.
    SystemFile(String),
    UserFile(String),
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the built-in default"),
            Origin::SystemFile(p) => write!(f, "the managed file {p}"),
            Origin::UserFile(p) => write!(f, "the file {p}"),
            Origin::Env(v) => write!(f, "the environment variable {v}"),
            Origin::Flag(v) => write!(f, "the option {v}"),
        }
    }
}

impl Origin {
    fn fr(&self) -> String {
        match self {
            Origin::Default => "la valeur par défaut".to_owned(),
            Origin::SystemFile(p) => format!("le fichier géré {p}"),
            Origin::UserFile(p) => format!("le fichier {p}"),
            Origin::Env(v) => format!("la variable d'environnement {v}"),
            Origin::Flag(v) => format!("l'option {v}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no `{}` is configured: set it in {user_file}, with {} or with {}", setting.key(), setting.env_var(), setting.flag())]
    Missing { setting: Setting, user_file: String },
    #[error("invalid `{}` in {origin}: {reason}", setting.key())]
    Invalid {
        setting: Setting,
        origin: Origin,
        reason: String,
        reason_fr: String,
    },
    #[error("cannot read the configuration file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("`{}` is managed by {path} and cannot be changed", setting.key())]
    Managed { setting: Setting, path: String },
}

impl ConfigError {
    pub fn message(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::En, _) => self.to_string(),
            (Lang::Fr, ConfigError::Missing { setting, user_file }) => format!(
                "aucun réglage `{}` : indiquez-le dans {user_file}, avec {} ou avec {}",
                setting.key(),
                setting.env_var(),
                setting.flag()
            ),
            (
                Lang::Fr,
                ConfigError::Invalid {
                    setting,
                    origin,
                    reason_fr,
                    ..
                },
            ) => {
                format!(
                    "`{}` invalide dans {} : {reason_fr}",
                    setting.key(),
                    origin.fr()
                )
            }
            (Lang::Fr, ConfigError::File { path, reason }) => {
                format!("impossible de lire le fichier de configuration {path} : {reason}")
            }
            (Lang::Fr, ConfigError::Managed { setting, path }) => format!(
                "`{}` est géré par {path} et ne peut pas être modifié",
                setting.key()
            ),
        }
    }
}

/// The settings one layer (a file, the environment or the flags) provides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_api: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_acr: Option<Vec<String>>,
    /// `fr`, `en` or `auto` (the system language).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_timeout_secs: Option<u64>,
}

impl Layer {
    fn raw(&self, s: Setting) -> Option<Raw> {
        match s {
            Setting::Issuer => self.issuer.clone().map(Raw::Text),
            Setting::ClientId => self.client_id.clone().map(Raw::Text),
            Setting::AccountApi => self.account_api.clone().map(Raw::Text),
            Setting::AcceptedAcr => self.accepted_acr.clone().map(Raw::List),
            Setting::Language => self.language.clone().map(Raw::Text),
            Setting::LoginTimeoutSecs => self.login_timeout_secs.map(Raw::Number),
        }
    }

    /// Reads a TOML file; a missing file is an empty layer.
    pub fn read(path: &Path) -> Result<Layer, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Layer::default()),
            Err(e) => {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string().trim().replace('\n', " "),
        })
    }

    /// Reads `TESSERA_*` variables from `vars`. The acr list is separated by
    /// commas or spaces.
    pub fn from_env<'a>(
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Layer, ConfigError> {
        let mut layer = Layer::default();
        for (name, value) in vars {
            let Some(setting) = Setting::ALL.into_iter().find(|s| s.env_var() == name) else {
                continue;
            };
            let value = value.to_owned();
            match setting {
                Setting::Issuer => layer.issuer = Some(value),
                Setting::ClientId => layer.client_id = Some(value),
                Setting::AccountApi => layer.account_api = Some(value),
                Setting::AcceptedAcr => {
                    layer.accepted_acr = Some(
                        value
                            .split([',', ' '])
                            .filter(|v| !v.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    )
                }
                Setting::Language => layer.language = Some(value),
                Setting::LoginTimeoutSecs => {
                    layer.login_timeout_secs =
                        Some(value.trim().parse().map_err(|_| ConfigError::Invalid {
                            setting,
                            origin: Origin::Env(name.to_owned()),
                            reason: format!("`{value}` is not a number of seconds"),
                            reason_fr: format!("`{value}` n'est pas un nombre de secondes"),
                        })?)
                }
            }
        }
        Ok(layer)
    }
}

enum Raw {
    Text(String),
    List(Vec<String>),
    Number(u64),
}

/// Where to read each layer from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The managed file; `None` when the platform has none.
    pub system_file: Option<PathBuf>,
    pub user_file: Option<PathBuf>,
    pub env: Layer,
    pub flags: Layer,
}

impl Sources {
    /// The platform's files, this process's environment and the given flags.
    /// `TESSERA_CONFIG` may name another user file; nothing can move the
    /// managed file.
    pub fn platform(flags: Layer) -> Result<Sources, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("TESSERA_"))
            .collect();
        let env = Layer::from_env(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let user_file = std::env::var_os("TESSERA_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(user_config_path);
        Ok(Sources {
            system_file: Some(system_config_path()),
            user_file,
            env,
            flags,
        })
    }
}

/// `<platform config dir>/tessera/config.toml`.
pub fn user_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("tessera").join("config.toml"))
}

/// The organisation's managed file.
pub fn system_config_path() -> PathBuf {
    if cfg!(target_os = "windows") {
        let base = std::env::var_os("ProgramData")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
        base.join("Tessera").join("config.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Tessera/config.toml")
    } else {
        PathBuf::from("/etc/tessera/config.toml")
    }
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub issuer: Issuer,
    pub client_id: String,
    /// Base URL of the account API; routes of `tessera_api::paths` are
    /// appended to it without their `/api` prefix.
    pub account_api: Url,
    pub accepted_acr: Vec<String>,
    /// `None` means the system language.
    pub language_setting: Option<Lang>,
    pub login_timeout: Duration,
    /// Where each setting came from.
    pub origins: BTreeMap<Setting, Origin>,
    /// Values that were set but ignored because the managed file fixes them.
    pub ignored: Vec<(Setting, Origin)>,
    pub system_file: Option<PathBuf>,
    pub user_file: Option<PathBuf>,
}

impl Config {
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let system = match &sources.system_file {
            Some(p) => Layer::read(p)?,
            None => Layer::default(),
        };
        let user = match &sources.user_file {
            Some(p) => Layer::read(p)?,
            None => Layer::default(),
        };
        let sys_origin = Origin::SystemFile(display(&sources.system_file));
        let user_origin = Origin::UserFile(display(&sources.user_file));
        let layers: [(&Layer, Origin); 4] = [
            (&sources.flags, Origin::Flag(String::new())),
            (&sources.env, Origin::Env(String::new())),
            (&user, user_origin),
            (&system, sys_origin.clone()),
        ];

        let mut origins = BTreeMap::new();
        let mut ignored = Vec::new();
        let mut pick = |setting: Setting| -> Option<(Raw, Origin)> {
            let name_origin = |o: &Origin| match o {
                Origin::Flag(_) => Origin::Flag(setting.flag().to_owned()),
                Origin::Env(_) => Origin::Env(setting.env_var().to_owned()),
                other => other.clone(),
            };
            // The account API is where tokens go: when the managed file fixes
            // the issuer, it fixes the account API too (explicitly or derived).
            let managed = setting.is_security()
                && (system.raw(setting).is_some()
                    || (setting == Setting::AccountApi && system.issuer.is_some()));
            if managed {
                for (layer, origin) in &layers[..3] {
                    if layer.raw(setting).is_some() {
                        ignored.push((setting, name_origin(origin)));
                    }
                }
                let found = system.raw(setting).map(|r| (r, sys_origin.clone()));
                if let Some((_, o)) = &found {
                    origins.insert(setting, o.clone());
                } else {
                    origins.insert(setting, sys_origin.clone());
                }
                return found;
            }
            for (layer, origin) in &layers {
                if let Some(raw) = layer.raw(setting) {
                    let origin = name_origin(origin);
                    origins.insert(setting, origin.clone());
                    return Some((raw, origin));
                }
            }
            origins.insert(setting, Origin::Default);
            None
        };

        let user_file_name = display(&sources.user_file);
        let (issuer_raw, issuer_origin) = pick(Setting::Issuer).ok_or(ConfigError::Missing {
            setting: Setting::Issuer,
            user_file: user_file_name,
        })?;
        let issuer = Issuer::parse(&text(issuer_raw)).map_err(|e| ConfigError::Invalid {
            setting: Setting::Issuer,
            origin: issuer_origin,
            reason: e.to_string(),
            reason_fr: issuer_error_fr(&e),
        })?;

        let client_id = match pick(Setting::ClientId) {
            None => DEFAULT_CLIENT_ID.to_owned(),
            Some((raw, origin)) => {
                let id = text(raw).trim().to_owned();
                if id.is_empty() || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(ConfigError::Invalid {
                        setting: Setting::ClientId,
                        origin,
                        reason: "a client id is a non-empty word without spaces".into(),
                        reason_fr: "un identifiant de client est un mot non vide sans espace"
                            .into(),
                    });
                }
                id
            }
        };

        let account_api = match pick(Setting::AccountApi) {
            None => default_account_api(&issuer),
            Some((raw, origin)) => {
                let raw = text(raw);
                let checked = Issuer::parse(&raw).map_err(|e| ConfigError::Invalid {
                    setting: Setting::AccountApi,
                    origin,
                    reason: e.to_string().replace("the issuer", "the account API URL"),
                    reason_fr: issuer_error_fr(&e),
                })?;
                Url::parse(checked.as_str()).expect("an Issuer is a valid URL")
            }
        };

        let accepted_acr = match pick(Setting::AcceptedAcr) {
            None => policy::default_accepted_acr(),
            Some((raw, origin)) => {
                let list = match raw {
                    Raw::List(l) => l,
                    Raw::Text(t) => vec![t],
                    Raw::Number(n) => vec![n.to_string()],
                };
                let list: Vec<String> = list.into_iter().map(|v| v.trim().to_owned()).collect();
                if list.is_empty()
                    || list
                        .iter()
                        .any(|v| v.is_empty() || v.contains(char::is_whitespace))
                {
                    return Err(ConfigError::Invalid {
                        setting: Setting::AcceptedAcr,
                        origin,
                        reason: "a non-empty list of acr values without spaces is required".into(),
                        reason_fr: "une liste non vide de valeurs acr sans espace est requise"
                            .into(),
                    });
                }
                list
            }
        };

        let language_setting = match pick(Setting::Language) {
            None => None,
            Some((raw, origin)) => {
                let t = text(raw);
                match t.trim().to_ascii_lowercase().as_str() {
                    "auto" | "" => None,
                    "fr" => Some(Lang::Fr),
                    "en" => Some(Lang::En),
                    _ => {
                        return Err(ConfigError::Invalid {
                            setting: Setting::Language,
                            origin,
                            reason: format!("`{t}` is not one of fr, en, auto"),
                            reason_fr: format!("`{t}` n'est pas fr, en ou auto"),
                        });
                    }
                }
            }
        };

        let login_timeout = match pick(Setting::LoginTimeoutSecs) {
            None => Duration::from_secs(DEFAULT_LOGIN_TIMEOUT_SECS),
            Some((raw, origin)) => {
                let n = match raw {
                    Raw::Number(n) => Some(n),
                    Raw::Text(t) => t.trim().parse().ok(),
                    Raw::List(_) => None,
                };
                match n {
                    Some(n) if LOGIN_TIMEOUT_RANGE.contains(&n) => Duration::from_secs(n),
                    _ => {
                        return Err(ConfigError::Invalid {
                            setting: Setting::LoginTimeoutSecs,
                            origin,
                            reason: format!(
                                "a number of seconds from {} to {} is required",
                                LOGIN_TIMEOUT_RANGE.start(),
                                LOGIN_TIMEOUT_RANGE.end()
                            ),
                            reason_fr: format!(
                                "un nombre de secondes de {} à {} est requis",
                                LOGIN_TIMEOUT_RANGE.start(),
                                LOGIN_TIMEOUT_RANGE.end()
                            ),
                        });
                    }
                }
            }
        };

        Ok(Config {
            issuer,
            client_id,
            account_api,
            accepted_acr,
            language_setting,
            login_timeout,
            origins,
            ignored,
            system_file: sources.system_file.clone(),
            user_file: sources.user_file.clone(),
        })
    }

    /// The language of messages: the setting, else the system's.
    pub fn lang(&self) -> Lang {
        self.language_setting.unwrap_or_else(Lang::from_system)
    }

    /// Whether the managed file fixes `setting`.
    pub fn is_managed(&self, setting: Setting) -> bool {
        matches!(self.origins.get(&setting), Some(Origin::SystemFile(_))) && setting.is_security()
    }

    /// Changes (or with `None` removes) one setting in the user's file; see
    /// [`Sources::set_user_setting`].
    pub fn set_user_setting(
        &self,
        setting: Setting,
        value: Option<&str>,
    ) -> Result<(), ConfigError> {
        let sources = Sources {
            system_file: self.system_file.clone(),
            user_file: self.user_file.clone(),
            env: Layer::default(),
            flags: Layer::default(),
        };
        sources.set_user_setting(setting, value)
    }
}

impl Sources {
    /// Whether the managed file fixes `setting`.
    pub fn is_managed(&self, setting: Setting) -> Result<bool, ConfigError> {
        let system = match &self.system_file {
            Some(p) => Layer::read(p)?,
            None => return Ok(false),
        };
        Ok(setting.is_security()
            && (system.raw(setting).is_some()
                || (setting == Setting::AccountApi && system.issuer.is_some())))
    }

    /// Changes (or with `None` removes) one setting in the user's file,
    /// keeping the others; works before any issuer is configured. Managed
    /// settings are refused. The value is checked by loading the resulting
    /// configuration before the file is written.
    pub fn set_user_setting(
        &self,
        setting: Setting,
        value: Option<&str>,
    ) -> Result<(), ConfigError> {
        if self.is_managed(setting)? {
            return Err(ConfigError::Managed {
                setting,
                path: display(&self.system_file),
            });
        }
        let path = self.user_file.clone().ok_or(ConfigError::File {
            path: "(none)".into(),
            reason: "this platform has no configuration directory".into(),
        })?;
        let mut layer = Layer::read(&path)?;
        let v = value.map(str::to_owned);
        match setting {
            Setting::Issuer => layer.issuer = v,
            Setting::ClientId => layer.client_id = v,
            Setting::AccountApi => layer.account_api = v,
            Setting::AcceptedAcr => {
                layer.accepted_acr = v.map(|v| {
                    v.split([',', ' '])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
            }
            Setting::Language => layer.language = v,
            Setting::LoginTimeoutSecs => {
                layer.login_timeout_secs = match v {
                    None => None,
                    Some(t) => Some(t.trim().parse().map_err(|_| ConfigError::Invalid {
                        setting,
                        origin: Origin::UserFile(path.display().to_string()),
                        reason: format!("`{t}` is not a number of seconds"),
                        reason_fr: format!("`{t}` n'est pas un nombre de secondes"),
                    })?),
                }
            }
        }
        let text = toml::to_string(&layer).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        // Check the new file as the next start will read it, before writing.
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let io_err = |e: std::io::Error| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&dir).map_err(io_err)?;
        let tmp = dir.join(".config.toml.new");
        std::fs::write(&tmp, text).map_err(io_err)?;
        let check = Sources {
            system_file: self.system_file.clone(),
            user_file: Some(tmp.clone()),
            env: Layer::default(),
            flags: Layer::default(),
        };
        match Config::load(&check) {
            // A missing issuer is fine in the user's file alone.
            Ok(_) | Err(ConfigError::Missing { .. }) => {
                std::fs::rename(&tmp, &path).map_err(io_err)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(match e {
                    ConfigError::Invalid {
                        setting,
                        reason,
                        reason_fr,
                        ..
                    } => ConfigError::Invalid {
                        setting,
                        origin: Origin::UserFile(path.display().to_string()),
                        reason,
                        reason_fr,
                    },
                    other => other,
                })
            }
        }
    }
}

/// `<issuer>/api`.
pub fn default_account_api(issuer: &Issuer) -> Url {
    Url::parse(&format!("{}/api", issuer.as_str())).expect("issuer + /api is a URL")
}

fn text(raw: Raw) -> String {
    match raw {
        Raw::Text(t) => t,
        Raw::List(l) => l.join(","),
        Raw::Number(n) => n.to_string(),
    }
}

fn display(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(no file)".to_owned())
}

fn issuer_error_fr(e: &crate::issuer::IssuerError) -> String {
    use crate::issuer::IssuerError::*;
    match e {
        Invalid(v) => format!("`{v}` n'est pas une URL valide"),
        InsecureScheme(v) => {
            format!("`{v}` doit utiliser https (http n'est accepté que sur une adresse locale)")
        }
        QueryOrFragment(v) => format!("`{v}` ne doit contenir ni requête ni fragment"),
    }
}

#[cfg(test)]
mod tests;

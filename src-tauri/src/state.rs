//! The app's managed state: the client session (a `tessera_client::Client`,
//! rebuilt when the settings change) and the little the shell keeps itself:
//! the recovery codes last shown, until the user saves them or moves on, and
//! the secret last copied to the clipboard, until it is cleared from it.
//!
//! Every method is a thin call into the client core; errors become
//! `ErrorPayload`s in the user's language.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use secrecy::SecretString;
use tauri::ipc::Channel;
use tessera_api::{
    ActivityPage, Device, EnrollmentConfirmed, Me, RecoveryCodes, Removed, SecretText,
    TrustedBrowser, UserSearchResults,
};
use tessera_client::client::{SessionInfo, SignOutReport};
use tessera_client::config::DEFAULT_CLIENT_ID;
use tessera_client::oidc::LoginProgress;
use tessera_client::tokens::TokenStore;
use tessera_client::{
    Client, ClientError, Config, ConfigError, Lang, Setting, Sources, policy, qr,
};

use crate::clipboard::{ClipboardError, Forgotten, SecretClipboard};
use crate::error::{CommandResult, from_client, from_config};
use crate::recovery_file::{self, SaveError};
use crate::views::{EnrolmentView, SettingsUpdate, SettingsView};

/// Pixels per QR module in the enrolment image.
const QR_SCALE: u32 = 6;
/// File the recovery codes are saved to, in the user's download folder.
const RECOVERY_FILE: &str = "tessera-recovery-codes.txt";

pub struct AppState {
    sources: Sources,
    /// `None`: the OS keyring (the app); tests pass an in-memory store.
    token_store: Option<Arc<dyn TokenStore>>,
    download_dir: Option<PathBuf>,
    client: RwLock<Result<Arc<Client>, ConfigError>>,
    recovery_codes: Mutex<Option<Vec<SecretText>>>,
    clipboard: SecretClipboard,
}

impl AppState {
    /// The app's state: configuration from the platform's files and
    /// environment, tokens in the OS keyring.
    pub fn from_platform() -> AppState {
        let sources = Sources::platform(Default::default()).unwrap_or_else(|_| Sources {
            // A malformed TESSERA_* variable: keep the files, the error
            // shows again on the settings screen once the variable is fixed.
            system_file: Some(tessera_client::config::system_config_path()),
            user_file: tessera_client::config::user_config_path(),
            ..Sources::default()
        });
        AppState::new(sources, None, dirs::download_dir().or_else(dirs::home_dir))
    }

    pub fn new(
        sources: Sources,
        token_store: Option<Arc<dyn TokenStore>>,
        download_dir: Option<PathBuf>,
    ) -> AppState {
        let state = AppState {
            sources,
            token_store,
            download_dir,
            client: RwLock::new(Err(ConfigError::File {
                path: String::new(),
                reason: String::new(),
            })),
            recovery_codes: Mutex::new(None),
            clipboard: SecretClipboard::system(),
        };
        state.reload();
        state
    }

    /// The same state over another clipboard (the tests' in-memory one).
    pub fn with_clipboard(mut self, clipboard: SecretClipboard) -> AppState {
        self.clipboard = clipboard;
        self
    }

    /// (Re)reads the configuration and builds a new client for it.
    fn reload(&self) {
        let next = Config::load(&self.sources).and_then(|config| {
            let client = match &self.token_store {
                Some(store) => Client::new(config, store.clone()),
                None => Client::with_keyring(config),
            };
            client.map(Arc::new).map_err(|e| ConfigError::File {
                path: String::new(),
                reason: e.to_string(),
            })
        });
        *self.client.write().expect("client lock") = next;
    }

    fn lang(&self) -> Lang {
        match &*self.client.read().expect("client lock") {
            Ok(c) => c.config().lang(),
            Err(_) => Lang::from_system(),
        }
    }

    /// The client, or why there is none (no provider configured yet…).
    fn client(&self) -> CommandResult<Arc<Client>> {
        match &*self.client.read().expect("client lock") {
            Ok(c) => Ok(c.clone()),
            Err(e) => Err(from_config(e.clone(), Lang::from_system())),
        }
    }

    /// Runs one client call, reporting sign-in progress (a step-up may start
    /// one) on `progress`, and says any error in the user's language.
    async fn call<T, F, Fut>(
        &self,
        progress: Option<Channel<LoginProgress>>,
        f: F,
    ) -> CommandResult<T>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let client = self.client()?;
        if let Some(channel) = progress {
            client.on_progress(move |p| {
                // The web view may be gone; progress is best effort.
                let _ = channel.send(p);
            });
        }
        let lang = client.config().lang();
        f(client).await.map_err(|e| from_client(&e, lang))
    }

    fn keep_codes(&self, codes: Option<&Vec<SecretText>>) {
        *self.recovery_codes.lock().expect("codes lock") = codes.cloned();
    }

    // --- settings -------------------------------------------------------

    pub async fn settings(&self) -> CommandResult<SettingsView> {
        Ok(match &*self.client.read().expect("client lock") {
            Ok(client) => {
                let c = client.config();
                SettingsView {
                    issuer: Some(c.issuer.as_str().to_owned()),
                    issuer_managed: c.is_managed(Setting::Issuer),
                    client_id: c.client_id.clone(),
                    client_id_managed: c.is_managed(Setting::ClientId),
                    acr_values: c.accepted_acr.clone(),
                    acr_values_managed: c.is_managed(Setting::AcceptedAcr),
                    language: c.language_setting,
                    problem: None,
                }
            }
            Err(e) => SettingsView {
                issuer: None,
                issuer_managed: false,
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                client_id_managed: false,
                acr_values: policy::default_accepted_acr(),
                acr_values_managed: false,
                language: None,
                problem: Some(from_config(e.clone(), Lang::from_system())),
            },
        })
    }

    pub async fn set_settings(&self, update: SettingsUpdate) -> CommandResult<SettingsView> {
        let lang = self.lang();
        // What is in force now, if a configuration loads at all (before a
        // provider is configured, none does and both values are written).
        let current = match &*self.client.read().expect("client lock") {
            Ok(c) => Some((
                c.config().issuer.as_str().to_owned(),
                c.config().language_setting,
            )),
            Err(_) => None,
        };
        let write = |setting, value| {
            self.sources
                .set_user_setting(setting, value)
                .map_err(|e| from_config(e, lang))
        };
        if let Some(issuer) = update.issuer.as_deref().map(str::trim)
            && current.as_ref().is_none_or(|(i, _)| i != issuer)
        {
            write(Setting::Issuer, Some(issuer))?;
        }
        if current.as_ref().is_none_or(|(_, l)| *l != update.language) {
            write(Setting::Language, update.language.map(Lang::as_str))?;
        }
        self.reload();
        self.settings().await
    }

    // --- session --------------------------------------------------------

    pub async fn sign_in(&self, progress: Channel<LoginProgress>) -> CommandResult<SessionInfo> {
        self.call(Some(progress), |c| async move { c.login().await })
            .await
    }

    pub async fn cancel_sign_in(&self) -> CommandResult<()> {
        if let Ok(c) = self.client() {
            c.cancel_login();
        }
        Ok(())
    }

    pub async fn sign_out(&self) -> CommandResult<SignOutReport> {
        self.keep_codes(None);
        self.call(None, |c| async move { c.logout().await }).await
    }

    pub async fn session(&self) -> CommandResult<Option<SessionInfo>> {
        self.call(None, |c| async move { c.session().await }).await
    }

    pub async fn me(&self) -> CommandResult<Me> {
        self.call(None, |c| async move { c.me().await }).await
    }

    // --- devices and recovery codes ---------------------------------------

    pub async fn devices_list(&self) -> CommandResult<Vec<Device>> {
        self.call(None, |c| async move { c.devices().await }).await
    }

    pub async fn device_enrol_start(
        &self,
        name: String,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<EnrolmentView> {
        let started = self
            .call(Some(progress), |c| async move {
                c.start_enrollment(&name).await
            })
            .await?;
        let png = qr::png(started.otpauth_uri.expose(), QR_SCALE)
            .map_err(|e| from_client(&e, self.lang()))?;
        Ok(EnrolmentView {
            enrollment_id: started.enrollment_id,
            name: started.name,
            qr_png_data_uri: format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(png)
            ),
            secret_groups: qr::group_secret(started.secret.expose())
                .split(' ')
                .map(str::to_owned)
                .collect(),
            expires_at: started.expires_at,
        })
    }

    pub async fn device_enrol_confirm(
        &self,
        id: String,
        code: String,
    ) -> CommandResult<EnrollmentConfirmed> {
        let done = self
            .call(
                None,
                |c| async move { c.confirm_enrollment(&id, &code).await },
            )
            .await?;
        if done.recovery_codes.is_some() {
            self.keep_codes(done.recovery_codes.as_ref());
        }
        Ok(done)
    }

    pub async fn device_rename(&self, id: String, name: String) -> CommandResult<Device> {
        self.call(None, |c| async move { c.rename_device(&id, &name).await })
            .await
    }

    pub async fn device_delete(
        &self,
        id: String,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<()> {
        self.call(
            Some(progress),
            |c| async move { c.remove_device(&id).await },
        )
        .await
    }

    pub async fn recovery_codes_regenerate(
        &self,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<RecoveryCodes> {
        let fresh = self
            .call(Some(progress), |c| async move {
                c.regenerate_recovery_codes().await
            })
            .await?;
        self.keep_codes(Some(&fresh.codes));
        Ok(fresh)
    }

    /// Writes the codes last shown to a file only the user can read, then
    /// forgets them: kept until sign-out, they would outlive their purpose
    /// in memory.
    pub async fn recovery_codes_save(&self) -> CommandResult<String> {
        let lang = self.lang();
        let saved = self.save_codes().map_err(|e| e.payload(lang))?;
        Ok(saved.display().to_string())
    }

    fn save_codes(&self) -> Result<PathBuf, SaveError> {
        let dir = self
            .download_dir
            .clone()
            .ok_or(SaveError::NoDownloadFolder)?;
        let codes = self
            .recovery_codes
            .lock()
            .expect("codes lock")
            .take()
            .ok_or(SaveError::NoCodes)?;
        let path = dir.join(RECOVERY_FILE);
        let lang = self.lang();
        let mut text = String::from(lang.pick(
            "Tessera recovery codes: each one signs you in once.\n",
            "Codes de secours Tessera : chacun permet une seule connexion.\n",
        ));
        for c in &codes {
            text.push_str(c.expose());
            text.push('\n');
        }
        recovery_file::write_private(&path, &text).inspect_err(|_| {
            // Kept for another try, unless newer codes arrived meanwhile.
            self.recovery_codes
                .lock()
                .expect("codes lock")
                .get_or_insert(codes);
        })?;
        Ok(path)
    }

    // --- copied secrets ----------------------------------------------------

    /// Puts a secret on the clipboard, to be cleared from it 30 s later.
    pub async fn secret_copy(&self, value: String) -> CommandResult<()> {
        self.clipboard
            .copy(SecretString::from(value))
            .map_err(|e| e.payload(self.lang()))
    }

    /// The same, when the app closes (no one to tell).
    pub fn clipboard_forget_now(&self) -> Result<Forgotten, ClipboardError> {
        self.clipboard.forget()
    }

    /// Clears the last copied secret from the clipboard now, if still there.
    pub async fn secret_forget(&self) -> CommandResult<Forgotten> {
        self.clipboard.forget().map_err(|e| e.payload(self.lang()))
    }

    // --- trusted browsers and activity ------------------------------------

    pub async fn browsers_list(&self) -> CommandResult<Vec<TrustedBrowser>> {
        self.call(None, |c| async move { c.trusted_browsers().await })
            .await
    }

    pub async fn browser_revoke(
        &self,
        id: String,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<()> {
        self.call(
            Some(progress),
            |c| async move { c.revoke_browser(&id).await },
        )
        .await
    }

    pub async fn browsers_revoke_all(
        &self,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<Removed> {
        self.call(
            Some(progress),
            |c| async move { c.revoke_all_browsers().await },
        )
        .await
    }

    pub async fn activity_page(&self, cursor: Option<String>) -> CommandResult<ActivityPage> {
        self.call(None, |c| async move {
            c.activity(cursor.as_deref(), None).await
        })
        .await
    }

    // --- help desk -------------------------------------------------------

    pub async fn helpdesk_search(&self, q: String) -> CommandResult<UserSearchResults> {
        self.call(None, |c| async move { c.search_users(&q, None).await })
            .await
    }

    pub async fn helpdesk_devices(&self, uid: String) -> CommandResult<Vec<Device>> {
        self.call(None, |c| async move { c.user_devices(&uid).await })
            .await
    }

    pub async fn helpdesk_device_remove(
        &self,
        uid: String,
        id: String,
        reason: String,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<()> {
        self.call(Some(progress), |c| async move {
            c.remove_user_device(&uid, &id, &reason).await
        })
        .await
    }

    pub async fn helpdesk_devices_reset(
        &self,
        uid: String,
        reason: String,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<Removed> {
        self.call(Some(progress), |c| async move {
            c.reset_user_devices(&uid, &reason).await
        })
        .await
    }

    pub async fn helpdesk_browsers(&self, uid: String) -> CommandResult<Vec<TrustedBrowser>> {
        self.call(None, |c| async move { c.user_browsers(&uid).await })
            .await
    }

    pub async fn helpdesk_browser_revoke(
        &self,
        uid: String,
        id: String,
        reason: String,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<()> {
        self.call(Some(progress), |c| async move {
            c.revoke_user_browser(&uid, &id, &reason).await
        })
        .await
    }

    pub async fn helpdesk_browsers_revoke_all(
        &self,
        uid: String,
        reason: String,
        progress: Channel<LoginProgress>,
    ) -> CommandResult<Removed> {
        self.call(Some(progress), |c| async move {
            c.revoke_user_browsers(&uid, &reason).await
        })
        .await
    }

    pub async fn helpdesk_activity(
        &self,
        uid: String,
        cursor: Option<String>,
    ) -> CommandResult<ActivityPage> {
        self.call(None, |c| async move {
            c.user_activity(&uid, cursor.as_deref(), None).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_client::tokens::MemoryTokenStore;

    fn state(dir: &std::path::Path) -> AppState {
        let system = dir.join("system.toml");
        std::fs::write(&system, "issuer = \"https://id.example.org\"\n").unwrap();
        let sources = Sources {
            system_file: Some(system),
            ..Sources::default()
        };
        AppState::new(
            sources,
            Some(Arc::new(MemoryTokenStore::default())),
            Some(dir.to_owned()),
        )
    }

    #[test]
    fn recovery_codes_are_saved_to_a_private_file_with_every_code() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        let codes: Vec<SecretText> = ["aaaa-1111", "bbbb-2222"].map(SecretText::from).to_vec();
        s.keep_codes(Some(&codes));
        let path = tauri::async_runtime::block_on(s.recovery_codes_save()).unwrap();
        assert_eq!(std::path::Path::new(&path), dir.path().join(RECOVERY_FILE));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("aaaa-1111\n") && text.contains("bbbb-2222\n"),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn saved_codes_are_forgotten_and_refused_ones_kept_for_another_try() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        s.keep_codes(Some(&vec![SecretText::from("dddd-4444")]));
        let path = dir.path().join(RECOVERY_FILE);
        #[cfg(unix)]
        {
            let target = dir.path().join("elsewhere.txt");
            std::fs::write(&target, "untouched\n").unwrap();
            std::os::unix::fs::symlink(&target, &path).unwrap();
            let err = tauri::async_runtime::block_on(s.recovery_codes_save()).unwrap_err();
            assert_eq!(err.code, "unsafe_file", "{err:?}");
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
            std::fs::remove_file(&path).unwrap();
        }
        tauri::async_runtime::block_on(s.recovery_codes_save()).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("dddd-4444")
        );
        let again = tauri::async_runtime::block_on(s.recovery_codes_save()).unwrap_err();
        assert_eq!(again.code, "not_found", "the codes are no longer held");
        assert!(again.message.contains("shown only once"), "{again:?}");
    }

    #[test]
    fn signing_out_forgets_the_codes_kept_for_saving() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        s.keep_codes(Some(&vec![SecretText::from("cccc-3333")]));
        tauri::async_runtime::block_on(s.sign_out()).unwrap();
        let err = tauri::async_runtime::block_on(s.recovery_codes_save()).unwrap_err();
        assert_eq!(err.code, "not_found");
        assert!(!dir.path().join(RECOVERY_FILE).exists());
    }
}

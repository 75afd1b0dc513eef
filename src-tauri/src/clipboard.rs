//! Copied secrets (a TOTP secret, recovery codes) on the system clipboard,
//! and taking them off again.
//!
//! The web view cannot do it itself: WebKitGTK refuses clipboard reads and
//! writes outside a user gesture, so a clearing 30 seconds later fails on
//! Linux. Here the shell puts the text on the clipboard marked as sensitive
//! (left out of clipboard managers' histories where the platform allows),
//! keeps it and its copy time, and clears the clipboard [`CLEAR_AFTER`] later
//! (or when the web view says the user moved on), but only if the clipboard
//! still holds that text: what the user copied since is left alone. When the
//! clipboard cannot be read, it is cleared anyway: a secret must not stay.
//!
//! The policy ([`SecretClipboard`]) works on the [`Clipboard`] trait; the
//! system clipboard ([`SystemClipboard`], `arboard`) is one adapter, an
//! in-memory one is the tests' double.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tessera_client::{ErrorPayload, Lang};
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// How long a copied secret may stay on the clipboard.
pub const CLEAR_AFTER: Duration = Duration::from_secs(30);

/// A clipboard holding text. Implementations do no policy.
pub trait Clipboard: Send {
    /// Puts `text` on the clipboard, marked as sensitive where the platform
    /// allows (not kept in clipboard histories).
    fn set_secret(&mut self, text: &str) -> Result<(), String>;
    /// The text on the clipboard; `None` when it holds no text (empty, or an
    /// image, or anything that is not UTF-8 text: not ours in any case).
    fn text(&mut self) -> Result<Option<String>, String>;
    fn clear(&mut self) -> Result<(), String>;
}

/// Opens the clipboard; called again until it succeeds.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn Clipboard>, String> + Send>;

/// Why a secret could not be put on, or taken off, the clipboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipboardError {
    /// No clipboard could be opened, or it refused the text.
    Copy { reason: String },
    /// The clipboard could not be cleared: the secret may still be on it.
    Clear { reason: String },
}

impl ClipboardError {
    /// Stable machine code; the UI branches on it.
    pub fn code(&self) -> &'static str {
        match self {
            ClipboardError::Copy { .. } => "clipboard",
            ClipboardError::Clear { .. } => "clipboard_not_cleared",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (ClipboardError::Copy { reason }, Lang::En) => {
                format!("The text could not be copied to the clipboard: {reason}")
            }
            (ClipboardError::Copy { reason }, Lang::Fr) => {
                format!("Le texte n'a pas pu être copié dans le presse-papiers : {reason}")
            }
            (ClipboardError::Clear { reason }, Lang::En) => format!(
                "The clipboard could not be cleared ({reason}): copy some other text to replace \
                 what is in it."
            ),
            (ClipboardError::Clear { reason }, Lang::Fr) => format!(
                "Le presse-papiers n'a pas pu être vidé ({reason}) : copiez un autre texte pour \
                 remplacer son contenu."
            ),
        }
    }

    pub fn payload(&self, lang: Lang) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_owned(),
            message: self.message(lang),
        }
    }
}

/// What became of the last copied secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Forgotten {
    /// It was still on the clipboard (or the clipboard could not be read)
    /// and the clipboard was cleared.
    Cleared,
    /// The clipboard held something else (the user copied since): left alone.
    Replaced,
    /// No secret was waiting to be cleared.
    Nothing,
}

/// The secret copies of the app: at most one waits to be cleared.
pub struct SecretClipboard {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    open: Opener,
    /// Kept open once opened: on X11 and Wayland the copied text is served
    /// by this object, and would vanish with it.
    clipboard: Option<Box<dyn Clipboard>>,
    pending: Option<Pending>,
    /// Numbers the copies, so that a timer only clears its own.
    copies: u64,
    /// What the timer did to the last copy, for the next `forget` to answer.
    expired: Option<Forgotten>,
}

struct Pending {
    value: SecretString,
    copied_at: Instant,
    copy: u64,
    timer: AbortHandle,
}

impl Inner {
    fn clipboard(&mut self) -> Result<&mut Box<dyn Clipboard>, String> {
        if self.clipboard.is_none() {
            self.clipboard = Some((self.open)()?);
        }
        Ok(self.clipboard.as_mut().expect("opened above"))
    }

    /// Clears the clipboard if it still holds the pending secret (or cannot
    /// be read); the pending secret is dropped once that is settled, and
    /// kept (for another try) when clearing failed.
    fn clear_pending(&mut self) -> Result<Forgotten, ClipboardError> {
        let Some(pending) = &self.pending else {
            return Ok(Forgotten::Nothing);
        };
        let value = pending.value.clone();
        let clipboard = self
            .clipboard()
            .map_err(|reason| ClipboardError::Clear { reason })?;
        let held = match clipboard.text() {
            Ok(Some(text)) => text == value.expose_secret(),
            Ok(None) => false,
            // Cannot tell what is there: it may be the secret.
            Err(_) => true,
        };
        let outcome = if held {
            clipboard
                .clear()
                .map_err(|reason| ClipboardError::Clear { reason })?;
            Forgotten::Cleared
        } else {
            Forgotten::Replaced
        };
        if let Some(p) = self.pending.take() {
            p.timer.abort();
        }
        Ok(outcome)
    }
}

impl SecretClipboard {
    pub fn new(open: Opener) -> SecretClipboard {
        SecretClipboard {
            inner: Arc::new(Mutex::new(Inner {
                open,
                clipboard: None,
                pending: None,
                copies: 0,
                expired: None,
            })),
        }
    }

    /// The system clipboard (opened at the first copy).
    pub fn system() -> SecretClipboard {
        SecretClipboard::new(Box::new(|| {
            SystemClipboard::open().map(|c| Box::new(c) as Box<dyn Clipboard>)
        }))
    }

    /// Puts `value` on the clipboard and clears it [`CLEAR_AFTER`] later if
    /// it is still there. A newer copy replaces the pending one (and its
    /// timer). Must be called within a Tokio runtime.
    pub fn copy(&self, value: SecretString) -> Result<(), ClipboardError> {
        let mut inner = self.inner.lock().expect("clipboard lock");
        inner
            .clipboard()
            .and_then(|c| c.set_secret(value.expose_secret()))
            .map_err(|reason| ClipboardError::Copy { reason })?;
        inner.copies += 1;
        let copy = inner.copies;
        let copied_at = Instant::now();
        let weak = Arc::downgrade(&self.inner);
        let timer = tokio::spawn(async move {
            tokio::time::sleep_until(copied_at + CLEAR_AFTER).await;
            expire(&weak, copy);
        })
        .abort_handle();
        if let Some(old) = inner.pending.replace(Pending {
            value,
            copied_at,
            copy,
            timer,
        }) {
            old.timer.abort();
        }
        inner.expired = None;
        Ok(())
    }

    /// Clears the clipboard now if it still holds the last copied secret
    /// (the user moved on), and says what became of that secret, also when
    /// the timer already took care of it.
    pub fn forget(&self) -> Result<Forgotten, ClipboardError> {
        let mut inner = self.inner.lock().expect("clipboard lock");
        if inner.pending.is_none() {
            return Ok(inner.expired.take().unwrap_or(Forgotten::Nothing));
        }
        inner.expired = None;
        inner.clear_pending()
    }

    /// When the pending secret was copied, if one is waiting to be cleared.
    pub fn pending_since(&self) -> Option<Instant> {
        let inner = self.inner.lock().expect("clipboard lock");
        inner.pending.as_ref().map(|p| p.copied_at)
    }
}

impl Drop for SecretClipboard {
    /// The app is closing: a secret still pending leaves the clipboard
    /// (on X11, arboard would otherwise hand it to the clipboard manager).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Ok(mut inner) = self.inner.lock() {
            let _ = inner.clear_pending();
        }
    }
}

/// The timer of copy number `copy`: clears it unless a newer copy or a
/// `forget` came first. A failed clearing keeps it pending for `forget`.
fn expire(inner: &Weak<Mutex<Inner>>, copy: u64) {
    let Some(inner) = inner.upgrade() else { return };
    let mut inner = inner.lock().expect("clipboard lock");
    if inner.pending.as_ref().is_none_or(|p| p.copy != copy) {
        return;
    }
    if let Ok(outcome) = inner.clear_pending() {
        inner.expired = Some(outcome);
    }
}

/// The system clipboard, through `arboard`.
pub struct SystemClipboard(arboard::Clipboard);

impl SystemClipboard {
    pub fn open() -> Result<SystemClipboard, String> {
        arboard::Clipboard::new()
            .map(SystemClipboard)
            .map_err(|e| e.to_string())
    }
}

impl Clipboard for SystemClipboard {
    fn set_secret(&mut self, text: &str) -> Result<(), String> {
        let set = self.0.set();
        #[cfg(all(
            unix,
            not(any(target_os = "macos", target_os = "android", target_os = "emscripten"))
        ))]
        let set = arboard::SetExtLinux::exclude_from_history(set);
        #[cfg(windows)]
        let set = arboard::SetExtWindows::exclude_from_cloud(
            arboard::SetExtWindows::exclude_from_history(set),
        );
        #[cfg(target_os = "macos")]
        let set = arboard::SetExtApple::exclude_from_history(set);
        set.text(text).map_err(|e| e.to_string())
    }

    fn text(&mut self) -> Result<Option<String>, String> {
        match self.0.get_text() {
            Ok(text) => Ok(Some(text)),
            // Empty, or not text, or not UTF-8: not the secret.
            Err(arboard::Error::ContentNotAvailable | arboard::Error::ConversionFailure) => {
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn clear(&mut self) -> Result<(), String> {
        self.0.clear().map_err(|e| e.to_string())
    }
}

/// An in-memory clipboard, shared with the test that plays the user.
#[cfg(test)]
pub mod memory {
    use super::*;

    #[derive(Debug, Default)]
    pub struct State {
        pub text: Option<String>,
        pub sensitive: bool,
        pub read_fails: bool,
        pub clear_fails: bool,
        pub clears: usize,
    }

    #[derive(Clone, Default)]
    pub struct MemoryClipboard(pub Arc<Mutex<State>>);

    impl MemoryClipboard {
        pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
            // A failed assertion may have held it: the next test still runs.
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Another application copies `text`.
        pub fn user_copies(&self, text: &str) {
            let mut s = self.state();
            s.text = Some(text.to_owned());
            s.sensitive = false;
        }

        pub fn text(&self) -> Option<String> {
            self.state().text.clone()
        }

        pub fn secret_clipboard(&self) -> SecretClipboard {
            let c = self.clone();
            SecretClipboard::new(Box::new(move || {
                Ok(Box::new(c.clone()) as Box<dyn Clipboard>)
            }))
        }
    }

    impl Clipboard for MemoryClipboard {
        fn set_secret(&mut self, text: &str) -> Result<(), String> {
            let mut s = self.state();
            s.text = Some(text.to_owned());
            s.sensitive = true;
            Ok(())
        }

        fn text(&mut self) -> Result<Option<String>, String> {
            let s = self.state();
            if s.read_fails {
                return Err("read refused".into());
            }
            Ok(s.text.clone())
        }

        fn clear(&mut self) -> Result<(), String> {
            let mut s = self.state();
            if s.clear_fails {
                return Err("clear refused".into());
            }
            s.text = None;
            s.sensitive = false;
            s.clears += 1;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryClipboard;
    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXP";

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    /// Lets `d` go by on the paused clock, running the timers that fall due.
    async fn wait(d: Duration) {
        tokio::time::sleep(d).await;
        // Let a timer that just woke finish its work.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_copied_secret_is_marked_sensitive_and_cleared_after_30_seconds_when_still_held() {
        let mem = MemoryClipboard::default();
        let clip = mem.secret_clipboard();
        clip.copy(secret(SECRET)).unwrap();
        assert_eq!(mem.text().as_deref(), Some(SECRET));
        assert!(mem.state().sensitive, "marked as sensitive");
        assert!(clip.pending_since().is_some());

        wait(CLEAR_AFTER - Duration::from_millis(1)).await;
        assert_eq!(mem.text().as_deref(), Some(SECRET), "not before 30 s");
        wait(Duration::from_millis(1)).await;
        assert_eq!(mem.text(), None, "cleared at 30 s");
        assert_eq!(mem.state().clears, 1);
        assert!(
            clip.pending_since().is_none(),
            "the secret is no longer kept"
        );
        // The web view, asking at the same moment, learns it was cleared.
        assert_eq!(clip.forget(), Ok(Forgotten::Cleared));
        assert_eq!(clip.forget(), Ok(Forgotten::Nothing));
    }

    #[tokio::test(start_paused = true)]
    async fn what_the_user_copied_since_is_never_cleared() {
        let mem = MemoryClipboard::default();
        let clip = mem.secret_clipboard();
        clip.copy(secret(SECRET)).unwrap();
        wait(Duration::from_secs(10)).await;
        mem.user_copies("the user's next copy");
        wait(CLEAR_AFTER).await;
        assert_eq!(mem.text().as_deref(), Some("the user's next copy"));
        assert_eq!(mem.state().clears, 0);
        assert_eq!(clip.forget(), Ok(Forgotten::Replaced));

        // Nor by a forget.
        clip.copy(secret(SECRET)).unwrap();
        mem.user_copies("another one");
        assert_eq!(clip.forget(), Ok(Forgotten::Replaced));
        assert_eq!(mem.text().as_deref(), Some("another one"));
        assert_eq!(mem.state().clears, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn forget_clears_at_once_and_the_timer_then_does_nothing() {
        let mem = MemoryClipboard::default();
        let clip = mem.secret_clipboard();
        clip.copy(secret(SECRET)).unwrap();
        wait(Duration::from_secs(5)).await;
        assert_eq!(clip.forget(), Ok(Forgotten::Cleared));
        assert_eq!(mem.text(), None);
        assert!(clip.pending_since().is_none());
        mem.user_copies("later copy");
        wait(CLEAR_AFTER).await;
        assert_eq!(mem.text().as_deref(), Some("later copy"));
        assert_eq!(mem.state().clears, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_copy_replaces_the_pending_clear() {
        let mem = MemoryClipboard::default();
        let clip = mem.secret_clipboard();
        clip.copy(secret("first secret")).unwrap();
        wait(Duration::from_secs(20)).await;
        clip.copy(secret("second secret")).unwrap();
        let second_at = clip.pending_since().unwrap();
        // The first copy's 30 s have passed: the second one stays its own 30 s.
        wait(Duration::from_secs(15)).await;
        assert_eq!(mem.text().as_deref(), Some("second secret"));
        assert_eq!(mem.state().clears, 0);
        assert_eq!(clip.pending_since(), Some(second_at));
        wait(Duration::from_secs(15)).await;
        assert_eq!(mem.text(), None);
        assert_eq!(mem.state().clears, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_clipboard_that_cannot_be_read_is_cleared_anyway() {
        let mem = MemoryClipboard::default();
        let clip = mem.secret_clipboard();
        clip.copy(secret(SECRET)).unwrap();
        mem.user_copies("cannot tell what this is");
        mem.state().read_fails = true;
        wait(CLEAR_AFTER).await;
        assert_eq!(mem.text(), None);
        assert_eq!(mem.state().clears, 1);

        clip.copy(secret(SECRET)).unwrap();
        assert_eq!(clip.forget(), Ok(Forgotten::Cleared));
        assert_eq!(mem.state().clears, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_clearing_is_said_and_kept_for_another_try() {
        let mem = MemoryClipboard::default();
        let clip = mem.secret_clipboard();
        clip.copy(secret(SECRET)).unwrap();
        mem.state().clear_fails = true;
        wait(CLEAR_AFTER).await;
        assert_eq!(mem.text().as_deref(), Some(SECRET));
        let err = clip.forget().unwrap_err();
        assert_eq!(err.code(), "clipboard_not_cleared");
        assert!(clip.pending_since().is_some(), "still to be cleared");
        mem.state().clear_fails = false;
        assert_eq!(clip.forget(), Ok(Forgotten::Cleared));
        assert_eq!(mem.text(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_clipboard_that_cannot_be_opened_fails_the_copy_and_is_tried_again() {
        let mem = MemoryClipboard::default();
        let mut tries = 0;
        let m = mem.clone();
        let clip = SecretClipboard::new(Box::new(move || {
            tries += 1;
            if tries == 1 {
                Err("no display".into())
            } else {
                Ok(Box::new(m.clone()) as Box<dyn Clipboard>)
            }
        }));
        let err = clip.copy(secret(SECRET)).unwrap_err();
        assert_eq!(err.code(), "clipboard");
        assert!(err.message(Lang::En).contains("no display"));
        assert!(clip.pending_since().is_none());
        clip.copy(secret(SECRET)).unwrap();
        assert_eq!(mem.text().as_deref(), Some(SECRET));
    }

    #[tokio::test(start_paused = true)]
    async fn closing_the_app_clears_a_pending_secret() {
        let mem = MemoryClipboard::default();
        let clip = mem.secret_clipboard();
        clip.copy(secret(SECRET)).unwrap();
        drop(clip);
        assert_eq!(mem.text(), None);
    }

    #[test]
    fn errors_have_stable_codes_and_both_languages() {
        for e in [
            ClipboardError::Copy { reason: "x".into() },
            ClipboardError::Clear { reason: "x".into() },
        ] {
            assert!(e.code().starts_with("clipboard"));
            assert_ne!(e.message(Lang::En), e.message(Lang::Fr));
            assert_eq!(e.payload(Lang::Fr).code, e.code());
        }
    }
}

/// The `arboard` adapter on a real X11 server, read by another process as
/// an application would. Needs a display, so not part of a plain
/// `cargo test`: `xvfb-run -a cargo test -p tessera-desktop --locked --lib --
/// --ignored system_clipboard`.
#[cfg(all(test, target_os = "linux"))]
mod system_clipboard_tests {
    use super::*;
    use std::process::{Child, Command};

    /// What the helper does: `read` (writes the clipboard's text, or
    /// `<none>`, to the file in `OUT`) or `copy:<text>` (copies the text and
    /// serves it for up to 20 s, as another application).
    const HELPER: &str = "TESSERA_TEST_CLIPBOARD_HELPER";
    const OUT: &str = "TESSERA_TEST_CLIPBOARD_OUT";
    const SECRET: &str = "JBSWY3DPEHPK3PXP";

    /// Another application, run as a child process of this test binary.
    #[test]
    #[ignore = "a helper process of system_clipboard_on_x11"]
    fn system_clipboard_helper() {
        let Ok(task) = std::env::var(HELPER) else {
            return;
        };
        let mut c = arboard::Clipboard::new().expect("a display");
        if let Some(text) = task.strip_prefix("copy:") {
            use arboard::SetExtLinux;
            c.set()
                .wait_until(std::time::Instant::now() + Duration::from_secs(20))
                .text(text.to_owned())
                .unwrap();
        } else {
            let got = match c.get_text() {
                Ok(t) => t,
                Err(arboard::Error::ContentNotAvailable) => "<none>".to_owned(),
                Err(e) => format!("<error: {e}>"),
            };
            std::fs::write(std::env::var(OUT).unwrap(), got).unwrap();
        }
    }

    fn helper(task: &str, out: Option<&std::path::Path>) -> Command {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "clipboard::system_clipboard_tests::system_clipboard_helper",
        ])
        .env(HELPER, task)
        .stdout(std::process::Stdio::null());
        if let Some(out) = out {
            cmd.env(OUT, out);
        }
        cmd
    }

    /// The clipboard's text as another process reads it.
    fn read_elsewhere() -> String {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clipboard.txt");
        let status = helper("read", Some(&out)).status().unwrap();
        assert!(status.success());
        std::fs::read_to_string(out).unwrap()
    }

    /// Another application copies `text` (and serves it while it runs).
    fn other_app_copies(text: &str) -> Child {
        let child = helper(&format!("copy:{text}"), None).spawn().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while read_elsewhere() != text {
            assert!(
                std::time::Instant::now() < deadline,
                "the other application's copy never arrived"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    #[tokio::test(start_paused = true)]
    #[ignore = "needs an X11 display: xvfb-run -a cargo test -p tessera-desktop --lib -- --ignored system_clipboard"]
    async fn system_clipboard_on_x11() {
        assert!(
            std::env::var_os("DISPLAY").is_some() && std::env::var_os("WAYLAND_DISPLAY").is_none(),
            "run under Xvfb (xvfb-run -a), without WAYLAND_DISPLAY"
        );
        let clip = SecretClipboard::system();

        // Copied, and still there for other applications after the copy.
        clip.copy(SecretString::from(SECRET)).unwrap();
        assert_eq!(read_elsewhere(), SECRET);
        assert_eq!(read_elsewhere(), SECRET, "served for as long as needed");
        // Gone 30 s later.
        tokio::time::sleep(CLEAR_AFTER).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(read_elsewhere(), "<none>");
        assert_eq!(clip.forget(), Ok(Forgotten::Cleared));

        // What another application copied since stays.
        clip.copy(SecretString::from(SECRET)).unwrap();
        let mut other = other_app_copies("the user's next copy");
        assert_eq!(clip.forget(), Ok(Forgotten::Replaced));
        assert_eq!(read_elsewhere(), "the user's next copy");
        other.kill().unwrap();
        other.wait().unwrap();

        // Forgetting clears at once.
        clip.copy(SecretString::from(SECRET)).unwrap();
        assert_eq!(read_elsewhere(), SECRET);
        assert_eq!(clip.forget(), Ok(Forgotten::Cleared));
        assert_eq!(read_elsewhere(), "<none>");
    }
}

//! Commands through Tauri's IPC with the mock runtime: the same path the web
//! view takes (argument names, JSON shapes, `{code, message}` rejections).

use std::sync::Arc;

use serde_json::{Value, json};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tessera_client::Sources;
use tessera_client::tokens::MemoryTokenStore;

use crate::clipboard::memory::MemoryClipboard;
use crate::state::AppState;

struct Harness {
    _app: tauri::App<MockRuntime>,
    webview: tauri::WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
    /// Never the system clipboard: tests must not need (or touch) a display.
    clipboard: MemoryClipboard,
}

impl Harness {
    /// The app over config files in a temp dir (`system.toml` is the managed
    /// file), an in-memory token store and an in-memory clipboard.
    fn new(system: Option<&str>, user: Option<&str>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let system_file = dir.path().join("system.toml");
        let user_file = dir.path().join("user").join("config.toml");
        if let Some(s) = system {
            std::fs::write(&system_file, s).unwrap();
        }
        if let Some(u) = user {
            std::fs::create_dir_all(user_file.parent().unwrap()).unwrap();
            std::fs::write(&user_file, u).unwrap();
        }
        let sources = Sources {
            system_file: Some(system_file),
            user_file: Some(user_file),
            ..Sources::default()
        };
        let state = AppState::new(
            sources,
            Some(Arc::new(MemoryTokenStore::default())),
            Some(dir.path().to_owned()),
        );
        let clipboard = MemoryClipboard::default();
        let state = state.with_clipboard(clipboard.secret_clipboard());
        let app = crate::setup(mock_builder(), state)
            .build(mock_context(noop_assets()))
            .unwrap();
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        Harness {
            _app: app,
            webview,
            dir,
            clipboard,
        }
    }

    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: tauri::ipc::InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap())
    }

    fn user_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("user").join("config.toml"))
            .unwrap_or_default()
    }
}

const MANAGED: &str = "issuer = \"https://id.example.org\"\nclient_id = \"corp-desktop\"\n";

#[test]
fn version_answers_through_ipc() {
    let h = Harness::new(None, None);
    let v = h.invoke("version", json!({})).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn settings_show_what_the_organisation_manages() {
    let h = Harness::new(Some(MANAGED), Some("language = \"fr\"\n"));
    let s = h.invoke("settings_get", json!({})).unwrap();
    assert_eq!(s["issuer"], "https://id.example.org");
    assert_eq!(s["issuer_managed"], true);
    assert_eq!(s["client_id"], "corp-desktop");
    assert_eq!(s["client_id_managed"], true);
    assert_eq!(s["acr_values_managed"], false);
    assert_eq!(s["language"], "fr");
    assert_eq!(s["problem"], Value::Null);
}

#[test]
fn a_managed_provider_cannot_be_changed_and_nothing_is_written() {
    let h = Harness::new(Some(MANAGED), None);
    let err = h
        .invoke(
            "settings_set",
            json!({"update": {"issuer": "https://evil.example.com", "language": null}}),
        )
        .unwrap_err();
    assert_eq!(err["code"], "config");
    assert!(
        err["message"].as_str().unwrap().contains("system.toml"),
        "{err}"
    );
    assert_eq!(h.user_file(), "");
    let s = h.invoke("settings_get", json!({})).unwrap();
    assert_eq!(s["issuer"], "https://id.example.org");
}

#[test]
fn without_a_provider_the_settings_say_why_and_setting_one_starts_the_client() {
    let h = Harness::new(None, None);
    let s = h.invoke("settings_get", json!({})).unwrap();
    assert_eq!(s["issuer"], Value::Null);
    assert_eq!(s["problem"]["code"], "config");
    assert_eq!(h.invoke("me", json!({})).unwrap_err()["code"], "config");

    let s = h
        .invoke(
            "settings_set",
            json!({"update": {"issuer": "http://127.0.0.1:9", "language": "en"}}),
        )
        .unwrap();
    assert_eq!(s["issuer"], "http://127.0.0.1:9");
    assert_eq!(s["language"], "en");
    assert_eq!(s["problem"], Value::Null);
    assert!(
        h.user_file().contains("http://127.0.0.1:9"),
        "{}",
        h.user_file()
    );
    // A client exists now: the next refusal is about the session, not the config.
    assert_eq!(
        h.invoke("me", json!({})).unwrap_err()["code"],
        "not_signed_in"
    );
}

#[test]
fn an_insecure_provider_is_refused_with_a_readable_reason() {
    let h = Harness::new(None, None);
    let err = h
        .invoke(
            "settings_set",
            json!({"update": {"issuer": "http://id.example.org", "language": null}}),
        )
        .unwrap_err();
    assert_eq!(err["code"], "config");
    assert!(err["message"].as_str().unwrap().contains("https"), "{err}");
    assert_eq!(h.user_file(), "");
}

#[test]
fn account_commands_without_a_session_answer_not_signed_in() {
    let h = Harness::new(Some(MANAGED), None);
    for (cmd, args) in [
        ("me", json!({})),
        ("devices_list", json!({})),
        ("browsers_list", json!({})),
        ("activity_page", json!({"cursor": null})),
        ("helpdesk_search", json!({"query": "bo"})),
        ("device_rename", json!({"id": "d1", "name": "Phone"})),
    ] {
        let err = h.invoke(cmd, args).unwrap_err();
        assert_eq!(err["code"], "not_signed_in", "{cmd}: {err}");
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn malformed_arguments_are_refused_by_the_ipc_layer() {
    let h = Harness::new(Some(MANAGED), None);
    let err = h.invoke("device_rename", json!({"id": 5})).unwrap_err();
    assert!(err.is_string(), "framework errors are strings: {err}");
    let err = h
        .invoke(
            "settings_set",
            json!({"update": {"issuer": null, "language": "de"}}),
        )
        .unwrap_err();
    assert!(
        err.as_str().unwrap().contains("`update`") && err.as_str().unwrap().contains("de"),
        "{err}"
    );
}

#[test]
fn recovery_codes_cannot_be_saved_when_none_were_shown() {
    let h = Harness::new(Some(MANAGED), None);
    let err = h.invoke("recovery_codes_save", json!({})).unwrap_err();
    assert_eq!(err["code"], "not_found");
}

#[test]
fn sign_in_to_an_unreachable_provider_fails_with_a_code_and_cancel_is_harmless() {
    // A loopback port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let h = Harness::new(
        Some(&format!("issuer = \"http://127.0.0.1:{port}\"\n")),
        None,
    );
    assert_eq!(h.invoke("cancel_sign_in", json!({})).unwrap(), Value::Null);
    let err = h
        .invoke("sign_in", json!({"onProgress": "__CHANNEL__:7"}))
        .unwrap_err();
    assert_eq!(err["code"], "discovery", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains(&port.to_string()),
        "{err}"
    );
}

#[test]
fn sign_out_without_a_session_reports_nothing_to_end() {
    let h = Harness::new(Some(MANAGED), None);
    let r = h.invoke("sign_out", json!({})).unwrap();
    assert_eq!(r["was_signed_in"], false);
}

#[test]
fn a_secret_is_copied_marked_sensitive_and_forgotten_through_ipc() {
    let h = Harness::new(Some(MANAGED), None);
    let ok = h
        .invoke("secret_copy", json!({"value": "JBSWY3DPEHPK3PXP"}))
        .unwrap();
    assert_eq!(ok, Value::Null);
    assert_eq!(h.clipboard.text().as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert!(h.clipboard.state().sensitive);
    assert_eq!(h.invoke("secret_forget", json!({})).unwrap(), "cleared");
    assert_eq!(h.clipboard.text(), None);
    assert_eq!(h.invoke("secret_forget", json!({})).unwrap(), "nothing");

    h.invoke("secret_copy", json!({"value": "abcd-1234"}))
        .unwrap();
    h.clipboard.user_copies("mine");
    assert_eq!(h.invoke("secret_forget", json!({})).unwrap(), "replaced");
    assert_eq!(h.clipboard.text().as_deref(), Some("mine"));

    h.invoke("secret_copy", json!({"value": "abcd-1234"}))
        .unwrap();
    h.clipboard.state().clear_fails = true;
    let err = h.invoke("secret_forget", json!({})).unwrap_err();
    assert_eq!(err["code"], "clipboard_not_cleared", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("copy some other text"),
        "{err}"
    );
}

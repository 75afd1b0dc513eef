//! Commands the front end may invoke. Each is declared in the app manifest
//! (build.rs) and granted in capabilities/default.json.

#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct AppVersion {
    pub version: String,
}

/// The app's version, shown in the settings screen.
#[tauri::command]
pub fn version() -> AppVersion {
    AppVersion {
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use tauri::test::{INVOKE_KEY, get_ipc_response, mock_context, noop_assets};
    use tauri::webview::InvokeRequest;

    #[test]
    fn version_command_answers_through_ipc() {
        let app = crate::builder()
            .build(mock_context(noop_assets()))
            .expect("mock app builds");
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        let res = get_ipc_response(
            &webview,
            InvokeRequest {
                cmd: "version".into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: tauri::ipc::InvokeBody::default(),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<serde_json::Value>().unwrap());
        assert_eq!(res.unwrap()["version"], env!("CARGO_PKG_VERSION"));
    }
}

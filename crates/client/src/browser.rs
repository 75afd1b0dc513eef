//! Opening the system browser, honouring `BROWSER` as command-line tools do.

use std::process::{Command, Stdio};

use crate::error::ClientError;

/// Opens `url`: with each command of `$BROWSER` in turn (separated by `:`,
/// `%s` replaced by the URL, else the URL appended), else with the
/// platform's opener (`xdg-open`, `open`, `start`). The program is started
/// and not waited for.
pub fn open_url(url: &str) -> Result<(), ClientError> {
    match std::env::var("BROWSER") {
        Ok(spec) if !spec.trim().is_empty() => open_with_browser_var(&spec, url),
        _ => open::that_detached(url).map_err(|e| ClientError::BrowserUnavailable {
            command: "system opener".into(),
            reason: e.to_string(),
        }),
    }
}

/// The argument vectors `$BROWSER` describes for `url`.
pub fn browser_commands(spec: &str, url: &str) -> Vec<Vec<String>> {
    let separator = if cfg!(windows) { ';' } else { ':' };
    spec.split(separator)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|command| {
            let mut argv: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            if argv.iter().any(|a| a.contains("%s")) {
                for a in &mut argv {
                    *a = a.replace("%s", url);
                }
            } else {
                argv.push(url.to_owned());
            }
            argv
        })
        .collect()
}

/// Opens `url` with the commands of a `BROWSER`-style `spec`.
pub fn open_with_browser_var(spec: &str, url: &str) -> Result<(), ClientError> {
    let mut last_error = String::from("no command in BROWSER");
    for argv in browser_commands(spec, url) {
        match Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(mut child) => {
                // Reap the child whenever it ends, so it never lingers as a zombie.
                std::thread::spawn(move || child.wait());
                return Ok(());
            }
            Err(e) => last_error = format!("{}: {e}", argv[0]),
        }
    }
    Err(ClientError::BrowserUnavailable {
        command: format!("BROWSER={spec}"),
        reason: last_error,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_forms() {
        let url = "http://127.0.0.1:1/x?a=b";
        assert_eq!(
            browser_commands("firefox", url),
            vec![vec!["firefox".to_owned(), url.to_owned()]]
        );
        assert_eq!(
            browser_commands("w3m -dump %s:lynx", url),
            vec![
                vec!["w3m".to_owned(), "-dump".to_owned(), url.to_owned()],
                vec!["lynx".to_owned(), url.to_owned()]
            ]
        );
        assert!(browser_commands(" : ", url).is_empty());
    }

    #[test]
    fn a_missing_browser_program_is_a_clear_error() {
        let err =
            open_with_browser_var("/nonexistent/browser-xyz", "http://127.0.0.1/").unwrap_err();
        assert_eq!(err.code(), "browser_unavailable");
        assert!(
            err.to_string().contains("/nonexistent/browser-xyz"),
            "{err}"
        );
    }
}

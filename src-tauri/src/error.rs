//! Errors as the front end receives them: tessera-client's `ErrorPayload`
//! `{code, message}`. `code` is stable (the account API's problem codes plus
//! the client core's own, e.g. `acr_refused`, `cancelled`); the UI branches
//! on it, never on `message`, which is for people, in their language. The
//! shell's own failures are typed too (`recovery_file::SaveError`).

use tessera_client::{ClientError, ConfigError, ErrorPayload, Lang};

pub type CommandResult<T> = Result<T, ErrorPayload>;

/// A client-core error, said in `lang`.
pub fn from_client(e: &ClientError, lang: Lang) -> ErrorPayload {
    e.payload(lang)
}

/// A configuration error (code `config`), said in `lang`.
pub fn from_config(e: ConfigError, lang: Lang) -> ErrorPayload {
    ClientError::Config(e).payload(lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_api::ErrorCode;
    use tessera_client::error::NO_2FA_FR;

    #[test]
    fn refused_acr_keeps_its_code_and_says_the_operators_sentence_in_french() {
        let p = from_client(
            &ClientError::AcrRefused {
                acr: Some("eidas1".into()),
            },
            Lang::Fr,
        );
        assert_eq!(p.code, "acr_refused");
        assert!(p.message.starts_with(NO_2FA_FR), "{}", p.message);
        let en = from_client(&ClientError::AccessDenied { description: None }, Lang::En);
        assert_eq!(en.code, "access_denied");
        assert!(
            en.message.contains("two-factor authentication"),
            "{}",
            en.message
        );
    }

    #[test]
    fn account_api_problems_keep_the_api_code() {
        let e = ClientError::Api {
            status: 409,
            code: Some(ErrorCode::LastFactor),
            detail: "You cannot remove your only authenticator.".into(),
        };
        let p = from_client(&e, Lang::En);
        assert_eq!(p.code, "last_factor");
        assert!(p.message.contains("only authenticator"));
        let unknown = ClientError::Api {
            status: 502,
            code: None,
            detail: "Bad gateway".into(),
        };
        assert_eq!(from_client(&unknown, Lang::En).code, "server_error");
    }

    #[test]
    fn client_side_failures_have_their_own_codes() {
        for (e, code) in [
            (ClientError::Cancelled, "cancelled"),
            (ClientError::NotSignedIn, "not_signed_in"),
            (ClientError::SessionExpired, "session_expired"),
            (ClientError::Keyring("locked".into()), "keyring"),
            (ClientError::Timeout { seconds: 300 }, "timeout"),
        ] {
            let p = from_client(&e, Lang::En);
            assert_eq!(p.code, code);
            assert!(!p.message.is_empty());
        }
    }

    #[test]
    fn config_errors_are_payloads_too() {
        let p = from_config(
            ConfigError::Managed {
                setting: tessera_client::Setting::Issuer,
                path: "/etc/tessera/config.toml".into(),
            },
            Lang::Fr,
        );
        assert_eq!(p.code, "config");
        assert!(p.message.contains("/etc/tessera/config.toml"));
    }

    #[test]
    fn payload_serialises_as_code_and_message_only() {
        let v = serde_json::to_value(from_client(&ClientError::Cancelled, Lang::En)).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["code", "message"]);
    }
}

//! `tessera`: a thin command line over `tessera-client`. Parsing, prompts
//! and printing live here; every rule lives in the client core.

mod args;
mod output;
mod run;

use std::process::ExitCode;

use clap::Parser;
use tessera_client::ClientError;

use crate::args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tessera: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let json = cli.json;
    match runtime.block_on(run::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err((err, lang)) => {
            output::error(&err, lang, json);
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The documented exit status of an error (see `args::EXIT_CODES`).
pub fn exit_code(err: &ClientError) -> u8 {
    match err.code() {
        "not_signed_in"
        | "session_expired"
        | "unauthorized"
        | "state_mismatch"
        | "issuer_mismatch"
        | "invalid_callback"
        | "token_exchange"
        | "invalid_id_token"
        | "provider_error"
        | "timeout"
        | "browser_unavailable" => 3,
        "acr_refused" | "access_denied" | "no_acceptable_acr" => 4,
        "not_found" => 5,
        // A provider advertising an endpoint in clear is the server's fault.
        "network" | "discovery" | "insecure_endpoint" | "server_error" | "internal"
        | "unavailable" => {
            // A local internal error is not the server's fault.
            if matches!(err, ClientError::Internal(_)) {
                1
            } else {
                6
            }
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use tessera_client::api::ErrorCode;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unknown_subcommand_is_a_usage_error() {
        let err = Cli::try_parse_from(["tessera", "frobnicate"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidSubcommand);
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn helpdesk_changes_require_a_reason() {
        for argv in [
            &["tessera", "helpdesk", "reset", "alice"][..],
            &["tessera", "helpdesk", "remove-device", "alice", "d1"],
            &["tessera", "helpdesk", "revoke", "alice", "b1"],
        ] {
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{argv:?}"
            );
        }
        assert!(
            Cli::try_parse_from(["tessera", "helpdesk", "reset", "alice", "--reason", "lost"])
                .is_ok()
        );
        assert!(
            Cli::try_parse_from([
                "tessera", "helpdesk", "revoke", "alice", "--all", "--reason", "x"
            ])
            .is_ok()
        );
        assert!(
            Cli::try_parse_from([
                "tessera", "helpdesk", "revoke", "alice", "b1", "--all", "--reason", "x"
            ])
            .is_err()
        );
    }

    #[test]
    fn exit_codes_are_distinct_per_kind() {
        assert_eq!(exit_code(&ClientError::NotSignedIn), 3);
        assert_eq!(exit_code(&ClientError::AcrRefused { acr: None }), 4);
        assert_eq!(
            exit_code(&ClientError::AccessDenied { description: None }),
            4
        );
        let api = |code, status| ClientError::Api {
            status,
            code: Some(code),
            detail: String::new(),
        };
        assert_eq!(exit_code(&api(ErrorCode::NotFound, 404)), 5);
        assert_eq!(exit_code(&api(ErrorCode::Internal, 500)), 6);
        assert_eq!(exit_code(&ClientError::network("http://x", "refused")), 6);
        let insecure = ClientError::InsecureEndpoint {
            endpoint: "token_endpoint",
            url: "http://idp.example.org/token".into(),
        };
        assert_eq!(exit_code(&insecure), 6);
        assert_eq!(exit_code(&ClientError::Internal("bug".into())), 1);
        assert_eq!(exit_code(&api(ErrorCode::LastFactor, 409)), 1);
        assert_eq!(exit_code(&ClientError::Cancelled), 1);
    }

    #[test]
    fn help_documents_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("4  refused"), "{help}");
        assert!(help.contains("5  not found"));
    }
}

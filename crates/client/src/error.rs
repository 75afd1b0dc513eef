//! The client's one error type: a stable machine `code()` (the account API's
//! problem codes plus client-side ones) and a message in French or English.

use serde::Serialize;
use tessera_api::ErrorCode;

use crate::config::ConfigError;
use crate::i18n::Lang;

/// The message of DESIGN §1, shown whenever a sign-in lacks a second factor.
pub const NO_2FA_FR: &str = "Vous ne pouvez pas accéder au service sans avoir une double \
authentification installée. Veuillez installer une application d'authentification et vous \
connecter à nouveau.";
pub const NO_2FA_EN: &str = "You cannot access the service without two-factor authentication \
set up. Please install an authenticator app and sign in again.";

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The provider's discovery document could not be fetched or read.
    #[error("cannot read the provider's configuration at {issuer}: {reason}")]
    Discovery { issuer: String, reason: String },
    /// Discovery named an endpoint outside the issuer's rule (see
    /// `issuer::is_secure`): codes, tokens and verifiers would travel in
    /// clear, or the browser would be sent anywhere.
    #[error(
        "the provider's configuration gives an insecure address for {endpoint} ({url}): it must \
         use https (plain http only on a loopback address), so Tessera will not use this provider"
    )]
    InsecureEndpoint { endpoint: &'static str, url: String },
    /// None of the accepted acr values is offered by the provider.
    #[error(
        "the provider offers none of the accepted second-factor levels (it offers: {}; accepted: {})",
        list(offered),
        list(accepted)
    )]
    NoAcceptableAcr {
        offered: Vec<String>,
        accepted: Vec<String>,
    },
    /// The ID token carries an acr outside the accepted list (nothing stored).
    #[error("{NO_2FA_EN} (level received: {})", acr.as_deref().unwrap_or("none"))]
    AcrRefused { acr: Option<String> },
    /// The provider answered `error=access_denied` (no second factor possible).
    #[error("{NO_2FA_EN}")]
    AccessDenied { description: Option<String> },
    /// Any other OAuth error on the callback or the token endpoint.
    #[error("the provider refused the sign-in: {error}{}", opt(description))]
    Provider {
        error: String,
        description: Option<String>,
    },
    #[error("the sign-in answer does not belong to this sign-in (state mismatch)")]
    StateMismatch,
    #[error("the sign-in answer comes from another provider (expected {expected}, got {})", got.as_deref().unwrap_or("none"))]
    IssuerMismatch {
        expected: String,
        got: Option<String>,
    },
    #[error("the sign-in answer is malformed: {0}")]
    InvalidCallback(String),
    #[error("cannot open the web browser ({command}): {reason}")]
    BrowserUnavailable { command: String, reason: String },
    #[error("the sign-in was not completed within {seconds} seconds")]
    Timeout { seconds: u64 },
    #[error("the sign-in was cancelled")]
    Cancelled,
    #[error("the provider did not issue tokens: {0}")]
    TokenExchange(String),
    #[error("the provider's ID token is not valid: {0}")]
    IdToken(String),
    /// A step-up sign-in was completed by another account than the session's.
    #[error(
        "you signed in again as {got}, but this session belongs to {expected}; nothing was changed"
    )]
    WrongUser { expected: String, got: String },
    #[error("you are not signed in")]
    NotSignedIn,
    #[error("your session has ended; sign in again")]
    SessionExpired,
    #[error("the system keyring is not available: {0}")]
    Keyring(String),
    #[error("cannot reach {url}: {reason}")]
    Network { url: String, reason: String },
    /// A problem details answer of the account API.
    #[error("{detail} ({})", code.map(ErrorCode::as_str).unwrap_or("server_error"))]
    Api {
        status: u16,
        code: Option<ErrorCode>,
        detail: String,
    },
    /// An enrolment the provider started cannot be shown safely (see
    /// `account::checked_enrollment`); the pending enrolment just expires.
    #[error(
        "the provider sent an enrolment that authenticator apps cannot use: {0}; nothing was added"
    )]
    BadEnrollment(String),
    /// Input refused before sending anything.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    #[error("internal error: {0}")]
    Internal(String),
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

fn opt(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// What the desktop front end receives for an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
}

impl ClientError {
    /// Stable machine code; the UI and scripts branch on it.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Config(_) => "config",
            ClientError::Discovery { .. } => "discovery",
            ClientError::InsecureEndpoint { .. } => "insecure_endpoint",
            ClientError::NoAcceptableAcr { .. } => "no_acceptable_acr",
            ClientError::AcrRefused { .. } => "acr_refused",
            ClientError::AccessDenied { .. } => "access_denied",
            ClientError::Provider { .. } => "provider_error",
            ClientError::StateMismatch => "state_mismatch",
            ClientError::IssuerMismatch { .. } => "issuer_mismatch",
            ClientError::InvalidCallback(_) => "invalid_callback",
            ClientError::BrowserUnavailable { .. } => "browser_unavailable",
            ClientError::Timeout { .. } => "timeout",
            ClientError::Cancelled => "cancelled",
            ClientError::TokenExchange(_) => "token_exchange",
            ClientError::IdToken(_) => "invalid_id_token",
            ClientError::WrongUser { .. } => "wrong_user",
            ClientError::NotSignedIn => "not_signed_in",
            ClientError::SessionExpired => "session_expired",
            ClientError::Keyring(_) => "keyring",
            ClientError::Network { .. } => "network",
            ClientError::Api { code: Some(c), .. } => c.as_str(),
            ClientError::Api { code: None, .. } => "server_error",
            ClientError::BadEnrollment(_) => "bad_enrollment",
            ClientError::InvalidInput { .. } => "bad_request",
            ClientError::Internal(_) => "internal",
        }
    }

    /// The problem code of an account API error, if this is one.
    pub fn api_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// A message for people, in `lang`, saying what happened and what to do.
    pub fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            ClientError::Config(e) => e.message(lang),
            ClientError::Discovery { issuer, reason } => {
                format!("Impossible de lire la configuration du fournisseur {issuer} : {reason}")
            }
            ClientError::InsecureEndpoint { endpoint, url } => format!(
                "La configuration du fournisseur donne une adresse non sécurisée pour {endpoint} \
                 ({url}) : elle doit utiliser https (http seulement sur une adresse locale), \
                 Tessera n'utilisera donc pas ce fournisseur"
            ),
            ClientError::NoAcceptableAcr { offered, accepted } => format!(
                "Le fournisseur ne propose aucun des niveaux de double authentification acceptés \
                 (il propose : {} ; acceptés : {})",
                list_fr(offered),
                list_fr(accepted)
            ),
            ClientError::AcrRefused { acr } => format!(
                "{NO_2FA_FR} (niveau reçu : {})",
                acr.as_deref().unwrap_or("aucun")
            ),
            ClientError::AccessDenied { .. } => NO_2FA_FR.to_owned(),
            ClientError::Provider { error, description } => {
                format!(
                    "Le fournisseur a refusé la connexion : {error}{}",
                    opt(description)
                )
            }
            ClientError::StateMismatch => {
                "La réponse de connexion ne correspond pas à cette connexion (state différent)"
                    .to_owned()
            }
            ClientError::IssuerMismatch { expected, got } => format!(
                "La réponse de connexion vient d'un autre fournisseur (attendu {expected}, reçu {})",
                got.as_deref().unwrap_or("aucun")
            ),
            ClientError::InvalidCallback(r) => {
                format!("La réponse de connexion est invalide : {r}")
            }
            ClientError::BrowserUnavailable { command, reason } => {
                format!("Impossible d'ouvrir le navigateur ({command}) : {reason}")
            }
            ClientError::Timeout { seconds } => {
                format!("La connexion n'a pas été terminée dans les {seconds} secondes")
            }
            ClientError::Cancelled => "La connexion a été annulée".to_owned(),
            ClientError::TokenExchange(r) => {
                format!("Le fournisseur n'a pas délivré de jetons : {r}")
            }
            ClientError::IdToken(r) => {
                format!("Le jeton d'identité du fournisseur est invalide : {r}")
            }
            ClientError::WrongUser { expected, got } => format!(
                "Vous vous êtes reconnecté en tant que {got}, mais cette session appartient à \
                 {expected} ; rien n'a été modifié"
            ),
            ClientError::NotSignedIn => "Vous n'êtes pas connecté".to_owned(),
            ClientError::SessionExpired => {
                "Votre session a pris fin ; connectez-vous à nouveau".to_owned()
            }
            ClientError::Keyring(r) => {
                format!("Le trousseau du système n'est pas disponible : {r}")
            }
            ClientError::Network { url, reason } => {
                format!("Impossible de joindre {url} : {reason}")
            }
            ClientError::Api { code, detail, .. } => match code.and_then(api_message_fr) {
                Some(m) => m.to_owned(),
                None => detail.clone(),
            },
            ClientError::BadEnrollment(r) => format!(
                "Le fournisseur a proposé un enrôlement que les applications d'authentification \
                 ne peuvent pas utiliser : {r} ; rien n'a été ajouté"
            ),
            ClientError::InvalidInput { field, reason } => {
                format!("Valeur invalide pour {field} : {reason}")
            }
            ClientError::Internal(r) => format!("Erreur interne : {r}"),
        }
    }

    pub fn payload(&self, lang: Lang) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_owned(),
            message: self.message(lang),
        }
    }

    /// A request to `url` that got no answer. Neither the URL's query nor
    /// reqwest's own text (which ends with the full URL) is kept: an
    /// end-session query carries the ID token, and this text reaches the
    /// web view and the terminal.
    pub fn network(url: impl ToString, err: impl NetworkCause) -> Self {
        let mut url = url.to_string();
        url.truncate(url.find(['?', '#']).unwrap_or(url.len()));
        ClientError::Network {
            url,
            reason: err.into_reason(),
        }
    }
}

/// What can be said about a failed request: a reqwest error (said without
/// its URL) or a fixed text. Sealed, and no `String`, so that nobody passes
/// `err.to_string()` and brings the URL back.
pub trait NetworkCause: sealed::Sealed {
    fn into_reason(self) -> String;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for reqwest::Error {}
    impl Sealed for &'static str {}
}

impl NetworkCause for reqwest::Error {
    fn into_reason(self) -> String {
        // The sources say what failed (refused, timed out, TLS); none of
        // them repeats the URL.
        let err = self.without_url();
        let mut reason = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        reason
    }
}

impl NetworkCause for &'static str {
    fn into_reason(self) -> String {
        self.to_owned()
    }
}

fn list_fr(v: &[String]) -> String {
    if v.is_empty() {
        "aucun".to_owned()
    } else {
        v.join(", ")
    }
}

/// French texts for the account API's codes (the provider's `detail` is
/// shown as is in English).
fn api_message_fr(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::NotFound => "Élément introuvable (il a peut-être déjà été supprimé).",
        ErrorCode::LastFactor => {
            "Vous ne pouvez pas supprimer votre dernière application d'authentification : \
             ajoutez-en une autre d'abord."
        }
        ErrorCode::TooManyDevices => {
            "Vous avez déjà autant d'applications d'authentification que votre organisation \
             en permet : supprimez-en une que vous n'utilisez plus avant d'en ajouter une."
        }
        ErrorCode::InvalidCode => "Code incorrect. Saisissez le code affiché par l'application.",
        ErrorCode::EnrollmentExpired => {
            "L'ajout de l'application a expiré. Recommencez depuis le début."
        }
        ErrorCode::RateLimited => "Trop de tentatives. Patientez avant de réessayer.",
        ErrorCode::Forbidden => "Vous n'avez pas le droit de faire cela.",
        ErrorCode::StepUpRequired => "Cette action demande une connexion récente.",
        ErrorCode::Unauthorized => "Vous n'êtes pas connecté ou votre session a expiré.",
        ErrorCode::Unavailable => "Le service est momentanément indisponible. Réessayez plus tard.",
        ErrorCode::Internal => "Le serveur a rencontré une erreur. Réessayez plus tard.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acr_refusal_and_access_denied_carry_the_design_message_in_both_languages() {
        let refused = ClientError::AcrRefused {
            acr: Some("eidas1".into()),
        };
        assert_eq!(refused.code(), "acr_refused");
        assert!(refused.message(Lang::Fr).starts_with(NO_2FA_FR));
        assert!(refused.message(Lang::Fr).contains("eidas1"));
        assert!(refused.message(Lang::En).starts_with(NO_2FA_EN));
        let denied = ClientError::AccessDenied { description: None };
        assert_eq!(denied.code(), "access_denied");
        assert_eq!(denied.message(Lang::Fr), NO_2FA_FR);
        assert_eq!(denied.message(Lang::En), NO_2FA_EN);
        assert!(NO_2FA_FR.contains("double authentification installée"));
    }

    #[test]
    fn api_errors_keep_the_problem_code() {
        let e = ClientError::Api {
            status: 409,
            code: Some(ErrorCode::LastFactor),
            detail: "You cannot remove your only authenticator.".into(),
        };
        assert_eq!(e.code(), "last_factor");
        assert_eq!(e.api_code(), Some(ErrorCode::LastFactor));
        assert!(e.message(Lang::En).contains("only authenticator"));
        assert!(e.message(Lang::Fr).contains("dernière application"));
        let full = ClientError::Api {
            status: 409,
            code: Some(ErrorCode::TooManyDevices),
            detail: "You already have the most authenticator apps allowed here (10).".into(),
        };
        assert_eq!(full.code(), "too_many_devices");
        assert!(full.message(Lang::En).contains("allowed here (10)"));
        assert!(full.message(Lang::Fr).contains("supprimez-en une"));
        let unknown = ClientError::Api {
            status: 502,
            code: None,
            detail: "Bad gateway".into(),
        };
        assert_eq!(unknown.code(), "server_error");
        assert_eq!(unknown.message(Lang::Fr), "Bad gateway");
    }

    #[test]
    fn no_acceptable_acr_names_what_the_provider_offers() {
        let e = ClientError::NoAcceptableAcr {
            offered: vec!["eidas1".into()],
            accepted: vec!["eidas1-mfa".into()],
        };
        assert!(e.message(Lang::En).contains("it offers: eidas1;"));
        assert!(e.message(Lang::Fr).contains("il propose : eidas1 ;"));
        let none = ClientError::NoAcceptableAcr {
            offered: vec![],
            accepted: vec!["x".into()],
        };
        assert!(none.message(Lang::En).contains("offers: none"));
    }

    #[test]
    fn every_message_differs_between_languages_and_payload_has_code() {
        let errors = [
            ClientError::Cancelled,
            ClientError::Timeout { seconds: 300 },
            ClientError::StateMismatch,
            ClientError::NotSignedIn,
            ClientError::SessionExpired,
            ClientError::WrongUser {
                expected: "alice".into(),
                got: "bob".into(),
            },
            ClientError::Keyring("no secret service".into()),
            ClientError::InsecureEndpoint {
                endpoint: "token_endpoint",
                url: "http://id.example.org/token".into(),
            },
            ClientError::InvalidInput {
                field: "reason",
                reason: "empty".into(),
            },
        ];
        for e in errors {
            assert_ne!(e.message(Lang::En), e.message(Lang::Fr), "{e:?}");
            let p = e.payload(Lang::Fr);
            assert_eq!(p.code, e.code());
        }
        assert_eq!(ClientError::Timeout { seconds: 300 }.code(), "timeout");
        let insecure = ClientError::InsecureEndpoint {
            endpoint: "token_endpoint",
            url: "http://id.example.org/token".into(),
        };
        assert_eq!(insecure.code(), "insecure_endpoint");
        assert_eq!(
            insecure.message(Lang::En),
            "the provider's configuration gives an insecure address for token_endpoint \
             (http://id.example.org/token): it must use https (plain http only on a loopback \
             address), so Tessera will not use this provider"
        );
        assert!(
            insecure
                .message(Lang::Fr)
                .starts_with("La configuration du fournisseur donne une adresse non sécurisée pour token_endpoint (http://id.example.org/token) : ")
        );
        let network = ClientError::network("https://id.example.org/end?id_token_hint=x#y", "down");
        assert_eq!(network.code(), "network");
        assert_eq!(
            network.message(Lang::Fr),
            "Impossible de joindre https://id.example.org/end : down"
        );
        assert_eq!(
            network.message(Lang::En),
            "cannot reach https://id.example.org/end: down"
        );
        assert!(
            ClientError::Timeout { seconds: 300 }
                .message(Lang::Fr)
                .contains("300 secondes")
        );
    }
}

//! The 2FA policy of the client: which acr values to ask for and accept.

use crate::error::ClientError;

/// DESIGN §3: the acr values that prove a second factor, by default.
pub const DEFAULT_ACCEPTED_ACR: [&str; 7] = [
    "eidas0-mfa",
    "eidas1-mfa",
    "eidas2",
    "eidas3",
    "https://proconnect.gouv.fr/assurance/self-asserted-2fa",
    "https://proconnect.gouv.fr/assurance/consistency-checked-2fa",
    "https://refeds.org/profile/mfa",
];

pub fn default_accepted_acr() -> Vec<String> {
    DEFAULT_ACCEPTED_ACR.iter().map(|s| s.to_string()).collect()
}

/// The acr values to request: the accepted ones the provider supports, in
/// the accepted list's order (a provider silently drops values it does not
/// know, so asking for them would prove nothing). Empty ⇒ refuse to start.
pub fn requested_acr(
    accepted: &[String],
    supported: &[String],
) -> Result<Vec<String>, ClientError> {
    let values: Vec<String> = accepted
        .iter()
        .filter(|a| supported.contains(a))
        .cloned()
        .collect();
    if values.is_empty() {
        return Err(ClientError::NoAcceptableAcr {
            offered: supported.to_vec(),
            accepted: accepted.to_vec(),
        });
    }
    Ok(values)
}

/// The OIDC `claims` request parameter demanding one of `values` as an
/// essential `acr`, and `amr`.
pub fn claims_parameter(values: &[String]) -> String {
    serde_json::json!({
        "id_token": {
            "acr": { "essential": true, "values": values },
            "amr": { "essential": true }
        }
    })
    .to_string()
}

/// Accepts the ID token's acr only when it is in the accepted list.
pub fn check_acr(acr: Option<&str>, accepted: &[String]) -> Result<(), ClientError> {
    match acr {
        Some(a) if accepted.iter().any(|x| x == a) => Ok(()),
        other => Err(ClientError::AcrRefused {
            acr: other.map(str::to_owned),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn intersection_keeps_the_accepted_order_and_drops_unsupported_values() {
        let supported = s(&["eidas1", "https://refeds.org/profile/mfa", "eidas1-mfa"]);
        let got = requested_acr(&default_accepted_acr(), &supported).unwrap();
        assert_eq!(got, s(&["eidas1-mfa", "https://refeds.org/profile/mfa"]));
    }

    #[test]
    fn empty_intersection_refuses_and_names_what_is_offered() {
        let err = requested_acr(&default_accepted_acr(), &s(&["eidas1", "eidas0"])).unwrap_err();
        match &err {
            ClientError::NoAcceptableAcr { offered, accepted } => {
                assert_eq!(offered, &s(&["eidas1", "eidas0"]));
                assert_eq!(accepted.len(), 7);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("eidas1, eidas0"));
        assert!(
            requested_acr(&default_accepted_acr(), &[]).is_err(),
            "no acr_values_supported"
        );
    }

    #[test]
    fn claims_parameter_has_essential_acr_values_and_amr() {
        let v: serde_json::Value =
            serde_json::from_str(&claims_parameter(&s(&["eidas1-mfa", "eidas2"]))).unwrap();
        assert_eq!(v["id_token"]["acr"]["essential"], true);
        assert_eq!(
            v["id_token"]["acr"]["values"],
            serde_json::json!(["eidas1-mfa", "eidas2"])
        );
        assert_eq!(v["id_token"]["amr"]["essential"], true);
    }

    #[test]
    fn only_accepted_acr_values_pass() {
        let accepted = default_accepted_acr();
        assert!(check_acr(Some("eidas1-mfa"), &accepted).is_ok());
        assert!(check_acr(Some("https://refeds.org/profile/mfa"), &accepted).is_ok());
        for bad in [Some("eidas1"), Some("eidas1-MFA"), Some(""), None] {
            let err = check_acr(bad, &accepted).unwrap_err();
            assert_eq!(err.code(), "acr_refused", "{bad:?}");
        }
    }
}

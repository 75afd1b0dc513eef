//! Which acr a sign-in must reach and which one it emits (DESIGN §4).
//!
//! Requested values come from the `claims` parameter (`id_token.acr`, with
//! `value` or `values`) and from `acr_values`; both are treated as essential
//! when the claims request says so or when `acr_values` is used (this
//! provider, like ProConnect, does not silently downgrade). Values the
//! provider does not offer are dropped. The first remaining value is the
//! target: if it needs a second factor, the sign-in asks for one.

use serde_json::Value;

use crate::config::{AcrLevel, Config};

/// Whether a sign-in with these RFC 8176 `amr` values had a code typed in it
/// (`otp`: an authenticator's code or a recovery code), as opposed to a
/// remembered browser ("mfa" alone). A recent sign-in's step-up asks for one.
pub fn code_typed(amr: &[String]) -> bool {
    amr.iter().any(|m| m == "otp")
}

/// The acr part of an authorization request, after dropping unknown values.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AcrRequest {
    /// Offered values the client asked for, in the client's order.
    pub values: Vec<String>,
    /// The client asked for specific values and will not take another.
    pub essential: bool,
    /// The client asked for at least one value (offered or not).
    pub requested: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AcrError {
    #[error("the claims parameter is not a valid JSON object")]
    BadClaims,
    #[error("none of the requested acr values is offered")]
    Unsatisfiable,
}

impl AcrRequest {
    pub fn parse(
        claims: Option<&Value>,
        acr_values: Option<&str>,
        config: &Config,
    ) -> Result<AcrRequest, AcrError> {
        let mut asked: Vec<String> = Vec::new();
        let mut essential = false;
        if let Some(claims) = claims {
            if !claims.is_object() {
                return Err(AcrError::BadClaims);
            }
            let acr = &claims["id_token"]["acr"];
            if !acr.is_null() {
                if !acr.is_object() {
                    return Err(AcrError::BadClaims);
                }
                essential |= acr["essential"].as_bool().unwrap_or(false);
                if let Some(v) = acr["value"].as_str() {
                    asked.push(v.to_owned());
                }
                match &acr["values"] {
                    Value::Null => {}
                    Value::Array(vs) => {
                        for v in vs {
                            asked.push(v.as_str().ok_or(AcrError::BadClaims)?.to_owned());
                        }
                    }
                    _ => return Err(AcrError::BadClaims),
                }
            }
        }
        if let Some(list) = acr_values.filter(|s| !s.trim().is_empty()) {
            essential = true;
            asked.extend(list.split_whitespace().map(str::to_owned));
        }
        let requested = !asked.is_empty();
        let mut values: Vec<String> = Vec::new();
        for v in asked {
            if config.acr_level(&v).is_some() && !values.contains(&v) {
                values.push(v);
            }
        }
        let req = AcrRequest {
            values,
            essential,
            requested,
        };
        if req.requested && req.essential && req.values.is_empty() {
            return Err(AcrError::Unsatisfiable);
        }
        Ok(req)
    }

    /// Whether reaching the target acr needs a second factor.
    pub fn needs_mfa(&self, config: &Config) -> bool {
        match self.values.first().and_then(|v| config.acr_level(v)) {
            Some(level) => level.requires_mfa,
            // Nothing specific asked: a second factor only if no level can be
            // reached with a password alone.
            None => !config.acr.iter().any(|l| !l.requires_mfa),
        }
    }

    /// The acr to emit for a sign-in that did (or did not) use a second
    /// factor: the first requested value it satisfies, else — when nothing
    /// specific was asked, or the request was voluntary — the first
    /// configured level it satisfies. `None` if an essential request is not
    /// met.
    pub fn emitted(&self, mfa_done: bool, config: &Config) -> Option<String> {
        let satisfied = |l: &AcrLevel| mfa_done || !l.requires_mfa;
        let from_request = self
            .values
            .iter()
            .filter_map(|v| config.acr_level(v))
            .find(|l| satisfied(l))
            .map(|l| l.value.clone());
        if from_request.is_some() || (self.essential && self.requested) {
            return from_request;
        }
        // Prefer a level that reflects what was actually done.
        config
            .acr
            .iter()
            .find(|l| l.requires_mfa == mfa_done)
            .or_else(|| config.acr.iter().find(|l| satisfied(l)))
            .map(|l| l.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> Config {
        Config::default()
    }

    #[test]
    fn claims_values_are_filtered_to_offered_ones_in_client_order() {
        let claims = json!({"id_token": {"acr": {"essential": true, "values": [
            "eidas3", "https://refeds.org/profile/mfa", "eidas1-mfa", "eidas3"
        ]}}});
        let r = AcrRequest::parse(Some(&claims), None, &cfg()).unwrap();
        assert_eq!(r.values, ["https://refeds.org/profile/mfa", "eidas1-mfa"]);
        assert!(r.essential && r.requested);
        assert!(r.needs_mfa(&cfg()));
        assert_eq!(
            r.emitted(true, &cfg()).as_deref(),
            Some("https://refeds.org/profile/mfa")
        );
        assert_eq!(
            r.emitted(false, &cfg()),
            None,
            "essential MFA not met by a password"
        );
    }

    #[test]
    fn single_value_form_and_acr_values_are_understood() {
        let claims = json!({"id_token": {"acr": {"essential": true, "value": "eidas1"}}});
        let r = AcrRequest::parse(Some(&claims), None, &cfg()).unwrap();
        assert_eq!(r.values, ["eidas1"]);
        assert!(!r.needs_mfa(&cfg()));
        assert_eq!(r.emitted(false, &cfg()).as_deref(), Some("eidas1"));
        // A second factor still satisfies a password level; the client's value is kept.
        assert_eq!(r.emitted(true, &cfg()).as_deref(), Some("eidas1"));

        let r = AcrRequest::parse(None, Some("eidas9 eidas1-mfa"), &cfg()).unwrap();
        assert_eq!(r.values, ["eidas1-mfa"]);
        assert!(r.essential);
    }

    #[test]
    fn unsatisfiable_essential_request_is_an_error_but_voluntary_one_is_ignored() {
        let essential = json!({"id_token": {"acr": {"essential": true, "values": ["eidas3"]}}});
        assert_eq!(
            AcrRequest::parse(Some(&essential), None, &cfg()).unwrap_err(),
            AcrError::Unsatisfiable
        );
        assert_eq!(
            AcrRequest::parse(None, Some("eidas2 eidas3"), &cfg()).unwrap_err(),
            AcrError::Unsatisfiable
        );
        let voluntary = json!({"id_token": {"acr": {"values": ["eidas3"]}}});
        let r = AcrRequest::parse(Some(&voluntary), None, &cfg()).unwrap();
        assert!(r.values.is_empty() && !r.essential);
        assert_eq!(r.emitted(false, &cfg()).as_deref(), Some("eidas1"));
        assert_eq!(r.emitted(true, &cfg()).as_deref(), Some("eidas1-mfa"));
    }

    #[test]
    fn malformed_claims_are_refused() {
        for bad in [
            json!("x"),
            json!({"id_token": {"acr": "eidas1"}}),
            json!({"id_token": {"acr": {"values": "eidas1"}}}),
            json!({"id_token": {"acr": {"values": [1]}}}),
        ] {
            assert_eq!(
                AcrRequest::parse(Some(&bad), None, &cfg()).unwrap_err(),
                AcrError::BadClaims
            );
        }
    }

    #[test]
    fn a_password_only_level_with_an_mfa_looking_name_is_emitted_for_a_password() {
        // The switch the client's "acr outside the list" test relies on.
        let mut c = cfg();
        c.acr.push(AcrLevel {
            value: "eidas2".into(),
            requires_mfa: false,
        });
        let claims = json!({"id_token": {"acr": {"essential": true, "values": ["eidas2"]}}});
        let r = AcrRequest::parse(Some(&claims), None, &c).unwrap();
        assert!(!r.needs_mfa(&c));
        assert_eq!(r.emitted(false, &c).as_deref(), Some("eidas2"));
    }
}

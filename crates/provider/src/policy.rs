//! The MFA policy (as CAS's triggers): global, per client, per user
//! attribute. The acr a client asks for can require a second factor too
//! (see `acr`); a sign-in needs one if either says so.

use crate::config::MfaPolicy;
use crate::store::User;

/// Whether `user` signing in to a client with `client_requires` must use a
/// second factor, whatever acr was asked. A matching user attribute always
/// wins; otherwise the client's setting, else the global one.
pub fn mfa_required(policy: &MfaPolicy, client_requires: Option<bool>, user: &User) -> bool {
    if let Some(trigger) = &policy.attribute
        && user
            .attributes
            .get(&trigger.name)
            .is_some_and(|values| values.iter().any(|v| trigger.value_regex.is_match(v)))
    {
        return true;
    }
    client_requires.unwrap_or(policy.global)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AttributeTrigger, MfaPolicy};
    use crate::store::PasswordHash;

    fn user(attrs: &[(&str, &str)]) -> User {
        User {
            uid: "u".into(),
            email: "u@example.org".into(),
            display_name: "U".into(),
            password_hash: PasswordHash(String::new()),
            roles: Default::default(),
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).into(), vec![(*v).into()]))
                .collect(),
            disabled: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            devices_reset_at: None,
        }
    }

    #[test]
    fn attribute_trigger_beats_client_which_beats_global() {
        let policy = MfaPolicy {
            global: false,
            attribute: Some(AttributeTrigger {
                name: "employeeType".into(),
                value_regex: regex::Regex::new("^(?:admin)$").unwrap(),
            }),
        };
        assert!(!mfa_required(&policy, None, &user(&[])));
        assert!(mfa_required(&policy, Some(true), &user(&[])));
        assert!(mfa_required(
            &policy,
            Some(false),
            &user(&[("employeeType", "admin")])
        ));
        assert!(!mfa_required(
            &policy,
            None,
            &user(&[("employeeType", "administrator")])
        ));
        let global = MfaPolicy {
            global: true,
            attribute: None,
        };
        assert!(mfa_required(&global, None, &user(&[])));
        assert!(
            !mfa_required(&global, Some(false), &user(&[])),
            "a client may waive the global policy"
        );
    }
}

//! Secret text on the wire: serialised as a plain JSON string, never printed.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret carried by the API (TOTP secret, confirmation code, recovery
/// code). It crosses the wire as a JSON string, but its `Debug` form is
/// redacted so that a stray `{:?}` or tracing field cannot leak it.
///
/// Equality is deliberately not implemented: comparing secrets belongs to the
/// provider, in constant time, on the hashed or decrypted value.
#[derive(Clone)]
pub struct SecretText(SecretString);

impl SecretText {
    pub fn new(value: impl Into<String>) -> Self {
        SecretText(SecretString::from(value.into()))
    }

    /// The secret itself; call only where it must be shown or checked.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<String> for SecretText {
    fn from(value: String) -> Self {
        SecretText::new(value)
    }
}

impl From<&str> for SecretText {
    fn from(value: &str) -> Self {
        SecretText::new(value)
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText([REDACTED])")
    }
}

impl Serialize for SecretText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretText::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_but_wire_form_is_the_plain_string() {
        let s = SecretText::new("JBSWY3DPEHPK3PXP");
        assert!(!format!("{s:?}").contains("JBSW"));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""JBSWY3DPEHPK3PXP""#);
        let back: SecretText = serde_json::from_str(r#""123456""#).unwrap();
        assert_eq!(back.expose(), "123456");
    }
}

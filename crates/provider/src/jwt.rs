//! The provider's ES256 signing key and compact JWS (JWT) signing and
//! verification.
//!
//! Only ES256 exists here: a token whose header names any other algorithm,
//! or another key id, is refused before any signature work.
//!
//! The key is generated, stored (PKCS#8 PEM) and published (JWK) with the
//! `p256` crate; signatures are made and checked with `ring`, whose
//! assembly P-256 is several times faster than `p256`'s portable arithmetic
//! (signing was a third of the CPU of a refresh grant). Both are constant
//! time; `ring` is already linked for TLS.

use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::crypto::{b64url, b64url_decode};

/// The signing key with its public JWK and stable key id (RFC 7638 thumbprint).
pub struct SigningKeys {
    /// The key as generated or read from the store, for `to_pkcs8_pem`.
    key: SigningKey,
    /// The same key, for signing.
    signer: EcdsaKeyPair,
    rng: SystemRandom,
    /// The public key as an uncompressed SEC1 point, for verifying.
    public_point: Vec<u8>,
    kid: String,
    jwk: Value,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token's algorithm or key id is not accepted")]
    WrongKey,
    #[error("the token's type is not {0}")]
    WrongType(&'static str),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the stored signing key cannot be read")]
    BadStoredKey,
}

impl SigningKeys {
    pub fn generate() -> Self {
        Self::from_key(SigningKey::random(&mut OsRng))
    }

    /// Reads the PKCS#8 PEM form persisted in the store.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, JwtError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_key)
            .map_err(|_| JwtError::BadStoredKey)
    }

    pub fn to_pkcs8_pem(&self) -> SecretString {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("P-256 key encodes as PKCS#8");
        SecretString::from(pem.to_string())
    }

    fn from_key(key: SigningKey) -> Self {
        let point = key.verifying_key().to_encoded_point(false);
        let rng = SystemRandom::new();
        let pkcs8 = key.to_pkcs8_der().expect("P-256 key encodes as PKCS#8");
        let signer =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_bytes(), &rng)
                .expect("ring reads the PKCS#8 form of a P-256 key");
        let x = b64url(point.x().expect("uncompressed point has x"));
        let y = b64url(point.y().expect("uncompressed point has y"));
        // RFC 7638: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = b64url(&Sha256::digest(canonical.as_bytes()));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "use": "sig", "alg": "ES256", "kid": kid,
        });
        SigningKeys {
            key,
            signer,
            rng,
            public_point: point.as_bytes().to_vec(),
            kid,
            jwk,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document served at `/jwks`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk.clone()] })
    }

    /// Signs `claims` with header `{"alg":"ES256","typ":typ,"kid":…}`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> String {
        let header = json!({ "alg": "ES256", "typ": typ, "kid": self.kid });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(&serde_json::to_vec(claims).expect("claims serialise"))
        );
        let sig = self
            .signer
            .sign(&self.rng, input.as_bytes())
            .expect("ECDSA signing with the system's random source");
        format!("{input}.{}", b64url(sig.as_ref()))
    }

    /// Verifies the signature, algorithm, key id and (when given) the `typ`
    /// header; returns the claims. Time and audience checks are the caller's.
    pub fn verify(&self, token: &str, typ: Option<&'static str>) -> Result<Value, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: Value = b64url_decode(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed)?;
        if header["alg"] != "ES256" || header["kid"] != self.kid.as_str() {
            return Err(JwtError::WrongKey);
        }
        if let Some(typ) = typ {
            let found = header["typ"].as_str().unwrap_or_default();
            // RFC 9068 §4: "at+jwt" may also appear as "application/at+jwt".
            if !found.eq_ignore_ascii_case(typ)
                && !found.eq_ignore_ascii_case(&format!("application/{typ}"))
            {
                return Err(JwtError::WrongType(typ));
            }
        }
        let sig = b64url_decode(s).ok_or(JwtError::Malformed)?;
        let input_len = h.len() + 1 + p.len();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public_point)
            .verify(&token.as_bytes()[..input_len], &sig)
            .map_err(|_| JwtError::BadSignature)?;
        let claims: Value = b64url_decode(p)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwtError::Malformed)?;
        if !claims.is_object() {
            return Err(JwtError::Malformed);
        }
        Ok(claims)
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): left half of SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    b64url(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_token_verifies_and_kid_survives_pem_round_trip() {
        let keys = SigningKeys::generate();
        let again =
            SigningKeys::from_pkcs8_pem(secrecy::ExposeSecret::expose_secret(&keys.to_pkcs8_pem()))
                .unwrap();
        assert_eq!(keys.kid(), again.kid());
        assert_eq!(keys.kid().len(), 43);
        let token = keys.sign("JWT", &json!({"sub": "alice"}));
        assert_eq!(again.verify(&token, Some("JWT")).unwrap()["sub"], "alice");
        assert_eq!(
            keys.verify(&token, Some("at+jwt")).unwrap_err(),
            JwtError::WrongType("at+jwt")
        );
        assert_eq!(keys.jwks()["keys"][0]["kid"], keys.kid());
    }

    #[test]
    fn signatures_verify_with_the_published_jwk_independently_of_ring() {
        use p256::ecdsa::signature::Verifier;
        use p256::ecdsa::{Signature, VerifyingKey};
        let keys = SigningKeys::generate();
        let jwk = &keys.jwks()["keys"][0];
        let coordinate = |name: &str| b64url_decode(jwk[name].as_str().unwrap()).unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend(coordinate("x"));
        sec1.extend(coordinate("y"));
        let published = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let token = keys.sign("JWT", &json!({"sub": "alice"}));
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&b64url_decode(sig).unwrap()).unwrap();
        published.verify(input.as_bytes(), &sig).unwrap();
        assert!(published.verify(b"another input", &sig).is_err());
    }

    #[test]
    fn forged_altered_or_foreign_tokens_are_refused() {
        let keys = SigningKeys::generate();
        let other = SigningKeys::generate();
        let token = keys.sign("at+jwt", &json!({"sub": "alice"}));
        assert_eq!(other.verify(&token, None).unwrap_err(), JwtError::WrongKey);
        // Swap the payload while keeping the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = b64url(br#"{"sub":"mallory"}"#);
        parts[1] = &evil;
        assert_eq!(
            keys.verify(&parts.join("."), None).unwrap_err(),
            JwtError::BadSignature
        );
        // alg=none.
        let none = format!(
            "{}.{}.",
            b64url(format!(r#"{{"alg":"none","kid":"{}"}}"#, keys.kid()).as_bytes()),
            b64url(br#"{"sub":"mallory"}"#)
        );
        assert_eq!(keys.verify(&none, None).unwrap_err(), JwtError::WrongKey);
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert!(keys.verify(junk, None).is_err(), "{junk}");
        }
    }

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core appendix A.3 example access token and at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}

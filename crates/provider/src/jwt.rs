//! The provider's ES256 signing keys and compact JWS (JWT) signing and
//! verification.
//!
//! Only ES256 exists here: a token whose header names any other algorithm,
//! or a key id that is neither the active nor the retired key, is refused
//! before any signature work. Persistence and rotation are `keyring`'s.
//!
//! A key is generated, stored (PKCS#8 PEM) and published (JWK) with the
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
use time::OffsetDateTime;

use crate::crypto::{b64url, b64url_decode};

/// The provider's keys: the active one signs; a retired one (the active
/// key before the last rotation) still verifies what it signed and stays
/// published until the next rotation, so that tokens issued just before a
/// rotation live out their lifetime.
pub struct SigningKeys {
    active: KeyPair,
    retired: Option<RetiredKey>,
    rng: SystemRandom,
}

/// An ES256 key with its private half: signs.
struct KeyPair {
    /// The key as generated or read from the store, for `to_pkcs8_pem`.
    key: SigningKey,
    /// The same key, for signing.
    signer: EcdsaKeyPair,
    public: PublicKey,
}

/// The public half of a key: verifies, and is published with a stable key
/// id (RFC 7638 thumbprint).
#[derive(Clone)]
pub struct PublicKey {
    /// Uncompressed SEC1 point, for verifying.
    point: Vec<u8>,
    kid: String,
    jwk: Value,
}

/// A key taken out of signing by a rotation, and when.
#[derive(Clone)]
pub struct RetiredKey {
    pub public: PublicKey,
    pub retired_at: OffsetDateTime,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("kid", &self.kid())
            .field("retired", &self.retired.as_ref().map(|r| r.public.kid()))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PublicKey").field(&self.kid).finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    WrongKey,
    #[error("the token was not signed with a key of this provider")]
    UnknownKey,
    #[error("the token's type is not {0}")]
    WrongType(&'static str),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the stored signing key cannot be read")]
    BadStoredKey,
}

impl PublicKey {
    /// From an uncompressed SEC1 point, checked to be on the curve.
    pub fn from_sec1(point: &[u8]) -> Result<PublicKey, JwtError> {
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
            .map_err(|_| JwtError::BadStoredKey)?;
        Ok(Self::from_point(&key.to_encoded_point(false)))
    }

    fn from_point(point: &p256::EncodedPoint) -> PublicKey {
        let x = b64url(point.x().expect("uncompressed point has x"));
        let y = b64url(point.y().expect("uncompressed point has y"));
        // RFC 7638: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = b64url(&Sha256::digest(canonical.as_bytes()));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "use": "sig", "alg": "ES256", "kid": kid,
        });
        PublicKey {
            point: point.as_bytes().to_vec(),
            kid,
            jwk,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The uncompressed SEC1 point (what the store keeps of a retired key).
    pub fn sec1(&self) -> &[u8] {
        &self.point
    }
}

impl KeyPair {
    fn new(key: SigningKey, rng: &SystemRandom) -> KeyPair {
        let pkcs8 = key.to_pkcs8_der().expect("P-256 key encodes as PKCS#8");
        let signer =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_bytes(), rng)
                .expect("ring reads the PKCS#8 form of a P-256 key");
        let public = PublicKey::from_point(&key.verifying_key().to_encoded_point(false));
        KeyPair {
            key,
            signer,
            public,
        }
    }
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

    /// The active key's PKCS#8 PEM form, for the store.
    pub fn to_pkcs8_pem(&self) -> SecretString {
        let pem = self
            .active
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("P-256 key encodes as PKCS#8");
        SecretString::from(pem.to_string())
    }

    fn from_key(key: SigningKey) -> Self {
        let rng = SystemRandom::new();
        SigningKeys {
            active: KeyPair::new(key, &rng),
            retired: None,
            rng,
        }
    }

    /// These keys with `retired` verifying beside the active one (none when
    /// it is the active key itself: a rotation that stopped half-way).
    pub fn with_retired(mut self, retired: Option<RetiredKey>) -> Self {
        self.retired = retired.filter(|r| r.public.kid != self.active.public.kid);
        self
    }

    /// The active key's id.
    pub fn kid(&self) -> &str {
        &self.active.public.kid
    }

    /// The active key's public half.
    pub fn public(&self) -> &PublicKey {
        &self.active.public
    }

    pub fn retired(&self) -> Option<&RetiredKey> {
        self.retired.as_ref()
    }

    /// The JWKS document served at `/jwks`: the active key, then the
    /// retired one.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.published().map(|k| k.jwk.clone()).collect();
        json!({ "keys": keys })
    }

    /// Signs `claims` with the active key, header
    /// `{"alg":"ES256","typ":typ,"kid":…}`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> String {
        let header = json!({ "alg": "ES256", "typ": typ, "kid": self.kid() });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(&serde_json::to_vec(claims).expect("claims serialise"))
        );
        let sig = self
            .active
            .signer
            .sign(&self.rng, input.as_bytes())
            .expect("ECDSA signing with the system's random source");
        format!("{input}.{}", b64url(sig.as_ref()))
    }

    /// The keys that verify and are published: the active one, then the
    /// retired one.
    fn published(&self) -> impl Iterator<Item = &PublicKey> {
        std::iter::once(&self.active.public).chain(self.retired.as_ref().map(|r| &r.public))
    }

    /// The key named `kid`: the active or the retired one.
    fn verifying(&self, kid: &str) -> Option<&PublicKey> {
        self.published().find(|k| k.kid == kid)
    }

    /// Verifies the signature (with the key the header names), algorithm and
    /// (when given) the `typ` header; returns the claims. Time and audience
    /// checks are the caller's.
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
        if header["alg"] != "ES256" {
            return Err(JwtError::WrongKey);
        }
        let key = header["kid"]
            .as_str()
            .and_then(|kid| self.verifying(kid))
            .ok_or(JwtError::UnknownKey)?;
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
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point)
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
        assert_eq!(
            other.verify(&token, None).unwrap_err(),
            JwtError::UnknownKey
        );
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
    fn a_retired_key_verifies_what_it_signed_and_is_published_after_the_active_one() {
        let old = SigningKeys::generate();
        let before = old.sign("at+jwt", &json!({"sub": "alice"}));
        let retired = RetiredKey {
            public: PublicKey::from_sec1(old.public().sec1()).unwrap(),
            retired_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(retired.public.kid(), old.kid());
        let keys = SigningKeys::generate().with_retired(Some(retired.clone()));
        assert_eq!(keys.verify(&before, None).unwrap()["sub"], "alice");
        let after = keys.sign("at+jwt", &json!({"sub": "bob"}));
        assert_eq!(keys.verify(&after, None).unwrap()["sub"], "bob");
        // The old key alone does not know the new one.
        assert_eq!(old.verify(&after, None).unwrap_err(), JwtError::UnknownKey);
        let jwks = keys.jwks();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [keys.kid(), old.kid()]);
        // Retired under its own id, the active key is listed once.
        let same = old.with_retired(Some(retired));
        assert!(same.retired().is_none());
        assert_eq!(same.jwks()["keys"].as_array().unwrap().len(), 1);
        // A point off the curve is no key.
        let mut bad = keys.public().sec1().to_vec();
        bad[40] ^= 1;
        assert_eq!(
            PublicKey::from_sec1(&bad).unwrap_err(),
            JwtError::BadStoredKey
        );
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

//! Bundle signatures: Ed25519 keys as PEM, and JWS (RFC 7515, compact
//! serialization, `alg` `EdDSA` of RFC 8037) over a bundle's manifest.
//!
//! A key is named by its `kid`: given, or by default its fingerprint (the
//! first 16 hex digits of the SHA-256 of its 32 public key bytes), which
//! the signer and every verifier compute alike.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use sha2::{Digest, Sha256};

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the
/// 32 key bytes follow it.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The DER inside the PEM block labelled `label`.
fn pem_block(text: &str, label: &str, what: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .ok_or_else(|| format!("{what} is not a PEM `{label}` (as `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write)"))?;
    let base64: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .map_err(|e| format!("{what}: the PEM body is not base64 ({e})"))
}

/// The default `kid` of the public key `public`.
pub fn fingerprint(public: &[u8]) -> String {
    let digest = Sha256::digest(public);
    super::snapshot::hex(digest.get(..8).unwrap_or_default())
}

/// A key that signs bundles.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    /// The name verifiers know the key by.
    pub kid: String,
}

impl SigningKey {
    /// An Ed25519 private key from PEM (PKCS#8 `PRIVATE KEY`), named `kid`
    /// or its fingerprint; `what` names it in errors.
    pub fn from_pem(text: &str, kid: Option<String>, what: &str) -> Result<SigningKey, String> {
        let der = pem_block(text, "PRIVATE KEY", what)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| format!("{what} is not an Ed25519 private key ({e})"))?;
        let kid = kid.unwrap_or_else(|| fingerprint(pair.public_key().as_ref()));
        Ok(SigningKey { pair, kid })
    }

    /// The JWS of `payload`: `{"alg":"EdDSA","kid":…}`, compact.
    pub fn sign(&self, payload: &[u8]) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "kid": self.kid}).to_string();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// The keys a server accepts bundle signatures from, by `kid`.
#[derive(Clone, Default)]
pub struct VerificationKeys {
    keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for VerificationKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(kid, _)| kid))
            .finish()
    }
}

impl VerificationKeys {
    /// Adds an Ed25519 public key from PEM (`PUBLIC KEY`), named `kid` or
    /// its fingerprint; two keys with one name are refused.
    pub fn add_pem(&mut self, text: &str, kid: Option<String>, what: &str) -> Result<(), String> {
        let der = pem_block(text, "PUBLIC KEY", what)?;
        let public = der
            .strip_prefix(&SPKI_PREFIX[..])
            .filter(|k| k.len() == 32)
            .ok_or_else(|| format!("{what} is not an Ed25519 public key"))?;
        let kid = kid.unwrap_or_else(|| fingerprint(public));
        if self.keys.iter().any(|(k, _)| *k == kid) {
            return Err(format!("two verification keys are named `{kid}`"));
        }
        self.keys.push((kid, public.to_vec()));
        Ok(())
    }

    /// The names of the keys.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The payload of the compact JWS `jws`, when its header asks for
    /// `EdDSA` with a known `kid` and the signature verifies; else why not.
    pub fn verify(&self, jws: &str) -> Result<(Vec<u8>, String), String> {
        let mut parts = jws.trim().split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the signature is not a compact JWS (three parts)".into());
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| format!("the signature's {what} is not base64url"))
        };
        let header_json: serde_json::Value = serde_json::from_slice(&decode(header, "header")?)
            .map_err(|_| "the signature's header is not JSON".to_string())?;
        if header_json.get("alg").and_then(|a| a.as_str()) != Some("EdDSA") {
            return Err(format!(
                "the signature's algorithm is {}, not EdDSA",
                header_json
                    .get("alg")
                    .map_or("missing".into(), |a| a.to_string())
            ));
        }
        // `crit` names extensions a verifier must understand: none here.
        if header_json.get("crit").is_some() {
            return Err("the signature's header has `crit` extensions mspl does not know".into());
        }
        let kid = header_json
            .get("kid")
            .and_then(|k| k.as_str())
            .ok_or("the signature's header names no `kid`")?;
        let (_, public) = self.keys.iter().find(|(k, _)| k == kid).ok_or_else(|| {
            format!(
                "the bundle is signed with key `{kid}`, which is not among the verification keys ({})",
                self.kids().join(", ")
            )
        })?;
        let signature_bytes = decode(sig, "signature")?;
        signature::UnparsedPublicKey::new(&signature::ED25519, public)
            .verify(format!("{header}.{payload}").as_bytes(), &signature_bytes)
            .map_err(|_| format!("the signature does not verify with key `{kid}`"))?;
        Ok((decode(payload, "payload")?, kid.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::{SigningKey, VerificationKeys};

    const PRIVATE: &str = include_str!("../../tests/cases/bundle-keys/release.key.pem");
    const PUBLIC: &str = include_str!("../../tests/cases/bundle-keys/release.pub.pem");
    const OTHER: &str = include_str!("../../tests/cases/bundle-keys/rotated.pub.pem");

    #[test]
    fn a_signature_verifies_with_its_key_only_and_over_its_payload_only() {
        let key = SigningKey::from_pem(PRIVATE, None, "key").unwrap();
        let mut keys = VerificationKeys::default();
        keys.add_pem(PUBLIC, None, "pub").unwrap();
        assert_eq!(keys.kids(), vec![key.kid.as_str()]);
        let jws = key.sign(b"{\"revision\":\"r\"}");
        assert_eq!(keys.verify(&jws).unwrap().0, b"{\"revision\":\"r\"}");
        // Another payload under the same signature.
        let mut parts: Vec<&str> = jws.split('.').collect();
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            b"{\"revision\":\"s\"}",
        );
        parts[1] = &forged;
        assert!(keys
            .verify(&parts.join("."))
            .unwrap_err()
            .contains("does not verify"));
        // Another key under the same name.
        let mut wrong = VerificationKeys::default();
        wrong
            .add_pem(OTHER, Some(key.kid.clone()), "other")
            .unwrap();
        assert!(wrong.verify(&jws).unwrap_err().contains("does not verify"));
        // An unknown name.
        let mut unknown = VerificationKeys::default();
        unknown.add_pem(OTHER, None, "other").unwrap();
        assert!(unknown.verify(&jws).unwrap_err().contains("not among"));
        // Not a key, not a JWS.
        assert!(SigningKey::from_pem(PUBLIC, None, "k").is_err());
        assert!(keys.add_pem(PRIVATE, None, "k").is_err());
        assert!(keys.verify("a.b").is_err());
    }
}

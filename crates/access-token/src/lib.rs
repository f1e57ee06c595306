//! Access tokens: EdDSA (Ed25519) JWTs the hub signs and anyone holding its
//! JWKS can verify offline. The hub signs and verifies with [`KeySet`]; a
//! store node verifies with [`PublicKeys`], built from the JWKS the hub sends
//! it over the sync link, so hub-issued staff tokens work at the till even
//! while the hub is unreachable.
//!
//! `jsonwebtoken` does the JWT format and claim checks; its cryptography is a
//! small provider over `ring` (already in the build for TLS) that knows only
//! EdDSA, so no OpenSSL, aws-lc or RSA code is linked, and a token naming any
//! other algorithm is refused before its signature is looked at.
//!
//! Verification pins EdDSA, requires `iss`, `aud`, `exp` and `sub`, checks the
//! issuer and audience, refuses a token whose `nbf` (if it has one) is still
//! ahead, allows no clock leeway, and looks the header's `kid`
//! up among the signer's current keys.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::roles::Role;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

/// The default `iss` of access tokens (the hub's `--jwt-issuer`).
pub const DEFAULT_ISSUER: &str = "cloud-hub";
/// The audience of every access token the hub issues.
pub const AUDIENCE: &str = "edge-restaurant";
/// The longest an access token lives.
pub const MAX_ACCESS_TTL_SECS: u64 = 15 * 60;

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    /// This token's own id.
    pub jti: String,
    /// The refresh-token family (the session) it was issued in; refused once that is revoked.
    pub sid: String,
    /// customer, staff or admin.
    pub kind: String,
    /// Staff only: each store the user works at and their role there (the
    /// most privileged when they hold several), as of when the token was
    /// signed. A store node authorises hub-signed tokens with it, offline.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, Role>,
    /// Staff only: the name the till shows for whoever is signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Why an access token is refused (all are 401 for the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is signed with a key this server does not know")]
    UnknownKey,
    #[error("the access token is not valid: {0}")]
    Invalid(String),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Expired => "token_expired",
            TokenError::UnknownKey | TokenError::Invalid(_) => "bad_token",
        }
    }
}

// ---- the ring-backed provider ------------------------------------------------

struct RingSigner(Ed25519KeyPair);

impl jsonwebtoken::signature::Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        Ok(self.0.sign(msg).as_ref().to_vec())
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct RingVerifier(Vec<u8>);

impl jsonwebtoken::signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(
        &self,
        msg: &[u8],
        signature: &Vec<u8>,
    ) -> Result<(), jsonwebtoken::signature::Error> {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(msg, signature)
            .map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn new_signer(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *alg != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.as_bytes())
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(RingSigner(pair)))
}

fn new_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(RingVerifier(key.try_get_as_bytes()?.to_vec())))
}

fn unsupported_pair(_: &[u8]) -> jsonwebtoken::errors::Result<(Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::InvalidAlgorithm.into())
}

fn unsupported_ec(
    _: &[u8],
    _: Algorithm,
) -> jsonwebtoken::errors::Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::InvalidAlgorithm.into())
}

fn ed_public(pkcs8: &[u8], curve: &EllipticCurve) -> jsonwebtoken::errors::Result<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn digest(data: &[u8], hash: ThumbprintHash) -> jsonwebtoken::errors::Result<Vec<u8>> {
    Ok(match hash {
        ThumbprintHash::SHA256 => sha2::Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => sha2::Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    })
}

/// `jsonwebtoken`'s cryptography: Ed25519 through `ring`, nothing else.
pub static RING_EDDSA: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: unsupported_pair,
        rsa_pub_components_from_public_key: unsupported_pair,
        ec_pub_components_from_private_key: unsupported_ec,
        ed_pub_components_from_private_key: ed_public,
        compute_digest: digest,
    },
};

/// Makes [`RING_EDDSA`] the process's `jsonwebtoken` provider (once; later calls do nothing).
pub fn install_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Err: another provider was installed first (by an embedding program); it is used instead.
        if RING_EDDSA.install_default().is_err() {
            tracing::warn!("a jsonwebtoken crypto provider was already installed; using it");
        }
    });
}

// ---- keys -------------------------------------------------------------------

/// A new Ed25519 key: (PKCS#8 v2 DER, raw 32-byte public key).
pub fn generate_key() -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| KeyError("key generation failed".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| KeyError("generated key does not parse".into()))?;
    Ok((pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec()))
}

/// A stored signing key could not be used.
#[derive(Debug, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyError(pub String);

/// One key: its id, both halves, when it was made.
pub struct Key {
    pub kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// From the stored halves; checks that the private key is Ed25519 and matches the public one.
    pub fn from_stored(
        kid: String,
        pkcs8: &[u8],
        public: &[u8],
        created_at: i64,
    ) -> Result<Key, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| KeyError(format!("{kid}: not an Ed25519 PKCS#8 key: {e}")))?;
        if pair.public_key().as_ref() != public {
            return Err(KeyError(format!("{kid}: public key does not match")));
        }
        Ok(Key {
            encoding: EncodingKey::from_ed_der(pkcs8),
            decoding: DecodingKey::from_ed_der(public),
            public: public.to_vec(),
            kid,
            created_at,
        })
    }

    /// The key as a JWK (OKP, Ed25519).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.public),
        })
    }
}

/// The hub's current (unretired) keys, newest first: the first signs, all verify.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    pub fn new(mut keys: Vec<Key>) -> KeySet {
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.kid.cmp(&a.kid)));
        KeySet { keys }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys' ids, newest first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// `{"keys": [...]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(Key::jwk).collect::<Vec<_>>() })
    }

    /// Signs `claims` with the newest key.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let key = self
            .keys
            .first()
            .ok_or_else(|| KeyError("no signing key".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| KeyError(e.to_string()))
    }
}

/// The `kid` a token's header names, if the header is readable.
pub fn kid_of(token: &str) -> Result<String, TokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenError::Invalid(format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    header
        .kid
        .ok_or_else(|| TokenError::Invalid("the header names no key (kid)".into()))
}

/// Verifies `token` with `key` as of now by the system clock: EdDSA only,
/// issuer, audience, expiry and not-before (no leeway).
pub fn verify_with(key: &Key, token: &str, issuer: &str) -> Result<Claims, TokenError> {
    verify_at(key, token, issuer, jsonwebtoken::get_current_timestamp())
}

/// As [`verify_with`], as of `now` (Unix seconds): the server passes the
/// time of the clock it was given, so expiry is testable without waiting.
pub fn verify_at(key: &Key, token: &str, issuer: &str, now: u64) -> Result<Claims, TokenError> {
    verify_decoding(&key.decoding, token, issuer, now)
}

/// The claims with the one time claim the hub never writes but a verifier honours.
#[derive(Deserialize)]
struct Timed {
    #[serde(flatten)]
    claims: Claims,
    #[serde(default)]
    nbf: Option<u64>,
}

fn verify_decoding(
    key: &DecodingKey,
    token: &str,
    issuer: &str,
    now: u64,
) -> Result<Claims, TokenError> {
    let mut v = Validation::new(Algorithm::EdDSA);
    // `jsonwebtoken` reads the system clock for these two; they are checked
    // below against `now` instead, with the same rules and no leeway.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    v.set_issuer(&[issuer]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let timed = jsonwebtoken::decode::<Timed>(token, key, &v)
        .map(|d| d.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
    if timed.claims.exp < now {
        return Err(TokenError::Expired);
    }
    // The hub never issues `nbf`, but a verifier honours one: a token not valid yet is refused.
    if timed.nbf.is_some_and(|nbf| nbf > now) {
        return Err(TokenError::Invalid("ImmatureSignature".into()));
    }
    Ok(timed.claims)
}

// ---- verifying elsewhere: the public half only ------------------------------

/// The hub's public keys as another server holds them: parsed from its JWKS,
/// with the issuer its tokens must name. Verifies, never signs.
#[derive(Debug, Clone)]
pub struct PublicKeys {
    issuer: String,
    keys: Vec<(String, DecodingKey)>,
}

/// A JWKS that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key set: {0}")]
pub struct JwksError(pub String);

impl PublicKeys {
    /// From `{"keys": [...]}`: every key must be an Ed25519 OKP key with a
    /// `kid` and a 32-byte `x`; a set with none, or with any other key, is
    /// refused whole rather than trusted in part.
    pub fn from_jwks(issuer: &str, jwks: &Value) -> Result<PublicKeys, JwksError> {
        install_provider();
        if issuer.is_empty() {
            return Err(JwksError("the issuer is empty".into()));
        }
        let list = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError("no \"keys\" array".into()))?;
        if list.is_empty() {
            return Err(JwksError("no keys".into()));
        }
        let mut keys = Vec::with_capacity(list.len());
        for k in list {
            let field = |name: &str| k.get(name).and_then(Value::as_str);
            let kid = field("kid").ok_or_else(|| JwksError("a key has no kid".into()))?;
            if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
                return Err(JwksError(format!("{kid}: not an Ed25519 (OKP) key")));
            }
            if field("alg").is_some_and(|a| a != "EdDSA") {
                return Err(JwksError(format!("{kid}: not for EdDSA")));
            }
            let x = field("x")
                .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
                .filter(|x| x.len() == 32)
                .ok_or_else(|| JwksError(format!("{kid}: x is not a 32-byte key")))?;
            keys.push((kid.to_owned(), DecodingKey::from_ed_der(&x)));
        }
        Ok(PublicKeys {
            issuer: issuer.to_owned(),
            keys,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks a token's signature and claims against these keys, as of now by the system clock.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// As [`PublicKeys::verify`], as of `now` (Unix seconds).
    pub fn verify_at(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let kid = kid_of(token)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| *k == kid)
            .ok_or(TokenError::UnknownKey)?;
        verify_decoding(key, token, &self.issuer, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyset() -> KeySet {
        install_provider();
        let (der, public) = generate_key().unwrap();
        KeySet::new(vec![
            Key::from_stored("k1".into(), &der, &public, 1).unwrap(),
        ])
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            iss: "cloud-hub".into(),
            aud: AUDIENCE.into(),
            sub: "u1".into(),
            exp,
            iat: exp.saturating_sub(60),
            jti: "j".into(),
            sid: "f".into(),
            kind: "customer".into(),
            stores: BTreeMap::new(),
            name: None,
        }
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[test]
    fn signs_and_verifies_and_refuses_the_rest() {
        let keys = keyset();
        let key = keys.get("k1").unwrap();
        let t = keys.sign(&claims(now() + 60)).unwrap();
        assert_eq!(kid_of(&t).unwrap(), "k1");
        assert_eq!(verify_with(key, &t, "cloud-hub").unwrap().sub, "u1");
        assert!(verify_with(key, &t, "other-issuer").is_err());
        let expired = keys.sign(&claims(now() - 1)).unwrap();
        assert_eq!(
            verify_with(key, &expired, "cloud-hub"),
            Err(TokenError::Expired)
        );
        let mut wrong_aud = claims(now() + 60);
        wrong_aud.aud = "someone-else".into();
        let t2 = keys.sign(&wrong_aud).unwrap();
        assert!(matches!(
            verify_with(key, &t2, "cloud-hub"),
            Err(TokenError::Invalid(_))
        ));
        // Another key's signature does not verify.
        let other = keyset();
        let t3 = other.sign(&claims(now() + 60)).unwrap();
        assert!(verify_with(key, &t3, "cloud-hub").is_err());
        assert!(keys.jwks()["keys"][0]["x"].as_str().unwrap().len() == 43);
    }

    #[test]
    fn garbage_never_panics() {
        let keys = keyset();
        let key = keys.get("k1").unwrap();
        for t in ["", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x.y"] {
            assert!(kid_of(t).is_err() || verify_with(key, t, "cloud-hub").is_err());
        }
    }

    #[test]
    fn a_jwks_verifies_what_its_keys_signed() {
        let keys = keyset();
        let public = PublicKeys::from_jwks("cloud-hub", &keys.jwks()).unwrap();
        let mut staff = claims(now() + 60);
        staff.kind = "staff".into();
        staff.stores = BTreeMap::from([("s1".into(), Role::Cashier), ("s2".into(), Role::Owner)]);
        staff.name = Some("Sam".into());
        let got = public.verify(&keys.sign(&staff).unwrap()).unwrap();
        assert_eq!(got, staff);
        // Customers' tokens carry neither field.
        let t = keys.sign(&claims(now() + 60)).unwrap();
        let payload = t.split('.').nth(1).unwrap();
        let body: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert!(
            body.get("stores").is_none() && body.get("name").is_none(),
            "{body}"
        );

        assert_eq!(
            public.verify(&keyset().sign(&claims(now() + 60)).unwrap()),
            Err(TokenError::Invalid("InvalidSignature".into()))
        );
        let expired = keys.sign(&claims(now() - 1)).unwrap();
        assert_eq!(public.verify(&expired), Err(TokenError::Expired));
        let other_issuer = PublicKeys::from_jwks("elsewhere", &keys.jwks()).unwrap();
        assert!(matches!(
            other_issuer.verify(&t),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn a_token_not_valid_yet_is_refused_by_hub_and_node() {
        let keys = keyset();
        let public = PublicKeys::from_jwks("cloud-hub", &keys.jwks()).unwrap();
        let sign_with_nbf = |nbf: u64| {
            let mut body = serde_json::to_value(claims(now() + 600)).unwrap();
            body["nbf"] = json!(nbf);
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some("k1".into());
            jsonwebtoken::encode(&header, &body, &keys.keys[0].encoding).unwrap()
        };
        let early = sign_with_nbf(now() + 300);
        let hub = verify_with(keys.get("k1").unwrap(), &early, "cloud-hub");
        assert_eq!(hub, Err(TokenError::Invalid("ImmatureSignature".into())));
        assert_eq!(public.verify(&early), hub);
        let due = sign_with_nbf(now() - 1);
        assert_eq!(public.verify(&due).unwrap().sub, "u1");
    }

    #[test]
    fn a_token_from_an_unknown_key_is_refused_as_such() {
        let keys = keyset();
        let mut jwks = keys.jwks();
        jwks["keys"][0]["kid"] = json!("k2");
        let public = PublicKeys::from_jwks("cloud-hub", &jwks).unwrap();
        let t = keys.sign(&claims(now() + 60)).unwrap();
        assert_eq!(public.verify(&t), Err(TokenError::UnknownKey));
    }

    #[test]
    fn unusable_key_sets_are_refused_whole() {
        let good = keyset().jwks()["keys"][0].clone();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut k = good.clone();
            f(&mut k);
            json!({ "keys": [good.clone(), k] })
        };
        let cases = [
            json!({}),
            json!({ "keys": [] }),
            json!({ "keys": "k1" }),
            with(&|k| k["kty"] = json!("RSA")),
            with(&|k| k["crv"] = json!("X25519")),
            with(&|k| k["alg"] = json!("HS256")),
            with(&|k| k["x"] = json!("AAAA")),
            with(&|k| k["x"] = json!(17)),
            with(&|k| drop(k.as_object_mut().unwrap().remove("kid"))),
        ];
        for jwks in cases {
            assert!(PublicKeys::from_jwks("cloud-hub", &jwks).is_err(), "{jwks}");
        }
        assert!(PublicKeys::from_jwks("", &json!({ "keys": [good.clone()] })).is_err());
        assert!(PublicKeys::from_jwks("cloud-hub", &json!({ "keys": [good] })).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_are_refused_without_panicking(s in "\\PC{0,200}") {
            let keys = keyset();
            let key = keys.get("k1").unwrap();
            let _ = kid_of(&s);
            proptest::prop_assert!(verify_with(key, &s, "cloud-hub").is_err());
            let public = PublicKeys::from_jwks("cloud-hub", &keys.jwks()).unwrap();
            proptest::prop_assert!(public.verify(&s).is_err());
        }
    }
}

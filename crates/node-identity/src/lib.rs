//! A store node's identity at the hub (`docs/enrollment.md`): the pairing code an installer types,
//! the node's own Ed25519 key, the proof it sends when enrolling, and the signed `Authorization:
//! EdgeNode ...` header of its sync connection. Both sides link this crate, so the bytes that are
//! signed are written in one place.
//!
//! Pure: no files, no sockets, no clock. The only outside input is the OS random source (key
//! generation, codes and nonces), through `ring::rand::SystemRandom`, or any `SecureRandom` given.
//!
//! A code is 8 characters from a 31-letter alphabet without look-alikes: 31^8 ≈ 8.5 * 10^11
//! (39.6 bits). It lives 10 minutes and the hub rate limits guesses, so guessing is hopeless; the
//! code only has to be short enough to read out over the phone.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// The letters of a pairing code: digits and capitals without 0/O, 1/I/L.
pub const CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// How many letters a code has.
pub const CODE_LEN: usize = 8;
/// The scheme of the sync `Authorization` header.
pub const SYNC_SCHEME: &str = "EdgeNode";
/// How far a signed header's `ts` may be from the hub's clock, either way.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// The longest node id the header accepts.
pub const MAX_NODE_ID_LEN: usize = 64;

/// Why a code, key, proof or header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("a pairing code is 8 letters and digits (no 0, O, 1, I or L), like K7QM-3XPD")]
    BadCode,
    #[error("the public key is not 43 characters of base64url (a 32-byte Ed25519 key)")]
    BadPublicKey,
    #[error("the key file is not an Ed25519 PKCS#8 key")]
    BadPrivateKey,
    #[error("the signature is not 86 characters of base64url (64 bytes)")]
    BadSignatureEncoding,
    #[error("the signature does not match")]
    SignatureMismatch,
    #[error("malformed EdgeNode authorization: {0}")]
    BadHeader(&'static str),
    #[error("the random source failed")]
    Random,
}

/// A pairing code, normalised: 8 characters of [`CODE_ALPHABET`], upper case, no dash.
/// `Display` shows it as `XXXX-XXXX`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PairingCode(String);

impl PairingCode {
    /// Reads a code as typed: case, spaces and dashes are ignored; anything else, or a length
    /// other than 8, is [`Error::BadCode`].
    pub fn parse(typed: &str) -> Result<Self, Error> {
        let mut out = String::with_capacity(CODE_LEN);
        for c in typed.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let up = c.to_ascii_uppercase();
            if !up.is_ascii() || !CODE_ALPHABET.contains(&(up as u8)) {
                return Err(Error::BadCode);
            }
            if out.len() == CODE_LEN {
                return Err(Error::BadCode);
            }
            out.push(up);
        }
        if out.len() != CODE_LEN {
            return Err(Error::BadCode);
        }
        Ok(Self(out))
    }

    /// A fresh code from the OS random source.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_with(&SystemRandom::new())
    }

    /// A fresh code from `rng`, uniform over the alphabet (rejection sampling: bytes of 248 and
    /// above, 8 * 31, are drawn again).
    pub fn generate_with(rng: &dyn SecureRandom) -> Result<Self, Error> {
        let mut out = String::with_capacity(CODE_LEN);
        let mut buf = [0u8; 16];
        while out.len() < CODE_LEN {
            rng.fill(&mut buf).map_err(|_| Error::Random)?;
            for b in buf {
                if out.len() < CODE_LEN && usize::from(b) < CODE_ALPHABET.len() * 8 {
                    out.push(char::from(
                        CODE_ALPHABET[usize::from(b) % CODE_ALPHABET.len()],
                    ));
                }
            }
        }
        Ok(Self(out))
    }

    /// The normalised form (`K7QM3XPD`): what is signed and hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the normalised code, lower-case hex: all the hub keeps.
    pub fn sha256_hex(&self) -> String {
        hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            self.0.as_bytes(),
        ))
    }

    /// The code's public id: the first 16 hex digits of [`Self::sha256_hex`].
    pub fn code_id(&self) -> String {
        let mut h = self.sha256_hex();
        h.truncate(16);
        h
    }
}

impl fmt::Display for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", &self.0[..4], &self.0[4..])
    }
}

impl fmt::Debug for PairingCode {
    // A code is a short-lived secret: never in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PairingCode({})", self.code_id())
    }
}

/// A node's Ed25519 public key; on the wire, 43 characters of base64url without padding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Reads the wire form; only the canonical encoding is accepted, so one key has one spelling.
    pub fn parse(b64: &str) -> Result<Self, Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| Error::BadPublicKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| Error::BadPublicKey)?;
        Ok(Self(arr))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The wire form.
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Checks an enrollment proof: a signature of [`enrollment_message`].
    pub fn verify_enrollment(&self, code: &PairingCode, proof_b64: &str) -> Result<(), Error> {
        let sig = decode_signature(proof_b64)?;
        self.verify(&enrollment_message(code, self), &sig)
    }

    fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> Result<(), Error> {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(msg, sig)
            .map_err(|_| Error::SignatureMismatch)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

/// The bytes an enrollment proof signs: `edge-enroll-v1\n{CODE}\n{public_key}`, with the
/// normalised code and the key's wire form.
pub fn enrollment_message(code: &PairingCode, key: &PublicKey) -> Vec<u8> {
    format!("edge-enroll-v1\n{}\n{}", code.as_str(), key.to_base64()).into_bytes()
}

/// The bytes a sync header signs: `edge-sync-v1\n{node_id}\n{ts}\n{nonce}`.
pub fn sync_message(node_id: &str, ts_ms: i64, nonce: &str) -> Vec<u8> {
    format!("edge-sync-v1\n{node_id}\n{ts_ms}\n{nonce}").into_bytes()
}

/// A node's private key. The node keeps [`Self::pkcs8`] in `node-key.pk8`.
pub struct NodeKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.public_key().to_base64())
    }
}

impl NodeKey {
    /// A new key from the OS random source.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_with(&SystemRandom::new())
    }

    pub fn generate_with(rng: &dyn SecureRandom) -> Result<Self, Error> {
        let doc = Ed25519KeyPair::generate_pkcs8(rng).map_err(|_| Error::Random)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Loads a key from its PKCS#8 bytes (as `generate` wrote them).
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, Error> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes).map_err(|_| Error::BadPrivateKey)?;
        Ok(Self {
            pair,
            pkcs8: bytes.to_vec(),
        })
    }

    /// The PKCS#8 bytes to store (mode 0600).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public_key(&self) -> PublicKey {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(b)
    }

    /// The enrollment proof for `code`, base64url.
    pub fn sign_enrollment(&self, code: &PairingCode) -> String {
        URL_SAFE_NO_PAD.encode(
            self.pair
                .sign(&enrollment_message(code, &self.public_key())),
        )
    }

    /// A signed sync header with a fresh nonce; `ts_ms` is the node's clock (plus any offset it
    /// learned from a `clock_skew` refusal).
    pub fn sync_auth(&self, node_id: &str, ts_ms: i64) -> Result<SyncAuth, Error> {
        self.sync_auth_with_nonce(node_id, ts_ms, &new_nonce()?)
    }

    pub fn sync_auth_with_nonce(
        &self,
        node_id: &str,
        ts_ms: i64,
        nonce: &str,
    ) -> Result<SyncAuth, Error> {
        check_node_id(node_id)?;
        check_nonce(nonce)?;
        if ts_ms < 0 {
            return Err(Error::BadHeader("ts"));
        }
        let sig = self.pair.sign(&sync_message(node_id, ts_ms, nonce));
        let mut s = [0u8; 64];
        s.copy_from_slice(sig.as_ref());
        Ok(SyncAuth {
            node_id: node_id.to_owned(),
            ts_ms,
            nonce: nonce.to_owned(),
            sig: s,
        })
    }
}

/// 32 lower-case hex digits from the OS random source.
pub fn new_nonce() -> Result<String, Error> {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Random)?;
    Ok(hex::encode(b))
}

fn decode_signature(b64: &str) -> Result<[u8; 64], Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| Error::BadSignatureEncoding)?;
    bytes.try_into().map_err(|_| Error::BadSignatureEncoding)
}

/// A node id: 1 to 64 of `A-Z a-z 0-9 _ -` (the hub makes them; the header only carries them).
pub fn check_node_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > MAX_NODE_ID_LEN
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::BadHeader("node_id"));
    }
    Ok(())
}

fn check_nonce(nonce: &str) -> Result<(), Error> {
    if nonce.len() != 32
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::BadHeader("nonce"));
    }
    Ok(())
}

/// The signed sync header: `EdgeNode node_id=<id>,ts=<unix ms>,nonce=<32 hex>,sig=<base64url>`.
/// `Display` writes the header value; [`SyncAuth::parse`] reads it back.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncAuth {
    pub node_id: String,
    pub ts_ms: i64,
    /// 32 lower-case hex digits.
    pub nonce: String,
    sig: [u8; 64],
}

impl fmt::Debug for SyncAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncAuth")
            .field("node_id", &self.node_id)
            .field("ts_ms", &self.ts_ms)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl SyncAuth {
    /// Whether an `Authorization` value uses the `EdgeNode` scheme (any case), so a server can
    /// tell it from `Bearer` before parsing.
    pub fn is_edge_node(value: &str) -> bool {
        value.len() > SYNC_SCHEME.len()
            && value.as_bytes()[..SYNC_SCHEME.len()].eq_ignore_ascii_case(SYNC_SCHEME.as_bytes())
            && value.as_bytes()[SYNC_SCHEME.len()] == b' '
    }

    /// Reads an `Authorization` value. The four fields may come in any order, each exactly once,
    /// separated by commas with optional spaces.
    pub fn parse(value: &str) -> Result<Self, Error> {
        if !Self::is_edge_node(value) {
            return Err(Error::BadHeader("scheme"));
        }
        let rest = &value[SYNC_SCHEME.len() + 1..];
        let (mut node_id, mut ts, mut nonce, mut sig) = (None, None, None, None);
        for part in rest.split(',') {
            let part = part.trim_matches(' ');
            let (k, v) = part.split_once('=').ok_or(Error::BadHeader("field"))?;
            let slot = match k {
                "node_id" => &mut node_id,
                "ts" => &mut ts,
                "nonce" => &mut nonce,
                "sig" => &mut sig,
                _ => return Err(Error::BadHeader("unknown field")),
            };
            if slot.replace(v).is_some() {
                return Err(Error::BadHeader("repeated field"));
            }
        }
        let node_id = node_id.ok_or(Error::BadHeader("node_id"))?;
        check_node_id(node_id)?;
        let ts = ts.ok_or(Error::BadHeader("ts"))?;
        if ts.is_empty() || ts.len() > 18 || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::BadHeader("ts"));
        }
        let ts_ms: i64 = ts.parse().map_err(|_| Error::BadHeader("ts"))?;
        let nonce = nonce.ok_or(Error::BadHeader("nonce"))?;
        check_nonce(nonce)?;
        let sig = decode_signature(sig.ok_or(Error::BadHeader("sig"))?)
            .map_err(|_| Error::BadHeader("sig"))?;
        Ok(Self {
            node_id: node_id.to_owned(),
            ts_ms,
            nonce: nonce.to_owned(),
            sig,
        })
    }

    /// Checks the signature against the node's key (the hub also checks the clock, the nonce and
    /// that the node is not revoked).
    pub fn verify(&self, key: &PublicKey) -> Result<(), Error> {
        key.verify(
            &sync_message(&self.node_id, self.ts_ms, &self.nonce),
            &self.sig,
        )
    }

    /// Whether `ts` is within [`MAX_CLOCK_SKEW_MS`] of `now_ms`.
    pub fn fresh_at(&self, now_ms: i64) -> bool {
        (self.ts_ms - now_ms).abs() <= MAX_CLOCK_SKEW_MS
    }
}

impl fmt::Display for SyncAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SYNC_SCHEME} node_id={},ts={},nonce={},sig={}",
            self.node_id,
            self.ts_ms,
            self.nonce,
            URL_SAFE_NO_PAD.encode(self.sig)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(CODE_ALPHABET.to_vec()), CODE_LEN)
            .prop_map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn codes_read_as_typed() {
        let c = PairingCode::parse("k7qm-3xpd").unwrap();
        assert_eq!(c.as_str(), "K7QM3XPD");
        assert_eq!(c.to_string(), "K7QM-3XPD");
        assert_eq!(PairingCode::parse(" K7QM 3XPD ").unwrap(), c);
        for bad in [
            "K7QM-3XP",
            "K7QM-3XPDD",
            "K7QM-3XP0",
            "K7QM-3XPO",
            "K7QM-3XP1",
            "K7QM-3XPI",
            "K7QM-3XPL",
            "",
            "K7QM_3XPD",
            "K7QM-3XPé",
        ] {
            assert_eq!(PairingCode::parse(bad), Err(Error::BadCode), "{bad}");
        }
        assert_eq!(c.code_id().len(), 16);
        assert!(c.sha256_hex().starts_with(&c.code_id()));
    }

    #[test]
    fn generated_codes_use_the_alphabet() {
        for _ in 0..200 {
            let c = PairingCode::generate().unwrap();
            assert_eq!(PairingCode::parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn enrollment_proof_verifies_and_binds_code_and_key() {
        let key = NodeKey::generate().unwrap();
        let again = NodeKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let code = PairingCode::parse("K7QM-3XPD").unwrap();
        let proof = key.sign_enrollment(&code);
        let pk = PublicKey::parse(&key.public_key().to_base64()).unwrap();
        pk.verify_enrollment(&code, &proof).unwrap();
        let other = PairingCode::parse("K7QM-3XPE").unwrap();
        assert_eq!(
            pk.verify_enrollment(&other, &proof),
            Err(Error::SignatureMismatch)
        );
        let other_key = NodeKey::generate().unwrap().public_key();
        assert_eq!(
            other_key.verify_enrollment(&code, &proof),
            Err(Error::SignatureMismatch)
        );
        assert_eq!(
            pk.verify_enrollment(&code, "abc"),
            Err(Error::BadSignatureEncoding)
        );
        assert_eq!(
            NodeKey::from_pkcs8(b"nope").err(),
            Some(Error::BadPrivateKey)
        );
        assert_eq!(PublicKey::parse("AAAA"), Err(Error::BadPublicKey));
    }

    #[test]
    fn sync_header_example() {
        let key = NodeKey::generate().unwrap();
        let auth = key
            .sync_auth("nd_0123456789abcdef", 1_700_000_000_000)
            .unwrap();
        let text = auth.to_string();
        assert!(text.starts_with("EdgeNode node_id=nd_0123456789abcdef,ts=1700000000000,nonce="));
        let back = SyncAuth::parse(&text).unwrap();
        back.verify(&key.public_key()).unwrap();
        assert!(back.fresh_at(1_700_000_000_000 + MAX_CLOCK_SKEW_MS));
        assert!(!back.fresh_at(1_700_000_000_000 + MAX_CLOCK_SKEW_MS + 1));
        assert!(!back.fresh_at(1_700_000_000_000 - MAX_CLOCK_SKEW_MS - 1));
        // Any order, spaces after commas, any case of the scheme.
        let sig = text.rsplit_once("sig=").unwrap().1;
        let shuffled = format!(
            "edgenode sig={sig}, nonce={}, ts=1700000000000, node_id=nd_0123456789abcdef",
            auth.nonce
        );
        assert_eq!(SyncAuth::parse(&shuffled).unwrap(), auth);
        for bad in [
            "Bearer abc",
            "EdgeNode",
            "EdgeNode node_id=a,ts=1,nonce=00000000000000000000000000000000",
            "EdgeNode node_id=a,node_id=a,ts=1,nonce=00000000000000000000000000000000,sig=x",
            &text.replace("ts=", "ts=-"),
            &text.replace("node_id=nd_", "node_id=n d_"),
            &format!("{text},x=1"),
        ] {
            assert!(SyncAuth::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn code_round_trips_through_display_and_lower_case(s in code_strategy()) {
            let c = PairingCode::parse(&s).unwrap();
            prop_assert_eq!(PairingCode::parse(&c.to_string()).unwrap(), c.clone());
            prop_assert_eq!(PairingCode::parse(&c.to_string().to_lowercase()).unwrap(), c);
        }

        #[test]
        fn code_parse_never_panics(s in "\\PC{0,20}") {
            if let Ok(c) = PairingCode::parse(&s) {
                prop_assert_eq!(c.as_str().len(), CODE_LEN);
            }
        }

        #[test]
        fn header_round_trips(node_id in "[A-Za-z0-9_-]{1,64}", ts in 0i64..=999_999_999_999_999_999, nonce in "[0-9a-f]{32}") {
            let key = NodeKey::generate().unwrap();
            let auth = key.sync_auth_with_nonce(&node_id, ts, &nonce).unwrap();
            let back = SyncAuth::parse(&auth.to_string()).unwrap();
            prop_assert_eq!(&back, &auth);
            prop_assert!(back.verify(&key.public_key()).is_ok());
        }

        #[test]
        fn header_parse_never_panics(s in "EdgeNode \\PC{0,200}") {
            let _ = SyncAuth::parse(&s);
        }

        /// Change any one byte of the header value: it no longer parses, or no longer verifies.
        #[test]
        fn any_changed_header_byte_fails(idx in any::<prop::sample::Index>(), delta in 1u8..=255) {
            let key = NodeKey::generate().unwrap();
            let text = key.sync_auth("nd_0123456789abcdef", 1_700_000_000_000).unwrap().to_string();
            let mut bytes = text.into_bytes();
            // Skip the scheme: its case is not significant.
            let i = SYNC_SCHEME.len() + idx.index(bytes.len() - SYNC_SCHEME.len());
            bytes[i] = bytes[i].wrapping_add(delta);
            if let Ok(changed) = String::from_utf8(bytes)
                && let Ok(auth) = SyncAuth::parse(&changed)
            {
                prop_assert!(auth.verify(&key.public_key()).is_err(), "{changed}");
            }
        }

        /// Change any one byte of the proof, the code or the key: the proof no longer verifies.
        #[test]
        fn any_changed_proof_byte_fails(code in code_strategy(), which in 0usize..3, idx in any::<prop::sample::Index>(), delta in 1u8..=255) {
            let key = NodeKey::generate().unwrap();
            let code = PairingCode::parse(&code).unwrap();
            let proof = key.sign_enrollment(&code);
            let pk = key.public_key().to_base64();
            let (mut proof_b, mut code_b, mut pk_b) = (proof.into_bytes(), code.as_str().as_bytes().to_vec(), pk.into_bytes());
            let target = match which { 0 => &mut proof_b, 1 => &mut code_b, _ => &mut pk_b };
            let i = idx.index(target.len());
            target[i] = target[i].wrapping_add(delta);
            let original = code.clone();
            let ok = (|| -> Result<(), Error> {
                let proof = String::from_utf8(proof_b).map_err(|_| Error::BadSignatureEncoding)?;
                let code = PairingCode::parse(&String::from_utf8(code_b).map_err(|_| Error::BadCode)?)?;
                if code == original {
                    // Lower case of the same letter: the same code, as typed.
                    return Err(Error::BadCode);
                }
                let pk = PublicKey::parse(&String::from_utf8(pk_b).map_err(|_| Error::BadPublicKey)?)?;
                pk.verify_enrollment(&code, &proof)
            })();
            prop_assert!(ok.is_err());
        }
    }
}

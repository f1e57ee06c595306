//! What the hub keeps of secrets: the SHA-256 of a token (node tokens,
//! refresh tokens, invitations: the database never holds one in clear), and
//! the `Sealer` that encrypts stored idempotent answers and fingerprints
//! requests with keys derived from the admin token (`http::idempotency`).

use axum::http::Method;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use sha2::{Digest, Sha256};

/// SHA-256 of a secret, hex: what the database keeps of a node token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Sealing failed (ring refused the key or the operation).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SealError(&'static str);

/// Seals stored answers and fingerprints requests, with keys derived from a secret.
pub struct Sealer {
    seal_key: [u8; 32],
    mac: hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<keys>)")
    }
}

impl Sealer {
    pub fn from_secret(secret: &str) -> Sealer {
        let base = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let mut seal_key = [0u8; 32];
        seal_key.copy_from_slice(hmac::sign(&base, b"cloud-hub idempotency seal v1").as_ref());
        let mac_key = hmac::sign(&base, b"cloud-hub idempotency fingerprint v1");
        Sealer {
            seal_key,
            mac: hmac::Key::new(hmac::HMAC_SHA256, mac_key.as_ref()),
        }
    }

    fn key(&self) -> Result<LessSafeKey, SealError> {
        UnboundKey::new(&CHACHA20_POLY1305, &self.seal_key)
            .map(LessSafeKey::new)
            .map_err(|_| SealError("sealing key rejected"))
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut buf = plain.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::empty(),
                &mut buf,
            )
            .map_err(|_| SealError("sealing failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// The plain bytes, or `None` when they were sealed under another key or altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, rest) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self
            .key()
            .ok()?
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }

    /// HMAC of method, path and body, hex.
    pub fn fingerprint(&self, method: &Method, path: &str, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.mac);
        ctx.update(method.as_str().as_bytes());
        ctx.update(b"\0");
        ctx.update(path.as_bytes());
        ctx.update(b"\0");
        ctx.update(body);
        hex::encode(ctx.sign().as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_secret() {
        let a = Sealer::from_secret("secret-one-0123456789");
        let b = Sealer::from_secret("secret-two-0123456789");
        let sealed = a.seal(b"{\"refresh_token\":\"x\"}").unwrap();
        assert!(!sealed.windows(13).any(|w| w == b"refresh_token"));
        assert_eq!(a.open(&sealed).unwrap(), b"{\"refresh_token\":\"x\"}");
        assert!(b.open(&sealed).is_none());
        assert!(a.open(&sealed[..5]).is_none());
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(a.open(&tampered).is_none());
        assert_ne!(
            a.fingerprint(&Method::POST, "/x", b"{}"),
            b.fingerprint(&Method::POST, "/x", b"{}")
        );
    }

    proptest::proptest! {
        #[test]
        fn opening_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            let a = Sealer::from_secret("secret-one-0123456789");
            proptest::prop_assert!(a.open(&bytes).is_none());
        }
    }
}

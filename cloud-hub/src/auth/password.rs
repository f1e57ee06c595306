//! Account passwords: the policy a new password must meet, and Argon2id
//! hashing with an upgrade path.
//!
//! Policy: 8 to 128 characters, and not easy to guess. "Easy" is zxcvbn's
//! judgement (its score below 2, i.e. crackable within about 10^6 guesses,
//! counting its embedded lists of common passwords, English words, names and
//! keyboard patterns, plus the user's own email and name), or the whole
//! password being one dictionary word (also reversed or in l33t), however long.
//!
//! Hashes are Argon2id, m = 19 MiB, t = 2, p = 1 (OWASP's minimum). A stored
//! hash with weaker parameters (or another Argon2 variant) still verifies, and
//! [`Verified::needs_rehash`] tells the caller to store a fresh hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zxcvbn::matching::patterns::MatchPattern;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;
/// Argon2id memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// Why a new password is refused (each is a 422 for the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a password is {MIN_CHARS} to {MAX_CHARS} characters")]
    Length,
    #[error("this password is too common or too easy to guess{hint}")]
    Weak { hint: String },
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Length => "password_length",
            PolicyError::Weak { .. } => "password_too_weak",
        }
    }
}

/// Checks a new password against the policy; `context` holds what an attacker
/// would try first for this account (its email, the person's name).
pub fn check_policy(password: &str, context: &[&str]) -> Result<(), PolicyError> {
    let n = password.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&n) {
        return Err(PolicyError::Length);
    }
    let entropy = zxcvbn::zxcvbn(password, context);
    let one_word = matches!(
        entropy.sequence(),
        [m] if matches!(m.pattern, MatchPattern::Dictionary(_))
    );
    if u8::from(entropy.score()) < 2 || one_word {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        return Err(PolicyError::Weak { hint });
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // The constants are valid Argon2 parameters; `Params::new` only fails on out-of-range values.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashing failed (only on a broken random source or parameters: an internal error).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The PHC string of a new Argon2id hash at the policy's parameters. Slow on
/// purpose: call it off the async runtime (`spawn_blocking`).
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| HashError(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// The outcome of a correct password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The stored hash is weaker than the policy: hash the password again and store that.
    pub needs_rehash: bool,
}

/// Checks `password` against a stored PHC string; `None` when it does not
/// match (or the stored string is not a hash we can read). Slow on purpose.
pub fn verify(password: &str, stored: &str) -> Option<Verified> {
    let parsed = PasswordHash::new(stored).ok()?;
    // Verify with the parameters in the stored string (the `Argon2` instance's own are ignored).
    hasher()
        .verify_password(password.as_bytes(), &parsed)
        .ok()?;
    Some(Verified {
        needs_rehash: below_policy(&parsed),
    })
}

fn below_policy(h: &PasswordHash<'_>) -> bool {
    if h.algorithm.as_str() != Algorithm::Argon2id.ident().as_str() {
        return true;
    }
    match Params::try_from(h) {
        Ok(p) => p.m_cost() < MEMORY_KIB || p.t_cost() < ITERATIONS || p.p_cost() < PARALLELISM,
        Err(_) => true,
    }
}

/// A hash of a random password, verified against when an email is unknown, so
/// that a wrong email costs as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // Hashing a fresh random password cannot fail short of a broken system;
    // then the empty string simply verifies nothing.
    DUMMY.get_or_init(|| hash(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_common_passwords_are_refused() {
        assert_eq!(check_policy("Ab1!x", &[]), Err(PolicyError::Length));
        assert_eq!(
            check_policy(&"x".repeat(129), &[]).unwrap_err(),
            PolicyError::Length
        );
        for weak in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "P@ssw0rd",
        ] {
            assert!(
                matches!(check_policy(weak, &[]), Err(PolicyError::Weak { .. })),
                "{weak}"
            );
        }
        // One long dictionary word is still one word.
        assert!(check_policy("constitutional", &[]).is_err());
        // The account's own email is not a password.
        assert!(check_policy("ada.lovelace@example.com", &["ada.lovelace@example.com"]).is_err());
        assert!(check_policy("plum-kettle-73-orbit", &[]).is_ok());
    }

    #[test]
    fn weak_hashes_verify_and_ask_for_a_rehash() {
        let strong = hash("plum-kettle-73-orbit").unwrap();
        assert!(strong.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            verify("plum-kettle-73-orbit", &strong),
            Some(Verified {
                needs_rehash: false
            })
        );
        assert_eq!(verify("plum-kettle-73-orbiT", &strong), None);
        let weak_params = Params::new(1024, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, weak_params)
            .hash_password(b"plum-kettle-73-orbit", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            verify("plum-kettle-73-orbit", &weak),
            Some(Verified { needs_rehash: true })
        );
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"plum-kettle-73-orbit", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            verify("plum-kettle-73-orbit", &argon2i),
            Some(Verified { needs_rehash: true })
        );
        assert_eq!(verify("anything", "not a hash"), None);
    }
}

//! Accounts and who may do what on the hub.
//!
//! - `password`: the new-password policy and Argon2id hashing (with rehash on login);
//! - `jwt` (the `access-token` crate): EdDSA access tokens, the signing keys and the JWKS;
//! - `throttle`: sign-in rate limits per IP and per account;
//! - `extract`: the request extractors that authenticate and authorise
//!   (`Signed`, `CustomerUser`, `PlatformAdmin`, `StoreAccess<perm::X>`,
//!   `OrgAccess<perm::X>`).
//!
//! This module holds the state they share ([`AuthState`]: configuration, the
//! current keys, the limiters) and the session operations the HTTP handlers
//! call: start a session (a refresh-token family plus an access token), rotate
//! a refresh token, verify an access token.
//!
//! A session is a refresh-token family. Access tokens last at most 15 minutes
//! and carry the family id (`sid`); each request checks that the family is
//! still live and that the token is not older than the user's last password
//! change, so logout and password changes take effect at once.
pub mod extract;
pub use access_token as jwt;
pub use api_types::hub::auth::TokenPair;
pub mod password;
pub mod throttle;

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use domain::roles::Role;
use rand::RngCore;

use crate::crypto::token_hash;
use crate::db::{Db, KeyRow, RefreshRow, UserRow};
use crate::time::{SharedClock, ms as clock_ms};
use jwt::{Claims, Key, KeySet, TokenError};

pub use extract::{CustomerUser, OrgAccess, PlatformAdmin, Signed, StoreAccess, perm};

pub use jwt::DEFAULT_ISSUER;
/// How often at most an unknown `kid` makes the hub re-read its keys.
const KEY_RELOAD_EVERY: Duration = Duration::from_secs(10);

/// Account settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The `iss` the hub writes into and requires of access tokens.
    pub issuer: String,
    /// Access-token lifetime; at most 900 s (15 min).
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime (each rotation starts a new one).
    pub refresh_ttl_secs: u64,
    /// Invitation lifetime.
    pub invitation_ttl_secs: u64,
    pub limits: throttle::Limits,
    /// Take the client's IP from the last `X-Forwarded-For` entry (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// How often a replica re-reads the signing keys, to pick up a rotation or
    /// retirement made elsewhere (`cloud-hub keys ...`) and pass it to its nodes.
    pub key_reload_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuer: DEFAULT_ISSUER.into(),
            access_ttl_secs: jwt::MAX_ACCESS_TTL_SECS,
            refresh_ttl_secs: 30 * 24 * 3600,
            invitation_ttl_secs: 7 * 24 * 3600,
            limits: throttle::Limits::default(),
            trust_forwarded_for: false,
            key_reload_secs: 60,
        }
    }
}

/// Why a refresh token was refused (each is a 401).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is unknown, expired or revoked")]
    Invalid,
    #[error("the refresh token was already used: the session is revoked")]
    Reused,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The hub's account state: configuration, the signing keys, the limiters.
pub struct AuthState {
    pub config: AuthConfig,
    keys: RwLock<KeySet>,
    /// Bumped whenever the set of keys changes (sync connections resend them to nodes).
    keys_changed: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever a session ends here, and on every periodic key reload (for sessions
    /// ended at another replica): sync connections then send their node the ended sessions.
    sessions_ended: tokio::sync::watch::Sender<u64>,
    last_reload: std::sync::Mutex<Option<Instant>>,
    pub throttle: throttle::Throttle,
    /// Token lifetimes, session starts and expiries read this clock.
    clock: SharedClock,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A random secret of 32 bytes, hex (refresh and invitation tokens).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

impl AuthState {
    /// State with no keys yet; [`AuthState::load_keys`] fills them in.
    pub fn new(mut config: AuthConfig, clock: SharedClock) -> AuthState {
        jwt::install_provider();
        config.access_ttl_secs = config.access_ttl_secs.clamp(1, jwt::MAX_ACCESS_TTL_SECS);
        AuthState {
            throttle: throttle::Throttle::new(config.limits),
            config,
            keys: RwLock::new(KeySet::default()),
            keys_changed: tokio::sync::watch::channel(0).0,
            sessions_ended: tokio::sync::watch::channel(0).0,
            last_reload: std::sync::Mutex::new(None),
            clock,
        }
    }

    /// Now, in Unix milliseconds, by the clock this state reads.
    pub fn now_ms(&self) -> i64 {
        clock_ms(&*self.clock)
    }

    /// Now, in Unix seconds (the unit of a token's `iat` and `exp`).
    fn now_secs(&self) -> u64 {
        self.clock.now().as_u64() / 1000
    }

    /// Reads the signing keys; on a database with none, makes the first one.
    /// (Two replicas starting at once may each add one: both then verify, the newer signs.)
    pub async fn load_keys(&self, db: &Db) -> anyhow::Result<()> {
        if db.signing_keys().await?.is_empty() {
            let kid = new_signing_key(db, self.now_ms()).await?;
            tracing::info!(%kid, "signing key created");
        }
        self.reload_keys(db).await
    }

    /// Re-reads the signing keys; when the set changed, tells the sync connections.
    pub async fn reload_keys(&self, db: &Db) -> anyhow::Result<()> {
        let rows = db.signing_keys().await?;
        let keys = rows
            .into_iter()
            .map(|r| Key::from_stored(r.kid, &r.private_key, &r.public_key, r.created_at))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            anyhow::bail!("the database holds no signing key");
        }
        let fresh = KeySet::new(keys);
        let changed = {
            let mut held = self.keys.write().unwrap_or_else(|p| p.into_inner());
            let changed = held.kids() != fresh.kids();
            *held = fresh;
            changed
        };
        if changed {
            self.keys_changed.send_modify(|v| *v += 1);
        }
        Ok(())
    }

    /// Changes whenever the set of keys does.
    pub fn keys_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.keys_changed.subscribe()
    }

    /// Says that sessions may have ended (sign-out, password change, a reused refresh token).
    pub fn sessions_ended(&self) {
        self.sessions_ended.send_modify(|v| *v += 1);
    }

    /// Changes whenever sessions may have ended.
    pub fn sessions_ended_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.sessions_ended.subscribe()
    }

    /// Since when an ended session may still have an unexpired access token (Unix ms).
    pub fn ended_sessions_since(&self, now_ms: i64) -> i64 {
        now_ms - ms(self.config.access_ttl_secs)
    }

    /// When the last access token of a session ended at `ended_ms` expires (Unix seconds).
    pub fn ended_session_until(&self, ended_ms: i64) -> u64 {
        u64::try_from(ended_ms / 1000).unwrap_or(0) + self.config.access_ttl_secs + 1
    }

    /// The JWKS document: every current public key.
    pub fn jwks(&self) -> serde_json::Value {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).jwks()
    }

    /// Signs an access token for `user_id` in session `family`.
    pub fn mint(
        &self,
        user_id: &str,
        kind: &str,
        family: &str,
        grants: StaffGrants,
    ) -> anyhow::Result<String> {
        let iat = self.now_secs();
        let claims = Claims {
            iss: self.config.issuer.clone(),
            aud: jwt::AUDIENCE.into(),
            sub: user_id.into(),
            exp: iat + self.config.access_ttl_secs,
            iat,
            jti: uuid::Uuid::now_v7().to_string(),
            sid: family.into(),
            kind: kind.into(),
            stores: grants.stores,
            name: grants.name,
        };
        Ok(self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .sign(&claims)?)
    }

    /// Checks an access token's signature and claims (not yet its session: see `extract`).
    pub async fn verify(&self, db: &Db, token: &str) -> Result<Claims, TokenError> {
        let kid = jwt::kid_of(token)?;
        let verified = {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            keys.get(&kid)
                .map(|k| jwt::verify_at(k, token, &self.config.issuer, self.now_secs()))
        };
        if let Some(r) = verified {
            return r;
        }
        // Maybe another replica made a key since we last looked.
        let due = {
            let mut last = self.last_reload.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= KEY_RELOAD_EVERY);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due && let Err(e) = self.reload_keys(db).await {
            tracing::warn!(error = %e, "could not reload signing keys");
        }
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        match keys.get(&kid) {
            Some(k) => jwt::verify_at(k, token, &self.config.issuer, self.now_secs()),
            None => Err(TokenError::UnknownKey),
        }
    }

    /// Starts a session for a user: a new refresh-token family and an access token.
    pub async fn start_session(&self, db: &Db, user: &UserRow) -> anyhow::Result<TokenPair> {
        let family = uuid::Uuid::now_v7().to_string();
        let refresh = new_secret();
        let now = self.now_ms();
        db.insert_refresh(
            &token_hash(&refresh),
            &user.id,
            &family,
            now,
            now + ms(self.config.refresh_ttl_secs),
        )
        .await?;
        self.pair(db, user, &family, refresh).await
    }

    async fn pair(
        &self,
        db: &Db,
        user: &UserRow,
        family: &str,
        refresh: String,
    ) -> anyhow::Result<TokenPair> {
        let grants = StaffGrants::of(db, user).await?;
        Ok(TokenPair {
            access_token: self.mint(&user.id, &user.kind, family, grants)?,
            token_type: "Bearer".into(),
            expires_in: self.config.access_ttl_secs,
            refresh_token: refresh,
            refresh_expires_in: self.config.refresh_ttl_secs,
        })
    }

    /// Trades a refresh token for a new pair; the old token is spent. Presenting
    /// a spent token again revokes its whole session (it was copied).
    pub async fn rotate(&self, db: &Db, refresh: &str) -> Result<TokenPair, RefreshError> {
        let old = token_hash(refresh);
        let row: RefreshRow = db
            .refresh_token(&old)
            .await
            .map_err(anyhow::Error::from)?
            .ok_or(RefreshError::Invalid)?;
        let now = self.now_ms();
        if row.replaced {
            db.revoke_family(&row.family_id, now)
                .await
                .map_err(anyhow::Error::from)?;
            self.sessions_ended();
            tracing::warn!(user = %row.user_id, family = %row.family_id, "refresh token reused: session revoked");
            return Err(RefreshError::Reused);
        }
        if row.revoked || row.expires_at <= now {
            return Err(RefreshError::Invalid);
        }
        let user = db
            .user_by_id(&row.user_id)
            .await
            .map_err(anyhow::Error::from)?
            .ok_or(RefreshError::Invalid)?;
        let fresh = new_secret();
        let rotated = db
            .rotate_refresh(
                &old,
                &token_hash(&fresh),
                &row,
                now,
                now + ms(self.config.refresh_ttl_secs),
            )
            .await
            .map_err(anyhow::Error::from)?;
        if !rotated {
            // Spent by a concurrent request between our read and our write: the same copy, twice.
            db.revoke_family(&row.family_id, now)
                .await
                .map_err(anyhow::Error::from)?;
            self.sessions_ended();
            return Err(RefreshError::Reused);
        }
        Ok(self.pair(db, &user, &row.family_id, fresh).await?)
    }
}

async fn new_signing_key(db: &Db, now_ms: i64) -> anyhow::Result<String> {
    let (private_key, public_key) = jwt::generate_key()?;
    let kid = uuid::Uuid::now_v7().simple().to_string();
    db.insert_signing_key(&KeyRow {
        kid: kid.clone(),
        private_key,
        public_key,
        created_at: now_ms,
    })
    .await?;
    Ok(kid)
}

/// Rotation, step one: a new key that signs from now on (`now_ms`), on every
/// replica within its `key_reload_secs`. The old keys still verify the tokens
/// they signed. Returns the new key's id.
pub async fn rotate_signing_key(db: &Db, now_ms: i64) -> anyhow::Result<String> {
    new_signing_key(db, now_ms).await
}

/// Which of the unretired keys `(kid, created_at)` signs: the newest (as
/// [`KeySet::new`] orders them).
pub fn signer<'a>(live: impl Iterator<Item = (&'a str, i64)>) -> Option<&'a str> {
    live.max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)))
        .map(|(kid, _)| kid)
}

/// Why a key was not retired.
#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error("no unretired signing key has that id")]
    Unknown,
    #[error("that key is the newest, so it signs: rotate first, then retire it")]
    Signing,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Rotation, step two: tokens signed with `kid` stop verifying (at the hub
/// and, once they reconnect or are told, at the nodes). Retire a key once the
/// rotation has reached every replica and its tokens have expired (15 min).
pub async fn retire_signing_key(db: &Db, kid: &str, now_ms: i64) -> Result<(), RetireError> {
    let live = db.signing_keys().await?;
    if signer(live.iter().map(|k| (k.kid.as_str(), k.created_at))) == Some(kid) {
        return Err(RetireError::Signing);
    }
    if !live.iter().any(|k| k.kid == kid) {
        return Err(RetireError::Unknown);
    }
    if db.retire_signing_key(kid, now_ms).await? {
        Ok(())
    } else {
        Err(RetireError::Unknown)
    }
}

/// Re-reads the keys every `key_reload_secs` until the hub shuts down.
pub async fn reload_keys_periodically(hub: std::sync::Arc<crate::hub::Hub>) {
    let period = Duration::from_secs(hub.auth.config.key_reload_secs.max(1));
    hub.every(period, || reload_logged(&hub)).await;
}

async fn reload_logged(hub: &crate::hub::Hub) {
    if let Err(e) = hub.auth.reload_keys(&hub.db).await {
        tracing::warn!(error = %e, "could not re-read the signing keys");
    }
    // Sessions ended at another replica reach this one's nodes now.
    hub.auth.sessions_ended();
}

/// What a staff member's access token says about them beyond who they are:
/// their name and their role in each store, so a store node can authorise the
/// token offline. Empty for customers and admins.
#[derive(Debug, Default)]
pub struct StaffGrants {
    pub name: Option<String>,
    pub stores: BTreeMap<String, Role>,
}

/// More stores than this and a token would outgrow request headers: it then
/// names none, and such a user signs in at a store's node with their PIN.
const MAX_STORES_IN_TOKEN: usize = 100;

impl StaffGrants {
    pub async fn of(db: &Db, user: &UserRow) -> anyhow::Result<StaffGrants> {
        if user.kind != "staff" {
            return Ok(StaffGrants::default());
        }
        let mut stores: BTreeMap<String, Role> = BTreeMap::new();
        for (store, role) in db.store_grants(&user.id).await? {
            let Some(role) = Role::parse(&role) else {
                continue;
            };
            // Several memberships reach the same store: the one allowing most wins.
            let held = stores.entry(store).or_insert(role);
            if role.permissions().len() > held.permissions().len() {
                *held = role;
            }
        }
        if stores.len() > MAX_STORES_IN_TOKEN {
            tracing::warn!(user = %user.id, stores = stores.len(), "too many stores to name in an access token; naming none");
            stores.clear();
        }
        Ok(StaffGrants {
            name: Some(user.name.clone()),
            stores,
        })
    }
}

/// An email address as accounts store it: trimmed and lower-cased, so that
/// uniqueness is case-insensitive. `None` when it does not look like one
/// (3 to 254 characters, one `@`, a local part of at most 64, a dotted domain,
/// no spaces or control characters).
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let n = email.chars().count();
    if !(3..=254).contains(&n) || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && !domain.contains("..")
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-']);
    if local.is_empty() || local.chars().count() > 64 || !domain_ok {
        return None;
    }
    Some(email)
}

/// A person's name on an account: 1 to 100 characters once trimmed.
pub fn normalize_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    let n = name.chars().count();
    ((1..=100).contains(&n) && !name.chars().any(char::is_control)).then(|| name.to_owned())
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewUserError {
    #[error("that is not an email address")]
    InvalidEmail,
    #[error("a name is 1 to 100 characters")]
    InvalidName,
    #[error(transparent)]
    Policy(#[from] password::PolicyError),
    #[error("an account with this email exists")]
    EmailTaken,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Admits as many Argon2 computations at once as the machine has cores. Each
/// holds 19 MiB and a core for ~50 ms, so more at once would only add memory
/// (a burst of forty sign-ins took a node from 74 MB to 837 MB RSS) without
/// finishing any sooner; the rest wait their turn.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Runs one Argon2 computation on a blocking thread once [`HASHING`] admits it.
pub(crate) async fn bounded_hashing<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = HASHING.acquire().await?;
    Ok(tokio::task::spawn_blocking(f).await?)
}

/// Hashes a password off the async runtime.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    Ok(bounded_hashing(move || password::hash(&password)).await??)
}

/// Checks a password against a stored hash off the async runtime. With no
/// stored hash (an unknown email) it checks against a dummy one, so the
/// answer takes as long, and is `None`.
pub async fn verify_password(
    password: String,
    stored: Option<String>,
) -> anyhow::Result<Option<password::Verified>> {
    bounded_hashing(move || match stored {
        Some(stored) => password::verify(&password, &stored),
        None => password::verify(&password, password::dummy_hash()).and(None),
    })
    .await
}

/// A checked, hashed user row, ready to insert (`kind`: customer, staff or admin).
pub async fn new_user_row(
    email: &str,
    password: &str,
    name: &str,
    kind: extract::Kind,
    now: i64,
) -> Result<crate::db::UserRow, NewUserError> {
    let email = normalize_email(email).ok_or(NewUserError::InvalidEmail)?;
    let name = normalize_name(name).ok_or(NewUserError::InvalidName)?;
    password::check_policy(password, &[&email, &name])?;
    let password_hash = hash_password(password.to_owned()).await?;
    Ok(crate::db::UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        password_hash,
        kind: kind.as_str().into(),
        name,
        created_at: now,
        password_changed_at: now,
    })
}

/// Creates an account, made at `now` (Unix ms).
pub async fn create_user(
    db: &Db,
    email: &str,
    password: &str,
    name: &str,
    kind: extract::Kind,
    now: i64,
) -> Result<crate::db::UserRow, NewUserError> {
    let row = new_user_row(email, password, name, kind, now).await?;
    if !db.insert_user(&row).await.map_err(anyhow::Error::from)? {
        return Err(NewUserError::EmailTaken);
    }
    tracing::info!(user = %row.id, kind = %row.kind, "account created");
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").as_deref(),
            Some("ada@example.com")
        );
        for bad in [
            "",
            "a",
            "@x.io",
            "ada@",
            "ada@localhost",
            "a b@x.io",
            "ada@x..io",
            "a@b@c.io",
            "ada@.x.io",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
        assert_eq!(normalize_name("  Ada "), Some("Ada".into()));
        assert_eq!(normalize_name("   "), None);
        assert_eq!(normalize_name(&"x".repeat(101)), None);
    }

    proptest::proptest! {
        #[test]
        fn email_normalisation_never_panics_and_is_stable(s in "\\PC{0,300}") {
            if let Some(e) = normalize_email(&s) {
                proptest::prop_assert_eq!(normalize_email(&e), Some(e.clone()));
                proptest::prop_assert!(e.contains('@'));
            }
        }
    }
}

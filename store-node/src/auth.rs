//! Staff sign-in and who may do what.
//!
//! Staff sign in with their id and a PIN; the node keeps only an Argon2id hash
//! of each PIN. A sign-in returns a random session token (only its SHA-256 is
//! stored) that expires after `session_ttl_secs`. Five wrong PINs in five
//! minutes lock that staff member's sign-in for a minute; attempts are counted
//! before their PIN is checked, and only [`CONCURRENT_PIN_CHECKS`] checks run
//! at once (see [`Lockout`]).
//!
//! Handlers state the permission they need in their signature:
//! `Auth<perm::MenuEdit>` rejects a missing or expired session with 401 and a
//! role without the permission with 403, before the handler runs.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::roles::{Permission, Pin, Role};
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use crate::state::AppState;
use api_kit::error::ApiError;
use domain::clock::{Clock, Millis};

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Session {
    pub staff_id: String,
    pub name: String,
    pub role: Role,
    pub expires_ms: u64,
}

#[derive(Default)]
pub struct SessionCache(Mutex<HashMap<String, Session>>);

/// Sign-in attempts per staff member, counted *before* the PIN is checked.
///
/// An attempt takes a reservation before its Argon2 check runs and turns it
/// into a failure unless the PIN was right, so forty parallel guesses cannot
/// all pass the lockout check while the first checks are still hashing: at
/// most [`MAX_FAILURES`] checks per staff member are ever in flight or failed
/// within the window, and every later one is answered 429 at once.
#[derive(Default)]
pub struct Lockout(Mutex<HashMap<String, Attempts>>);

#[derive(Debug, Clone, Copy, Default)]
struct Attempts {
    /// Wrong PINs since `first_ms`.
    failed: u32,
    /// Checks still running.
    in_flight: u32,
    first_ms: Millis,
    locked_until_ms: Millis,
}

/// Five wrong PINs lock a staff member out: a 4-digit PIN then takes 2,000
/// minutes of guessing on average, while a person who mistypes twice is not stopped.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(5 * 60);
const LOCKOUT: Duration = Duration::from_secs(60);

/// Argon2 checks that may run at once. Each holds 19 MiB (`m = 19456 KiB`)
/// and a blocking thread for about 50 ms, so two bound the node's hashing
/// memory at ~40 MiB and still sign in ~40 staff a second, far more than a
/// store's tills need.
pub const CONCURRENT_PIN_CHECKS: usize = 2;

/// One reserved sign-in attempt: a failure unless [`Attempt::succeeded`] is
/// called (also when the request is dropped mid-check).
struct Attempt<'a> {
    lockout: &'a Lockout,
    staff_id: &'a str,
    /// The node's clock, read again when the attempt ends (the lockout starts then).
    clock: &'a dyn Clock,
    ok: bool,
}

impl Lockout {
    /// Reserves an attempt for `staff_id`, or `None` when it is locked out or
    /// the wrong PINs plus the checks still running already reach the limit.
    fn reserve<'a>(&'a self, staff_id: &'a str, clock: &'a dyn Clock) -> Option<Attempt<'a>> {
        let now = clock.now();
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let a = m.entry(staff_id.to_owned()).or_default();
        if now < a.locked_until_ms || a.failed + a.in_flight >= MAX_FAILURES {
            return None;
        }
        if now > a.first_ms.saturating_add(FAILURE_WINDOW) {
            a.failed = 0;
            a.first_ms = now;
        }
        a.in_flight += 1;
        Some(Attempt {
            lockout: self,
            staff_id,
            clock,
            ok: false,
        })
    }
}

impl Attempt<'_> {
    /// The PIN was right: the staff member's wrong PINs are forgotten.
    fn succeeded(mut self) {
        self.ok = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let now = self.clock.now();
        let mut m = self.lockout.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(a) = m.get_mut(self.staff_id) else {
            return;
        };
        a.in_flight = a.in_flight.saturating_sub(1);
        if self.ok {
            a.failed = 0;
        } else {
            a.failed += 1;
            if a.failed >= MAX_FAILURES {
                a.locked_until_ms = now.saturating_add(LOCKOUT);
                a.failed = 0;
                a.first_ms = now;
            }
        }
        if a.failed == 0 && a.in_flight == 0 && now >= a.locked_until_ms {
            m.remove(self.staff_id);
        }
    }
}

pub fn hash_pin(pin: &Pin) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow::anyhow!("making a salt: {e}"))?;
    Argon2::default()
        .hash_password(pin.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing PIN: {e}"))
}

fn verify_pin(pin: &Pin, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(pin.expose().as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks the PIN and opens a session; returns the token and the session.
pub async fn sign_in(
    state: &AppState,
    staff_id: &str,
    pin: &str,
    ttl_secs: Option<u64>,
) -> Result<(String, Session), ApiError> {
    let invalid =
        || ApiError::unauthorized("invalid_credentials", "unknown staff member or wrong PIN");
    let now = state.now().as_u64();
    let id = staff_id.to_owned();
    let row: Option<(String, String, String)> = state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT name, role, pin_hash FROM staff WHERE id = ?1 AND active = 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
        .await?;
    // An unknown id costs no hash, so it is not counted (and cannot grow the lockout table).
    let Some((name, role, hash)) = row else {
        return Err(invalid());
    };
    let attempt = state
        .lockout
        .reserve(staff_id, &*state.clock)
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many wrong PINs: wait a minute or ask a manager",
            )
        })?;
    // A malformed PIN is a wrong PIN: it counts towards the lockout like any other.
    let Ok(pin) = Pin::parse(pin) else {
        return Err(invalid());
    };
    let ok = {
        let _permit = state
            .pin_checks
            .acquire()
            .await
            .map_err(|_| ApiError::internal("the PIN check gate is closed"))?;
        tokio::task::spawn_blocking(move || verify_pin(&pin, &hash))
            .await
            .unwrap_or(false)
    };
    if !ok {
        return Err(invalid());
    }
    attempt.succeeded();
    let role = Role::parse(&role).ok_or_else(|| ApiError::internal("stored role is unknown"))?;
    let token = hex::encode(rand::random::<[u8; 32]>());
    let session = Session {
        staff_id: staff_id.to_owned(),
        name,
        role,
        expires_ms: now
            + ttl_secs
                .unwrap_or(u64::MAX)
                .min(state.config.session_ttl_secs)
                .saturating_mul(1000),
    };
    let th = token_hash(&token);
    let (sid, exp, th2) = (session.staff_id.clone(), session.expires_ms, th.clone());
    state
        .db
        .write(move |ctx| -> Result<(), ApiError> {
            ctx.conn.execute(
                "INSERT INTO sessions (token_hash, staff_id, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![th2, sid, now as i64, exp as i64],
            )?;
            // Sweep sessions that expired a day ago, so the table stays small.
            ctx.conn.execute(
                "DELETE FROM sessions WHERE expires_ms < ?1",
                [(now as i64) - 86_400_000],
            )?;
            Ok(())
        })
        .await?;
    state.sessions.insert(th, session.clone());
    Ok((token, session))
}

pub async fn sign_out(state: &AppState, token: &str) -> Result<(), ApiError> {
    let th = token_hash(token);
    state.sessions.remove(&th);
    state
        .db
        .write(move |ctx| -> Result<(), ApiError> {
            ctx.conn
                .execute("DELETE FROM sessions WHERE token_hash = ?1", [th])?;
            Ok(())
        })
        .await
}

impl SessionCache {
    fn get(&self, th: &str) -> Option<Session> {
        self.0.lock().ok()?.get(th).cloned()
    }
    fn insert(&self, th: String, s: Session) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(th, s);
        }
    }
    fn remove(&self, th: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(th);
        }
    }
}

/// Finds the session for a bearer token: the cache, then the database (sessions survive
/// restarts); a hub-signed access token is checked against the hub's keys instead.
pub async fn session_for(state: &AppState, token: &str) -> Result<Session, ApiError> {
    if crate::hub_keys::is_hub_token(token) {
        return crate::hub_keys::session_for(state, token);
    }
    let th = token_hash(token);
    let session = match state.sessions.get(&th) {
        Some(s) => Some(s),
        None => {
            let th2 = th.clone();
            let found = state
                .db
                .read(move |c| {
                    c.query_row(
                        "SELECT s.staff_id, st.name, st.role, s.expires_ms FROM sessions s
                         JOIN staff st ON st.id = s.staff_id
                         WHERE s.token_hash = ?1 AND st.active = 1",
                        [th2],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, i64>(3)?,
                            ))
                        },
                    )
                    .optional()
                })
                .await?;
            found.and_then(|(staff_id, name, role, exp)| {
                let s = Session {
                    staff_id,
                    name,
                    role: Role::parse(&role)?,
                    expires_ms: exp as u64,
                };
                state.sessions.insert(th.clone(), s.clone());
                Some(s)
            })
        }
    };
    let s = session.ok_or_else(|| {
        ApiError::unauthorized(
            "unauthenticated",
            "sign in first: the session token is unknown",
        )
    })?;
    if state.now().as_u64() >= s.expires_ms {
        state.sessions.remove(&th);
        return Err(ApiError::unauthorized(
            "session_expired",
            "your session has expired: sign in again",
        ));
    }
    Ok(s)
}

/// The bearer token from `Authorization`, or from `?token=` (browsers cannot set headers on WebSockets).
pub fn bearer(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| v.to_owned())
    })
}

/// A permission a handler needs, as a type.
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// Permission marker types for `Auth<...>`.
pub mod perm {
    use super::{Need, Permission};
    macro_rules! markers {
        ($($name:ident),* $(,)?) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl Need for $name { const PERMISSION: Permission = Permission::$name; }
        )*};
    }
    markers!(
        MenuRead,
        MenuEdit,
        MenuSoldOut,
        OrderCreate,
        OrderRead,
        OrderProgress,
        OrderCancel,
        OrderVoid,
        OrderRefund,
        OrderDiscount,
        PaymentTake,
        StaffManage,
        EventsSubscribe,
        DeviceRead,
        DeviceManage,
    );
}

/// An authenticated request whose role has permission `P`.
pub struct Auth<P> {
    pub session: Session,
    pub token: String,
    _need: PhantomData<P>,
}

impl<P: Need> FromRequestParts<Arc<AppState>> for Auth<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "sign in first: send Authorization: Bearer <token>",
            )
        })?;
        let session = session_for(state, &token).await?;
        if !session.role.can(P::PERMISSION) {
            return Err(ApiError::forbidden(format!(
                "a {} may not do this ({:?} is needed)",
                session.role.as_str(),
                P::PERMISSION
            )));
        }
        Ok(Auth {
            session,
            token,
            _need: PhantomData,
        })
    }
}

impl<P> Auth<P> {
    /// A second, runtime-chosen check (for example the permission of a given transition).
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.session.role.can(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a {} may not do this ({p:?} is needed)",
                self.session.role.as_str()
            )))
        }
    }
}

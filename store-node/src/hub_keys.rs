//! Staff signed in at the hub work at the till too, with the hub unreachable.
//!
//! The hub sends its token issuer and public keys (a JWKS) on every sync
//! connection. The node keeps the last good set in its database (`meta`,
//! key `hub_keys`), so it survives restarts while the hub is down, and
//! verifies hub-signed access tokens against it: EdDSA signature, issuer,
//! audience, expiry. The token names the stores the user works at and their
//! role in each; the node takes the role for its own store.
//!
//! The hub also tells the node which staff sessions ended (sign-out, password
//! change, removal from the organisation) while one of their access tokens may
//! still be unexpired: the node refuses those tokens from then on, and keeps
//! the list (`meta`, key `hub_ended_sessions`) until the last of them expires.
//!
//! What the node cannot know offline: a session that ended while the link was
//! down, or a role changed at the hub. Access tokens last at most 15 minutes,
//! which bounds both.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use access_token::{Claims, PublicKeys, TokenError};
use rusqlite::OptionalExtension;
use serde_json::{Value, json};
use sync::wire::EndedSession;

use crate::auth::Session;
use api_kit::error::ApiError;

use crate::db::WriteError;
use crate::state::AppState;

const META_KEY: &str = "hub_keys";
const ENDED_KEY: &str = "hub_ended_sessions";

/// The hub's keys as this node last received them, with their stored form,
/// and the hub sessions that ended.
#[derive(Default)]
pub struct HubKeys {
    keys: RwLock<Option<(String, PublicKeys)>>,
    /// Ended session id -> when its last access token expires (Unix seconds).
    ended: Mutex<HashMap<String, u64>>,
}

impl HubKeys {
    /// The set and ended sessions stored by an earlier run, if any (an unusable
    /// stored value is logged and skipped).
    pub fn load(conn: &rusqlite::Connection) -> rusqlite::Result<HubKeys> {
        let meta = |key: &str| -> rusqlite::Result<Option<String>> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        };
        let keys = meta(META_KEY)?.and_then(|s| match parse_stored(&s) {
            Ok(k) => Some((s, k)),
            Err(e) => {
                tracing::warn!(error = %e, "the stored hub keys are unusable; waiting for the hub's");
                None
            }
        });
        let ended = meta(ENDED_KEY)?
            .and_then(|s| match serde_json::from_str::<HashMap<String, u64>>(&s) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(error = %e, "the stored ended hub sessions are unusable");
                    None
                }
            })
            .unwrap_or_default();
        Ok(HubKeys {
            keys: RwLock::new(keys),
            ended: Mutex::new(ended),
        })
    }

    fn get(&self) -> Option<PublicKeys> {
        let held = self.keys.read().unwrap_or_else(|p| p.into_inner());
        held.as_ref().map(|(_, k)| k.clone())
    }

    fn holds(&self, stored: &str) -> bool {
        let held = self.keys.read().unwrap_or_else(|p| p.into_inner());
        held.as_ref().is_some_and(|(s, _)| s == stored)
    }

    fn set(&self, stored: String, keys: PublicKeys) {
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Some((stored, keys));
    }

    fn has_ended(&self, sid: &str) -> bool {
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        ended.contains_key(sid)
    }

    /// Adds what the hub sent to what we hold and drops what has expired by
    /// `now` (Unix seconds); the new list to store when it changed.
    fn merge_ended(&self, sessions: Vec<EndedSession>, now: u64) -> Option<String> {
        let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        let before = ended.clone();
        for s in sessions {
            let until = ended.entry(s.sid).or_insert(s.until);
            *until = (*until).max(s.until);
        }
        ended.retain(|_, until| *until > now);
        (*ended != before).then(|| serde_json::to_string(&*ended).unwrap_or_default())
    }
}

fn parse_stored(s: &str) -> Result<PublicKeys, String> {
    let v: Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    let issuer = v["issuer"].as_str().unwrap_or_default();
    PublicKeys::from_jwks(issuer, &v["jwks"]).map_err(|e| e.to_string())
}

/// Keeps the keys the hub just sent: checked first, stored durably, then used.
/// A set that does not parse is refused (and logged); the previous one stays.
/// The set this node already holds (every reconnect sends it again) is not
/// written again.
pub async fn accept(state: &AppState, issuer: String, jwks: Value) -> anyhow::Result<()> {
    let value = json!({ "issuer": issuer, "jwks": jwks }).to_string();
    if state.hub_keys.holds(&value) {
        return Ok(());
    }
    let keys = PublicKeys::from_jwks(&issuer, &jwks)
        .map_err(|e| anyhow::anyhow!("the hub sent unusable keys: {e}"))?;
    store_meta(state, META_KEY, value.clone())
        .await
        .map_err(|e| anyhow::anyhow!("storing the hub's keys: {e}"))?;
    state.hub_keys.set(value, keys);
    Ok(())
}

/// Takes the hub's list of ended sessions: their tokens are refused at once,
/// and the list is stored so a restart while the hub is down keeps refusing them.
pub async fn accept_ended(state: &AppState, sessions: Vec<EndedSession>) -> anyhow::Result<()> {
    let now = state.now().as_u64() / 1000;
    let Some(stored) = state.hub_keys.merge_ended(sessions, now) else {
        return Ok(());
    };
    store_meta(state, ENDED_KEY, stored)
        .await
        .map_err(|e| anyhow::anyhow!("storing the ended hub sessions: {e}"))
}

/// Writes one `meta` entry durably.
async fn store_meta(state: &AppState, key: &'static str, value: String) -> Result<(), WriteError> {
    state
        .db
        .write(move |ctx| -> Result<(), WriteError> {
            ctx.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, &value],
            )?;
            Ok(())
        })
        .await
}

/// Whether a bearer token is a JWT (three dot-separated parts) rather than a
/// node session token.
pub fn is_hub_token(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// The session a hub-signed staff token gives at this node's store.
pub fn session_for(state: &AppState, token: &str) -> Result<Session, ApiError> {
    let keys = state.hub_keys.get().ok_or_else(|| {
        ApiError::unauthorized(
            "bad_token",
            "this node has not yet received the hub's keys, so it cannot check hub sign-ins: sign in with your PIN",
        )
    })?;
    let now_secs = state.now().as_u64() / 1000;
    let claims: Claims = keys.verify_at(token, now_secs).map_err(|e| {
        let message = match &e {
            TokenError::Expired => {
                "the hub access token has expired: refresh it at the hub or sign in with your PIN"
                    .to_owned()
            }
            other => other.to_string(),
        };
        ApiError::unauthorized(e.code(), message)
    })?;
    if state.hub_keys.has_ended(&claims.sid) {
        return Err(ApiError::unauthorized(
            "token_revoked",
            "this hub session has ended (signed out, password changed, or removed from the team): sign in again",
        ));
    }
    if claims.kind != "staff" {
        return Err(ApiError::forbidden(
            "only staff accounts can work at a store's tills",
        ));
    }
    let store = &state.config.store.id;
    let role = *claims.stores.get(store).ok_or_else(|| {
        ApiError::forbidden(format!(
            "this hub account has no role at store {store} (as of when its token was signed)"
        ))
    })?;
    Ok(Session {
        staff_id: format!("hub:{}", claims.sub),
        name: claims.name.unwrap_or_else(|| claims.sub.clone()),
        role,
        expires_ms: claims.exp.saturating_mul(1000),
    })
}

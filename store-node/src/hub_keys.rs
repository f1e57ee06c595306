//! Staff signed in at the hub work at the till too, with the hub unreachable.
//!
//! The hub sends its token issuer and public keys (a JWKS) on every sync
//! connection. The node keeps the last good set in its database (`meta`,
//! key `hub_keys`), so it survives restarts while the hub is down, and
//! verifies hub-signed access tokens against it: EdDSA signature, issuer,
//! audience, expiry. The token names the stores the user works at and their
//! role in each; the node takes the role for its own store.
//!
//! What the node cannot know offline: that the hub revoked the session
//! (logout, password change) or changed the user's role. Access tokens last at
//! most 15 minutes, which bounds both.

use std::sync::RwLock;

use access_token::{Claims, PublicKeys, TokenError};
use rusqlite::OptionalExtension;
use serde_json::{Value, json};

use crate::auth::Session;
use crate::http::error::ApiError;
use crate::state::AppState;

const META_KEY: &str = "hub_keys";

/// The hub's keys as this node last received them, with their stored form.
#[derive(Default)]
pub struct HubKeys(RwLock<Option<(String, PublicKeys)>>);

impl HubKeys {
    /// The set stored by an earlier run, if any (an unusable stored set is logged and skipped).
    pub fn load(conn: &rusqlite::Connection) -> rusqlite::Result<HubKeys> {
        let stored: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [META_KEY], |r| {
                r.get(0)
            })
            .optional()?;
        let keys = stored.and_then(|s| match parse_stored(&s) {
            Ok(k) => Some((s, k)),
            Err(e) => {
                tracing::warn!(error = %e, "the stored hub keys are unusable; waiting for the hub's");
                None
            }
        });
        Ok(HubKeys(RwLock::new(keys)))
    }

    fn get(&self) -> Option<PublicKeys> {
        let held = self.0.read().unwrap_or_else(|p| p.into_inner());
        held.as_ref().map(|(_, k)| k.clone())
    }

    fn holds(&self, stored: &str) -> bool {
        let held = self.0.read().unwrap_or_else(|p| p.into_inner());
        held.as_ref().is_some_and(|(s, _)| s == stored)
    }

    fn set(&self, stored: String, keys: PublicKeys) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some((stored, keys));
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
    let stored = value.clone();
    state
        .db
        .write(move |ctx| -> Result<(), ApiError> {
            ctx.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [META_KEY, &stored],
            )?;
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("storing the hub's keys: {}", e.message))?;
    state.hub_keys.set(value, keys);
    Ok(())
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
    let claims: Claims = keys.verify(token).map_err(|e| {
        let message = match &e {
            TokenError::Expired => {
                "the hub access token has expired: refresh it at the hub or sign in with your PIN"
                    .to_owned()
            }
            other => other.to_string(),
        };
        ApiError::unauthorized(e.code(), message)
    })?;
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

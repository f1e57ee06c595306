//! Pairing codes and node-key enrollment (issue 16, `docs/enrollment.md`).
//!
//! An owner or manager (`StoreAccess<perm::DeviceManage>`: both roles hold it, `NodeEnroll` is
//! the owner's alone) or a platform admin makes a code for a store; a new store node sends it with
//! its own Ed25519 public key and a proof that it holds the key (`POST /api/v1/nodes/enroll`, no
//! account); from then on the node signs its sync connection with that key (`node_sync`).
//!
//! Codes live [`CODE_TTL_MS`] (10 minutes) and work once; the hub keeps only their SHA-256.
//! Guessing is bounded per client address ([`EnrollGuard`]: 10 failures, then one a minute) and
//! overall (600 failures a minute from everyone): against 31^8 ≈ 8.5 * 10^11 codes, a guesser
//! with a thousand addresses finds one live code in about 10^5 years.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use node_identity::{PairingCode, PublicKey};
use sync::doc::DocKind;

use super::auth::{AuthFail, AuthResult};
use super::error::{ApiError, ApiResult, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path, parse_id};
use crate::auth::extract::ClientIp;
use crate::auth::throttle::Throttled;
use crate::auth::{PlatformAdmin, StoreAccess, perm};
use crate::db::nodes::{Enrollment, NewNode, NodeRow, PairingCodeRow};
use crate::hub::Hub;
use crate::online::presence;
pub use api_types::hub::nodes::{
    EnrollRequest, Enrolled, NewPairingCode, NodeRevoked, NodeView, PairingCodeIssued,
    PairingCodeList, PairingCodeView,
};

/// How long a pairing code works.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// The one answer for an unknown, expired, used or revoked code: it tells an installer what to do.
pub const INVALID_CODE: &str = "This code is not valid. Codes last 10 minutes and work once: ask for a new one in the dashboard under Devices.";

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route(
            "/api/v1/stores/{id}/pairing-codes",
            post(create_code).get(list_codes),
        )
        .route(
            "/api/v1/stores/{id}/pairing-codes/{code_id}/revoke",
            post(revoke_code),
        )
        .route(
            "/api/v1/admin/stores/{id}/pairing-codes",
            post(admin_create_code),
        )
        .route("/api/v1/nodes/enroll", post(enroll))
        .route(
            "/api/v1/stores/{id}/nodes/{node_id}/revoke",
            post(revoke_node),
        )
}

/// The key a key-authenticated node's sync connections and presence are registered under
/// (node tokens use their hash; this cannot be one).
pub fn conn_key(node_id: &str) -> String {
    format!("node:{node_id}")
}

/// Enrollment failures per client address and overall, and the sync headers' nonces seen.
pub struct EnrollGuard {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    total: DefaultDirectRateLimiter,
    /// An address whose budget ran out: refused without looking until then.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    /// `(node_id, nonce)` -> until when (hub ms) it could still be accepted.
    nonces: Mutex<HashMap<(String, String), i64>>,
}

impl std::fmt::Debug for EnrollGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollGuard").finish_non_exhaustive()
    }
}

/// Failures an address may make at once before it is slowed to one a minute.
pub const FAILURES_PER_IP: u32 = 10;
const FAILURES_TOTAL_PER_MINUTE: u32 = 600;
const SWEEP_ABOVE: usize = 10_000;

impl Default for EnrollGuard {
    fn default() -> Self {
        let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        EnrollGuard {
            per_ip: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(nz(1)).allow_burst(nz(FAILURES_PER_IP)),
            ),
            total: DefaultDirectRateLimiter::direct(Quota::per_minute(nz(
                FAILURES_TOTAL_PER_MINUTE,
            ))),
            blocked: Mutex::default(),
            nonces: Mutex::default(),
        }
    }
}

impl EnrollGuard {
    /// Whether `ip` is still serving out a refusal.
    fn check(&self, ip: IpAddr) -> Result<(), Throttled> {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(&ip) {
            Some(until) if *until > Instant::now() => Err(Throttled {
                retry_after: *until - Instant::now(),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failure from `ip`; `Err` when that spent its budget (or everyone's).
    fn failed(&self, ip: IpAddr) -> Result<(), Throttled> {
        if self.per_ip.len() > SWEEP_ABOVE {
            self.per_ip.retain_recent();
        }
        let clock = governor::clock::DefaultClock::default();
        use governor::clock::Clock as _;
        let refused = match self.per_ip.check_key(&ip) {
            Err(n) => Some(n.wait_time_from(clock.now())),
            Ok(()) => self
                .total
                .check()
                .err()
                .map(|n| n.wait_time_from(clock.now())),
        };
        let Some(wait) = refused else {
            return Ok(());
        };
        let wait = wait.max(Duration::from_secs(1));
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        if blocked.len() > SWEEP_ABOVE {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(ip, Instant::now() + wait);
        Err(Throttled { retry_after: wait })
    }

    /// Records a sync header's nonce; false when it was seen (a replay). Entries are kept until
    /// their `ts` is too old to be accepted anyway.
    pub fn fresh_nonce(&self, node_id: &str, nonce: &str, ts_ms: i64, now_ms: i64) -> bool {
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if nonces.len() > 1024 {
            nonces.retain(|_, until| *until >= now_ms);
        }
        let key = (node_id.to_owned(), nonce.to_owned());
        if nonces.contains_key(&key) {
            return false;
        }
        nonces.insert(key, ts_ms + node_identity::MAX_CLOCK_SKEW_MS);
        true
    }
}

fn code_view(hub: &Hub, r: PairingCodeRow) -> PairingCodeView {
    PairingCodeView {
        code_id: r.code_id,
        store_id: r.store_id,
        label: r.label,
        created_by: r.created_by,
        created_by_name: r.created_by_name,
        created_at_ms: r.created_at,
        expires_at_ms: r.expires_at,
        expired: r.expires_at <= hub.now_ms(),
        revoked_at_ms: r.revoked_at,
    }
}

/// A node as listed, with whether its sync connection is open (on any replica).
pub fn node_view(hub: &Hub, r: NodeRow, links: &HashMap<String, presence::LinkState>) -> NodeView {
    let key = conn_key(&r.node_id);
    let online = hub.online.presence.local(&key) || links.get(&key).is_some_and(|l| l.connected);
    NodeView {
        node_id: r.node_id,
        store_id: r.store_id,
        label: r.label,
        public_key: r.public_key,
        ticket_prefix: r.ticket_prefix,
        enrolled_at_ms: r.enrolled_at,
        enrolled_by: r.enrolled_by,
        enrolled_by_name: r.enrolled_by_name,
        online,
        revoked_at_ms: r.revoked_at,
    }
}

/// A store's enrolled nodes as listed.
pub async fn store_node_views(hub: &Hub, store_id: &str) -> ApiResult<Vec<NodeView>> {
    let links = presence::token_links(hub, store_id).await?;
    Ok(hub
        .db
        .store_enrolled_nodes(store_id)
        .await?
        .into_iter()
        .map(|r| node_view(hub, r, &links))
        .collect())
}

fn check_label(label: Option<String>) -> ApiResult<Option<String>> {
    match label.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(l) if l.chars().count() > 100 || l.chars().any(char::is_control) => Err(
            ApiError::unprocessable("invalid_body", "label must be at most 100 characters"),
        ),
        Some(l) => Ok(Some(l.to_owned())),
    }
}

/// Makes a pairing code for a store: `POST /api/v1/stores/{id}/pairing-codes {label?}` -> 201,
/// the code shown once. Owners, managers and platform admins.
#[utoipa::path(post, path = "/api/v1/stores/{id}/pairing-codes", operation_id = "hub_create_pairing_code", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the same code")),
    request_body = NewPairingCode,
    responses((status = 201, body = PairingCodeIssued), WriteErrors),
    security(("bearer" = [])))]
pub async fn create_code(
    access: StoreAccess<perm::DeviceManage>,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<NewPairingCode>,
) -> ApiResult<(StatusCode, Json<PairingCodeIssued>)> {
    let by = access.caller.user_id().unwrap_or("admin-token").to_owned();
    issue_code(&hub, access.store_id, by, body.value).await
}

/// A platform admin makes a pairing code for any store.
#[utoipa::path(post, path = "/api/v1/admin/stores/{id}/pairing-codes", operation_id = "hub_admin_create_pairing_code", tag = "platform",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the same code")),
    request_body = NewPairingCode,
    responses((status = 201, body = PairingCodeIssued), WriteErrors),
    security(("bearer" = [])))]
pub async fn admin_create_code(
    admin: PlatformAdmin,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<NewPairingCode>,
) -> ApiResult<(StatusCode, Json<PairingCodeIssued>)> {
    parse_id(&store_id)?;
    let by = admin.0.user_id().unwrap_or("admin-token").to_owned();
    issue_code(&hub, store_id, by, body.value).await
}

async fn issue_code(
    hub: &Hub,
    store_id: String,
    created_by: String,
    body: NewPairingCode,
) -> ApiResult<(StatusCode, Json<PairingCodeIssued>)> {
    let label = check_label(body.label)?;
    if !hub.db.store_exists(&store_id).await? {
        return Err(ApiError::not_found("store"));
    }
    let code = PairingCode::generate().map_err(ApiError::internal)?;
    let now = hub.now_ms();
    let expires_at = now + CODE_TTL_MS;
    hub.db
        .insert_pairing_code(
            &code.sha256_hex(),
            &code.code_id(),
            &store_id,
            label.as_deref(),
            &created_by,
            now,
            expires_at,
        )
        .await?;
    tracing::info!(store = %store_id, code_id = %code.code_id(), "pairing code made");
    Ok((
        StatusCode::CREATED,
        Json(PairingCodeIssued {
            code_id: code.code_id(),
            code: code.to_string(),
            store_id,
            label,
            expires_at_ms: expires_at,
            created_by,
        }),
    ))
}

/// A store's pairing codes not used yet, with who made them (never the codes themselves).
#[utoipa::path(get, path = "/api/v1/stores/{id}/pairing-codes", operation_id = "hub_list_pairing_codes", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = PairingCodeList), ReadErrors),
    security(("bearer" = [])))]
pub async fn list_codes(
    access: StoreAccess<perm::DeviceManage>,
    State(hub): State<Arc<Hub>>,
) -> ApiResult<Json<PairingCodeList>> {
    let codes = hub
        .db
        .unused_pairing_codes(&access.store_id)
        .await?
        .into_iter()
        .map(|r| code_view(&hub, r))
        .collect();
    Ok(Json(PairingCodeList {
        codes,
        now_ms: hub.now_ms(),
    }))
}

/// Revokes a pairing code: it stops working at once.
#[utoipa::path(post, path = "/api/v1/stores/{id}/pairing-codes/{code_id}/revoke", operation_id = "hub_revoke_pairing_code", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("code_id" = String, Path, description = "The code's id (16 hex digits)"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = PairingCodeView), WriteErrors),
    security(("bearer" = [])))]
pub async fn revoke_code(
    access: StoreAccess<perm::DeviceManage>,
    State(hub): State<Arc<Hub>>,
    Path((_store, code_id)): Path<(String, String)>,
) -> ApiResult<Json<PairingCodeView>> {
    if code_id.len() != 16 || !code_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found("pairing code"));
    }
    let row = hub
        .db
        .revoke_pairing_code(
            &access.store_id,
            &code_id.to_ascii_lowercase(),
            hub.now_ms(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("pairing code"))?;
    tracing::info!(store = %access.store_id, %code_id, "pairing code revoked");
    Ok(Json(code_view(&hub, row)))
}

fn invalid_code() -> ApiError {
    ApiError::unauthorized("invalid_code", INVALID_CODE)
}

/// A store node enrolls with a pairing code and its own key (no account). 201 enrolled; 200 the
/// same key with the same code again (its node); 401 `invalid_code` / `bad_proof`; 409
/// `wrong_store` (the code stays usable); 422 `bad_code` for a malformed code (not counted as a
/// guess); 429 `too_many_attempts` after too many failures from one address.
#[utoipa::path(post, path = "/api/v1/nodes/enroll", operation_id = "hub_enroll_node", tag = "nodes",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = EnrollRequest,
    responses((status = 201, body = Enrolled), (status = 200, body = Enrolled, description = "Already enrolled with this code and key"), WriteErrors))]
pub async fn enroll(
    State(hub): State<Arc<Hub>>,
    ClientIp(ip): ClientIp,
    body: JsonBody<EnrollRequest>,
) -> AuthResult<(StatusCode, Json<Enrolled>)> {
    let body = body.value;
    let code = PairingCode::parse(&body.code)
        .map_err(|e| ApiError::unprocessable("bad_code", e.to_string()))?;
    let key = PublicKey::parse(&body.public_key)
        .map_err(|e| ApiError::unprocessable("bad_public_key", e.to_string()))?;
    let label = check_label(body.label)?;
    if let Some(s) = &body.store_id {
        parse_id(s)?;
    }
    hub.enroll_guard.check(ip)?;
    let fail = |e: ApiError| -> AuthFail {
        match hub.enroll_guard.failed(ip) {
            Ok(()) => AuthFail::Api(e),
            Err(t) => AuthFail::Throttled(t),
        }
    };
    if key.verify_enrollment(&code, &body.proof).is_err() {
        return Err(fail(ApiError::unauthorized(
            "bad_proof",
            "the proof is not this key's signature of the code",
        )));
    }
    let node_id = format!("nd_{}", hex::encode(rand::random::<[u8; 8]>()));
    let public_key = key.to_base64();
    let outcome = hub
        .db
        .enroll(
            &code.sha256_hex(),
            NewNode {
                node_id: &node_id,
                public_key: &public_key,
                label: label.as_deref(),
                store_id: body.store_id.as_deref(),
            },
            hub.now_ms(),
        )
        .await?;
    let (status, row) = match outcome {
        Enrollment::Enrolled(row) => (StatusCode::CREATED, row),
        Enrollment::Again(row) => (StatusCode::OK, row),
        Enrollment::Invalid => return Err(fail(invalid_code())),
        Enrollment::WrongStore => {
            return Err(fail(ApiError::conflict(
                "wrong_store",
                "this code is for another store than the one this store server holds",
            )));
        }
    };
    if status == StatusCode::CREATED {
        tracing::info!(store = %row.store_id, node = %row.node_id, "node enrolled");
    }
    let store_name = hub.db.store_name(&row.store_id).await?.unwrap_or_default();
    let currency = store_currency(&hub, &row.store_id).await;
    Ok((
        status,
        Json(Enrolled {
            node_id: row.node_id,
            store_id: row.store_id,
            store_name,
            currency,
            ticket_prefix: row.ticket_prefix,
            enrolled_at_ms: row.enrolled_at,
        }),
    ))
}

/// The store's menu currency; "USD" before it has a menu.
async fn store_currency(hub: &Hub, store_id: &str) -> String {
    let Ok(store) = hub.store(store_id).await else {
        return "USD".into();
    };
    let g = store.docs.lock().await;
    match g
        .docs
        .get(&DocKind::Catalog)
        .and_then(|d| d.root("currency").ok().flatten())
    {
        Some(serde_json::Value::String(c)) if !c.is_empty() => c,
        _ => "USD".into(),
    }
}

/// Revokes an enrolled node: its sync connections close at once (4401) and it is refused after
/// (401 `node_revoked`).
#[utoipa::path(post, path = "/api/v1/stores/{id}/nodes/{node_id}/revoke", operation_id = "hub_revoke_node", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("node_id" = String, Path, description = "The node's id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses((status = 200, body = NodeRevoked), WriteErrors),
    security(("bearer" = [])))]
pub async fn revoke_node(
    access: StoreAccess<perm::DeviceManage>,
    State(hub): State<Arc<Hub>>,
    Path((_store, node_id)): Path<(String, String)>,
) -> ApiResult<Json<NodeRevoked>> {
    if node_identity::check_node_id(&node_id).is_err() {
        return Err(ApiError::not_found("node"));
    }
    let row = hub
        .db
        .revoke_enrolled_node(&access.store_id, &node_id, hub.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("node"))?;
    let closed = hub.close_token(&conn_key(&node_id));
    hub.announce_revocation(&access.store_id, &conn_key(&node_id))
        .await;
    tracing::info!(store = %access.store_id, node = %node_id, closed, "node revoked");
    let links = presence::token_links(&hub, &access.store_id).await?;
    Ok(Json(NodeRevoked {
        node: node_view(&hub, row, &links),
        closed_connections: closed,
    }))
}

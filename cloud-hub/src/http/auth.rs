//! The account endpoints under `/api/v1/auth`: signup, login, refresh,
//! logout, password change, who-am-I, invitation acceptance, and the JWKS.
//!
//! Signup, login, refresh and invitation acceptance count against the
//! per-IP limit; signup, login and password change also against the
//! per-account one. Over a limit the answer is 429 `too_many_attempts` with
//! `Retry-After`. A wrong password and an unknown email get the same 401
//! `invalid_credentials`, after the same amount of hashing work.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::{ApiError, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, parse_json};
use crate::auth::extract::{ClientIp, Kind, MaybeSigned, Signed};
use crate::auth::throttle::Throttled;
use crate::auth::{self, NewUserError, RefreshError, password};
use crate::crypto::token_hash;
use crate::db::AcceptError;
use crate::hub::Hub;
pub use api_types::hub::auth::{AcceptBody, LoginBody, PasswordBody, RefreshBody, SignupBody};

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/v1/auth/signup", post(signup))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password", post(change_password))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/accept-invitation", post(accept_invitation))
}

/// An error answer, or 429 with `Retry-After`.
#[derive(Debug)]
pub enum AuthFail {
    Api(ApiError),
    Throttled(Throttled),
}

impl From<ApiError> for AuthFail {
    fn from(e: ApiError) -> Self {
        AuthFail::Api(e)
    }
}

impl From<Throttled> for AuthFail {
    fn from(t: Throttled) -> Self {
        AuthFail::Throttled(t)
    }
}

impl From<sqlx::Error> for AuthFail {
    fn from(e: sqlx::Error) -> Self {
        AuthFail::Api(ApiError::internal(e))
    }
}

impl From<anyhow::Error> for AuthFail {
    fn from(e: anyhow::Error) -> Self {
        AuthFail::Api(ApiError::internal(e))
    }
}

impl From<NewUserError> for AuthFail {
    fn from(e: NewUserError) -> Self {
        AuthFail::Api(new_user_error(e))
    }
}

impl IntoResponse for AuthFail {
    fn into_response(self) -> Response {
        match self {
            AuthFail::Api(e) => e.into_response(),
            AuthFail::Throttled(t) => {
                // Round up: "retry after 0 s" would invite an immediate retry.
                let secs = t.retry_after.as_secs() + u64::from(t.retry_after.subsec_nanos() > 0);
                let mut r = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    format!("too many attempts; try again in {secs} s"),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
        }
    }
}

pub type AuthResult<T> = Result<T, AuthFail>;

/// The client error for an account that could not be created.
pub fn new_user_error(e: NewUserError) -> ApiError {
    match e {
        NewUserError::InvalidEmail => ApiError::unprocessable("invalid_email", e.to_string()),
        NewUserError::InvalidName => ApiError::unprocessable("invalid_name", e.to_string()),
        NewUserError::Policy(p) => ApiError::unprocessable(p.code(), p.to_string()),
        NewUserError::EmailTaken => ApiError::conflict("email_taken", e.to_string()),
        NewUserError::Internal(e) => ApiError::internal(e),
    }
}

/// The key an account's sign-in attempts are counted under (also for emails
/// with no account). Not an email at all: its hash, so a huge string costs the
/// limiter 64 bytes.
fn account_key(email: &str) -> String {
    auth::normalize_email(email).unwrap_or_else(|| format!("invalid:{}", token_hash(email)))
}

fn invalid_credentials() -> AuthFail {
    AuthFail::Api(ApiError::unauthorized(
        "invalid_credentials",
        "the email or the password is wrong",
    ))
}

/// `POST /api/v1/auth/signup {email, password, name}` -> 201 with a session: a customer account.
#[utoipa::path(post, path = "/api/v1/auth/signup", operation_id = "hub_signup", tag = "accounts",
    request_body = SignupBody,
    responses((status = 201, body = auth::TokenPair), (status = 429, body = ErrorBody), WriteErrors))]
pub async fn signup(
    ClientIp(ip): ClientIp,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<SignupBody>,
) -> AuthResult<(StatusCode, Json<auth::TokenPair>)> {
    let body = body.value;
    hub.auth.throttle.ip(ip)?;
    let key = account_key(&body.email);
    hub.auth.throttle.account(ip, &key)?;
    let user = auth::create_user(
        &hub.db,
        &body.email,
        &body.password,
        &body.name,
        Kind::Customer,
        hub.now_ms(),
    )
    .await?;
    hub.auth.throttle.signed_in(ip, &key);
    let pair = hub.auth.start_session(&hub.db, &user).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

/// `POST /api/v1/auth/login {email, password}` -> `{access_token, token_type, expires_in, refresh_token, refresh_expires_in}`.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "hub_login", tag = "accounts",
    request_body = LoginBody,
    responses((status = 200, body = auth::TokenPair), (status = 429, body = ErrorBody), WriteErrors))]
pub async fn login(
    ClientIp(ip): ClientIp,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<LoginBody>,
) -> AuthResult<Json<auth::TokenPair>> {
    let body = body.value;
    hub.auth.throttle.ip(ip)?;
    let key = account_key(&body.email);
    hub.auth.throttle.account(ip, &key)?;
    if body.password.chars().count() > password::MAX_CHARS {
        return Err(invalid_credentials());
    }
    let user = match auth::normalize_email(&body.email) {
        Some(email) => hub.db.user_by_email(&email).await?,
        None => None,
    };
    // An unknown email still costs one hash check, so both failures take as long.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = auth::verify_password(body.password.clone(), stored).await?;
    let (Some(user), Some(verified)) = (user, verified) else {
        return Err(invalid_credentials());
    };
    hub.auth.throttle.signed_in(ip, &key);
    let stored = user.password_hash.clone();
    if verified.needs_rehash {
        match auth::hash_password(body.password).await {
            Ok(h) => {
                if let Err(e) = hub.db.upgrade_password_hash(&user.id, &stored, &h).await {
                    tracing::warn!(user = %user.id, error = %e, "could not store the upgraded password hash");
                } else {
                    tracing::info!(user = %user.id, "password hash upgraded");
                }
            }
            Err(e) => tracing::warn!(user = %user.id, error = %e, "rehash failed"),
        }
    }
    let pair = hub.auth.start_session(&hub.db, &user).await?;
    Ok(Json(pair))
}

/// `POST /api/v1/auth/refresh {refresh_token}` -> a new pair; the token sent is spent.
/// Sending a spent token again ends the whole session (401 `refresh_token_reused`).
#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "hub_refresh", tag = "accounts",
    request_body = RefreshBody,
    responses((status = 200, body = auth::TokenPair), (status = 429, body = ErrorBody), WriteErrors))]
pub async fn refresh(
    ClientIp(ip): ClientIp,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<RefreshBody>,
) -> AuthResult<Json<auth::TokenPair>> {
    hub.auth.throttle.ip(ip)?;
    match hub.auth.rotate(&hub.db, &body.value.refresh_token).await {
        Ok(pair) => Ok(Json(pair)),
        Err(RefreshError::Invalid) => Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "the refresh token is unknown, expired or revoked: sign in again",
        )
        .into()),
        Err(RefreshError::Reused) => Err(ApiError::unauthorized(
            "refresh_token_reused",
            "this refresh token was already used, so the session was ended: sign in again",
        )
        .into()),
        Err(RefreshError::Internal(e)) => Err(ApiError::internal(e).into()),
    }
}

/// `POST /api/v1/auth/logout`, with `{refresh_token}` or with the session's
/// access token: ends that session (its refresh tokens and access tokens) -> 204.
/// Naturally idempotent: ending an ended or unknown session is also 204.
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "hub_logout", tag = "accounts",
    request_body(content = Option<RefreshBody>, description = "The session's refresh token; or send none and the access token"),
    responses((status = 204, description = "The session is over"), WriteErrors),
    security((), ("bearer" = [])))]
pub async fn logout(
    State(hub): State<Arc<Hub>>,
    MaybeSigned(signed): MaybeSigned,
    body: Bytes,
) -> AuthResult<StatusCode> {
    let now = hub.now_ms();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let b: RefreshBody = parse_json(&body)?;
        if let Some(row) = hub.db.refresh_token(&token_hash(&b.refresh_token)).await? {
            hub.db.revoke_family(&row.family_id, now).await?;
            hub.auth.sessions_ended();
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    let Some(signed) = signed else {
        return Err(ApiError::unauthorized(
            "unauthenticated",
            "send the access token (Authorization: Bearer) or {\"refresh_token\"}",
        )
        .into());
    };
    hub.db.revoke_family(&signed.sid, now).await?;
    hub.auth.sessions_ended();
    tracing::info!(user = %signed.user_id, "signed out");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/auth/password {current_password, new_password}` -> a new
/// session. Every other session of the account ends (refresh tokens revoked,
/// access tokens refused). A wrong current password is 403 `wrong_password`.
#[utoipa::path(post, path = "/api/v1/auth/password", operation_id = "hub_change_password", tag = "accounts",
    request_body = PasswordBody,
    responses((status = 200, body = auth::TokenPair), (status = 429, body = ErrorBody), WriteErrors),
    security(("bearer" = [])))]
pub async fn change_password(
    ClientIp(ip): ClientIp,
    signed: Signed,
    State(hub): State<Arc<Hub>>,
    body: JsonBody<PasswordBody>,
) -> AuthResult<Json<auth::TokenPair>> {
    let body = body.value;
    let user = hub
        .db
        .user_by_id(&signed.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("bad_token", "this account no longer exists"))?;
    hub.auth.throttle.account(ip, &user.email)?;
    let ok = body.current_password.chars().count() <= password::MAX_CHARS
        && auth::verify_password(
            body.current_password.clone(),
            Some(user.password_hash.clone()),
        )
        .await?
        .is_some();
    if !ok {
        return Err(ApiError::forbidden("the current password is wrong").into());
    }
    password::check_policy(&body.new_password, &[&user.email, &user.name])
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    if body.new_password == body.current_password {
        return Err(ApiError::unprocessable(
            "password_unchanged",
            "the new password is the current one",
        )
        .into());
    }
    let hash = auth::hash_password(body.new_password).await?;
    hub.db
        .change_password(&user.id, &hash, hub.now_ms())
        .await?;
    hub.auth.sessions_ended();
    tracing::info!(user = %user.id, "password changed; other sessions ended");
    let pair = hub.auth.start_session(&hub.db, &user).await?;
    Ok(Json(pair))
}

/// `GET /api/v1/auth/me` -> `{id, email, name, kind, created_at, memberships: [{org_id, org_name, store_id, role}]}`.
#[utoipa::path(get, path = "/api/v1/auth/me", operation_id = "hub_me", tag = "accounts",
    responses((status = 200, body = Object, description = "{id, email, name, kind, created_at, memberships}"), ReadErrors),
    security(("bearer" = [])))]
pub async fn me(signed: Signed, State(hub): State<Arc<Hub>>) -> Result<Json<Value>, ApiError> {
    let user = hub
        .db
        .user_by_id(&signed.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("bad_token", "this account no longer exists"))?;
    let memberships: Vec<Value> = hub
        .db
        .memberships(&user.id)
        .await?
        .into_iter()
        .map(|m| json!({ "org_id": m.org_id, "org_name": m.org_name, "store_id": m.store_id, "role": m.role }))
        .collect();
    Ok(Json(json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "kind": user.kind,
        "created_at": user.created_at,
        "memberships": memberships,
    })))
}

/// `GET /.well-known/jwks.json` and `GET /api/v1/auth/jwks`: the public keys
/// that verify the hub's access tokens (OKP, Ed25519).
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "hub_jwks", tag = "accounts",
    responses((status = 200, body = Object, description = "JWK set: OKP / Ed25519 keys")))]
pub async fn jwks(State(hub): State<Arc<Hub>>) -> Response {
    let mut r = Json(hub.auth.jwks()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// `POST /api/v1/auth/accept-invitation {token, name, password}`.
///
/// Not signed in: creates the staff account (the invitation's email) with its
/// membership -> 201 with a session; 409 `account_exists` when that email has
/// an account (sign in, then accept). Signed in (as the invited email): adds
/// the membership to the account -> 200.
#[utoipa::path(post, path = "/api/v1/auth/accept-invitation", operation_id = "hub_accept_invitation", tag = "accounts",
    request_body = AcceptBody,
    responses((status = 201, body = Object, description = "New account: a token pair plus user_id and membership"),
        (status = 200, body = Object, description = "Signed in: user_id and membership"),
        (status = 410, body = ErrorBody), (status = 429, body = ErrorBody), WriteErrors),
    security((), ("bearer" = [])))]
pub async fn accept_invitation(
    ClientIp(ip): ClientIp,
    State(hub): State<Arc<Hub>>,
    MaybeSigned(signed): MaybeSigned,
    body: JsonBody<AcceptBody>,
) -> AuthResult<Response> {
    let body = body.value;
    hub.auth.throttle.ip(ip)?;
    let inv = hub
        .db
        .invitation(&token_hash(&body.token))
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    if inv.accepted_at.is_some() {
        return Err(
            ApiError::conflict("invitation_used", "this invitation was already accepted").into(),
        );
    }
    if inv.expires_at <= hub.now_ms() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "invitation_expired",
            "this invitation has expired",
        )
        .into());
    }
    // The role held afterwards: an invitation never lowers one (see `Db::accept_invitation`).
    let membership =
        |role: &str| json!({ "org_id": inv.org_id, "store_id": inv.store_id, "role": role });
    let accept_error = |e: AcceptError| -> AuthFail {
        match e {
            AcceptError::AlreadyAccepted => {
                ApiError::conflict("invitation_used", "this invitation was already accepted").into()
            }
            AcceptError::EmailTaken => ApiError::conflict(
                "account_exists",
                "an account with this email exists: sign in, then accept the invitation",
            )
            .into(),
            AcceptError::Sql(e) => ApiError::internal(e).into(),
        }
    };
    if let Some(signed) = signed {
        let user =
            hub.db.user_by_id(&signed.user_id).await?.ok_or_else(|| {
                ApiError::unauthorized("bad_token", "this account no longer exists")
            })?;
        if user.email != inv.email {
            return Err(ApiError::forbidden("this invitation is for another email address").into());
        }
        let role = hub
            .db
            .accept_invitation(&inv, &user.id, None, hub.now_ms())
            .await
            .map_err(accept_error)?;
        tracing::info!(user = %user.id, org = %inv.org_id, role = %role, "invitation accepted");
        return Ok(
            Json(json!({ "user_id": user.id, "membership": membership(&role) })).into_response(),
        );
    }
    let (Some(name), Some(password)) = (body.name, body.password) else {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "name and password are needed to create the account (or sign in first)",
        )
        .into());
    };
    let row = auth::new_user_row(&inv.email, &password, &name, Kind::Staff, hub.now_ms()).await?;
    let role = hub
        .db
        .accept_invitation(&inv, &row.id, Some(&row), hub.now_ms())
        .await
        .map_err(accept_error)?;
    tracing::info!(user = %row.id, org = %inv.org_id, role = %inv.role, "staff account created from invitation");
    let pair = hub.auth.start_session(&hub.db, &row).await?;
    let mut out = serde_json::to_value(pair).map_err(ApiError::internal)?;
    out["user_id"] = json!(row.id);
    out["membership"] = membership(&role);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

//! A store's settings (`domain::settings::StoreSettings`, the settings
//! document's `store` entity): read by anyone who may read the menu, changed
//! field by field by owners and managers (`SettingsManage`); they sync to the
//! store's nodes, and the customer-facing ones (address, time zone, hours,
//! online ordering) make the store's public profile (`crate::online::profile`).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::settings::StoreSettings;
use sync::doc::{DocKind, SharedDoc};

use super::error::{ApiError, ApiResult, ErrorBody, ReadErrors, WriteErrors};
use super::extract::{JsonBody, Path, check_text};
use super::store_docs::{edit_doc, open_store};
use crate::auth::{StoreAccess, perm};
use crate::hub::Hub;
pub use api_types::hub::settings::SettingsInput;

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route(
        "/api/v1/stores/{id}/settings",
        get(get_settings).put(put_settings),
    )
}

/// Checks the customer-facing settings by the domain's hours rules (422 when broken).
fn check_profile(body: &SettingsInput) -> ApiResult<()> {
    if let Some(a) = &body.address {
        let n = a.trim().chars().count();
        if n == 0 || n > 200 || a.chars().any(char::is_control) {
            return Err(ApiError::unprocessable(
                "invalid_settings",
                "address must be 1 to 200 characters",
            ));
        }
    }
    if let Some(tz) = &body.timezone
        && crate::online::profile::parse_timezone(tz.trim()).is_none()
    {
        return Err(ApiError::unprocessable(
            "invalid_timezone",
            format!(
                "{:?} is not an IANA time zone (e.g. Europe/Berlin)",
                tz.chars().take(60).collect::<String>()
            ),
        ));
    }
    let hours_error =
        |e: domain::hours::HoursError| ApiError::unprocessable(e.code(), e.to_string());
    if let Some(w) = &body.hours {
        w.validate().map_err(hours_error)?;
    }
    if let Some(x) = &body.hours_exceptions {
        domain::hours::Schedule::new(domain::hours::WeeklyHours::default(), x.clone())
            .map_err(hours_error)?;
    }
    Ok(())
}

/// Checks the kitchen-backlog thresholds (422 `invalid_settings` naming the field).
fn check_backlog(body: &SettingsInput) -> ApiResult<()> {
    let over = |field: &str, value: Option<u32>, min: u32, max: u32| match value {
        Some(v) if v < min || v > max => Err(ApiError::unprocessable(
            "invalid_settings",
            format!("{field} must be {min} to {max}"),
        )),
        _ => Ok(()),
    };
    over(
        "backlog_quote_per_ticket_minutes",
        body.backlog_quote_per_ticket_minutes,
        0,
        60,
    )?;
    over("backlog_slow_at", body.backlog_slow_at, 0, 1000)?;
    over("backlog_pause_at", body.backlog_pause_at, 0, 1000)?;
    Ok(())
}

/// The longest pause a merchant may set: a week (longer is switching online ordering off).
const MAX_PAUSE_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Checks a pause (422 `invalid_settings` naming the field): until a time in the
/// next 7 days, or 0 to resume; a message of at most 200 characters.
fn check_pause(body: &SettingsInput, now: i64) -> ApiResult<()> {
    if let Some(t) = body.paused_until_ms
        && t != 0
        && (t <= now || t > now + MAX_PAUSE_MS)
    {
        return Err(ApiError::unprocessable(
            "invalid_settings",
            "paused_until_ms must be a time in the next 7 days, or 0 to resume now",
        ));
    }
    if body
        .pause_message
        .as_ref()
        .is_some_and(|m| m.trim().chars().count() > 200)
    {
        return Err(ApiError::unprocessable(
            "invalid_settings",
            "pause_message must be at most 200 characters",
        ));
    }
    Ok(())
}

/// The settings document's `store` entity (empty settings before there is one).
fn settings_of(doc: Option<&SharedDoc>) -> ApiResult<StoreSettings> {
    let store = doc
        .map(|d| d.entities("settings"))
        .transpose()
        .map_err(|e| ApiError::conflict("settings_unreadable", e.to_string()))?
        .and_then(|mut e| e.remove("store"))
        .unwrap_or_default();
    Ok(StoreSettings::from(store))
}

/// Change a store's settings (the fields sent); they sync to the store's nodes.
/// Owners and managers (`SettingsManage`), and platform admins.
#[utoipa::path(put, path = "/api/v1/stores/{id}/settings", operation_id = "hub_put_settings", tag = "merchant",
    params(("id" = String, Path, description = "Store id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    request_body = SettingsInput,
    responses((status = 200, body = Object, description = "Every setting of the store (name, pickup_lead_minutes, online_ordering, ...)"), WriteErrors),
    security(("bearer" = [])))]
pub async fn put_settings(
    _: StoreAccess<perm::SettingsManage>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
    body: JsonBody<SettingsInput>,
) -> ApiResult<Json<StoreSettings>> {
    let body = body.value;
    if let Some(n) = &body.name {
        check_text("name", n)?;
    }
    if body.pickup_lead_minutes.is_some_and(|m| m > 24 * 60) {
        return Err(ApiError::unprocessable(
            "invalid_settings",
            "pickup_lead_minutes is at most 1440",
        ));
    }
    check_profile(&body)?;
    check_backlog(&body)?;
    let now = hub.now_ms();
    check_pause(&body, now)?;
    let current = edit_doc(&hub, &store_id, DocKind::Settings, |doc| {
        let mut current = settings_of(Some(doc))?;
        if let Some(n) = body.name {
            current.name = Some(n.trim().to_owned());
        }
        if let Some(m) = body.pickup_lead_minutes {
            current.pickup_lead_minutes = Some(m);
        }
        if let Some(o) = body.online_ordering {
            current.online_ordering = Some(o);
        }
        if let Some(p) = body.pay_at_pickup {
            current.pay_at_pickup = Some(p);
        }
        if let Some(a) = body.address {
            current.address = Some(a.trim().to_owned());
        }
        if let Some(tz) = body.timezone {
            current.timezone = Some(tz.trim().to_owned());
        }
        if let Some(h) = body.hours {
            current.hours = Some(h);
        }
        if let Some(x) = body.hours_exceptions {
            current.hours_exceptions = Some(x);
        }
        if let Some(m) = body.backlog_quote_per_ticket_minutes {
            current.backlog_quote_per_ticket_minutes = Some(m);
        }
        if let Some(n) = body.backlog_slow_at {
            current.backlog_slow_at = Some(n);
        }
        if let Some(n) = body.backlog_pause_at {
            current.backlog_pause_at = Some(n);
        }
        if let Some(t) = body.paused_until_ms {
            current.paused_until_ms = Some(t);
        }
        if let Some(m) = body.pause_message {
            current.pause_message = Some(m.trim().to_owned());
        }
        if let (Some(slow), Some(pause)) = (current.backlog_slow_at, current.backlog_pause_at)
            && pause > 0
            && pause <= slow
        {
            return Err(ApiError::unprocessable(
                "invalid_settings",
                format!("backlog_pause_at ({pause}) must be above backlog_slow_at ({slow})"),
            ));
        }
        doc.put_entity("settings", "store", &current.to_fields())
            .map_err(|e| ApiError::conflict("settings_unreadable", e.to_string()))?;
        Ok(current)
    })
    .await?;
    hub.online.store_changed(&store_id, vec!["settings"]);
    if let Some(until) = body.paused_until_ms.filter(|&t| t > now) {
        // Ordering starts again with nobody writing: merchant streams hear it then.
        let after = std::time::Duration::from_millis(u64::try_from(until - now).unwrap_or(0));
        hub.online
            .recheck_after(&store_id, after, vec!["settings", "ordering"]);
    }
    Ok(Json(current))
}

/// A store's settings.
#[utoipa::path(get, path = "/api/v1/stores/{id}/settings", operation_id = "hub_get_settings", tag = "merchant",
    params(("id" = String, Path, description = "Store id")),
    responses((status = 200, body = Object, description = "Every setting of the store (name, pickup_lead_minutes, online_ordering, ...)"), (status = 409, body = ErrorBody, description = "The settings document is unreadable"), ReadErrors),
    security(("bearer" = [])))]
pub async fn get_settings(
    _: StoreAccess<perm::MenuRead>,
    State(hub): State<Arc<Hub>>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<StoreSettings>> {
    let store = open_store(&hub, &store_id).await?;
    let g = store.docs.lock().await;
    Ok(Json(settings_of(g.docs.get(&DocKind::Settings))?))
}

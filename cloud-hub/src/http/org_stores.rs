//! `GET /api/v1/orgs/{org_id}/stores`: the stores of an organisation, for the
//! merchant dashboard's store switcher. `GET /api/v1/auth/me` names a
//! store-level membership's store, but an organisation-wide membership covers
//! every store of the organisation, and only this lists them.
//!
//! Who may: an organisation-wide role that may read the menu (every staff
//! role), or a platform admin (`OrgAccess<perm::MenuRead>`); a store-level
//! member is refused (403), as in the rest of the organisation routes.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::error::{ApiResult, ReadErrors};
use crate::auth::{OrgAccess, perm};
use crate::hub::Hub;

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route("/api/v1/orgs/{org_id}/stores", get(list_org_stores))
}

/// One store of an organisation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgStore {
    pub id: String,
    pub name: String,
}

/// An organisation's stores, by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgStores {
    pub org_id: String,
    pub stores: Vec<OrgStore>,
}

/// The stores of an organisation (for an organisation-wide member).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/stores", operation_id = "hub_list_org_stores", tag = "organisations",
    params(("org_id" = String, Path, description = "Organisation id")),
    responses((status = 200, body = OrgStores), ReadErrors),
    security(("bearer" = [])))]
pub async fn list_org_stores(
    access: OrgAccess<perm::MenuRead>,
    State(hub): State<Arc<Hub>>,
) -> ApiResult<Json<OrgStores>> {
    let stores = hub
        .db
        .org_stores(&access.org_id)
        .await?
        .into_iter()
        .map(|(id, name)| OrgStore { id, name })
        .collect();
    Ok(Json(OrgStores {
        org_id: access.org_id,
        stores,
    }))
}

//! The hub's OpenAPI 3 document, generated from the handlers' annotations.
//! Served at `GET /api/v1/openapi.json`, printed by `cloud-hub openapi`, and
//! committed as `cloud-hub/openapi.json`; a test fails when the committed copy
//! is stale, another when two operations share an id (every id starts `hub_`).
//!
//! Left out on purpose: `GET /api/v1/sync`, the WebSocket store nodes sync
//! over. It authenticates with a node token (not an account), speaks binary
//! frames (`sync::wire`) after the upgrade, and has no request or response
//! body OpenAPI can describe; its contract is the `sync` crate and
//! `tests/sync.rs`.
//!
//! Every operation is also listed in the access-matrix test's policy table
//! (`tests/access_matrix.rs`), which fails for an operation it does not know.

use std::collections::HashMap;
use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    auth, catalog, images, members, menu_conflicts, nodes, online, ops, orders, org_stores, orgs,
    overview, payments, platform, profile, refunds, roster, sales, settings,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Cloud hub API", description = "The cloud side of the restaurant platform: accounts and organisations, the platform admin API, the merchant's menu, orders, staff and settings for each store. Errors are `{\"error\":{\"code\",\"message\"}}` with a 4xx status; every write takes an optional `Idempotency-Key`. Web orders are paid at pickup or by card (Stripe Checkout, captured when the store accepts). The store nodes' sync WebSocket (`GET /api/v1/sync`, node tokens or a node's signed `EdgeNode` header, binary frames) is not described here."),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::openapi_json,
        auth::signup, auth::login, auth::refresh, auth::logout, auth::change_password, auth::me,
        auth::jwks, ops::jwks_api, auth::accept_invitation,
        orgs::create_admin, orgs::create_org, orgs::create_invitation,
        members::set_member_role, members::remove_member, orgs::withdraw_invitation, org_stores::list_org_stores,
        platform::create_store, platform::create_token, platform::revoke_token, platform::store_create_token, platform::store_revoke_token,
        nodes::create_code, nodes::admin_create_code, nodes::list_codes, nodes::revoke_code, nodes::enroll, nodes::revoke_node,
        catalog::get_menu, catalog::put_menu, catalog::item_sold_out, catalog::modifier_sold_out,
        menu_conflicts::list_conflicts, menu_conflicts::resolve_conflict,
        images::upload_image, images::get_image,
        orders::get_orders, refunds::create, refunds::list, refunds::reconciliation,
        sales::store_sales, sales::org_sales,
        roster::get_staff, roster::put_staff, members::list_members,
        settings::get_settings, settings::put_settings,
        online::store_nodes, overview::overview, overview::org_events,
        // Customers: browse, price, order, track.
        online::public_stores, online::public_store, online::public_menu, online::price_cart, online::pickup_times, online::place_order,
        online::my_orders, online::my_order, online::track_order,
        profile::get_profile, profile::put_profile,
        // The card processor.
        payments::stripe_webhook,
    ),
    modifiers(&Bearer),
    tags(
        (name = "ops", description = "Health, readiness, metrics, this document"),
        (name = "accounts", description = "Sign-up, sign-in, sessions, invitations"),
        (name = "platform", description = "Platform admins: organisations, stores, node tokens"),
        (name = "organisations", description = "An organisation's staff: invitations, roles, removal"),
        (name = "merchant", description = "A store's menu, its pictures, sold-out toggles, orders and their card refunds, roster, members and settings"),
        (name = "customer", description = "Online ordering: a store's profile and menu and its pictures, cart pricing, pickup orders paid at pickup or by card, live order tracking, the customer's profile"),
        (name = "nodes", description = "Store nodes enrolling with a pairing code and their own key"),
        (name = "payments", description = "The card processor's webhook (Stripe-signed events)"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme the operations refer to.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An account's access token (EdDSA JWT), or the platform's admin token",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the committed form), built once.
pub fn json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut s = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
        s.push('\n');
        s
    })
    .clone()
}

/// What the document says of the operation `method route` (a route template
/// such as `/api/v1/stores/{id}/menu`): `None` when there is no such
/// operation, else whether it requires a bearer token (its security lists
/// `bearer` and no anonymous alternative). The idempotency layer uses this to
/// let 405 and 401 come before its judgement of an `Idempotency-Key`.
pub fn needs_token(method: &axum::http::Method, route: &str) -> Option<bool> {
    static OPERATIONS: OnceLock<HashMap<(String, String), bool>> = OnceLock::new();
    OPERATIONS
        .get_or_init(|| {
            let doc: serde_json::Value = serde_json::from_str(&json()).unwrap_or_default();
            let mut out = HashMap::new();
            for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
                for (method, op) in ops.as_object().into_iter().flatten() {
                    let alternatives = op["security"].as_array().cloned().unwrap_or_default();
                    let anonymous_ok = alternatives
                        .iter()
                        .any(|a| a.as_object().is_some_and(|o| o.is_empty()));
                    out.insert(
                        (method.to_ascii_uppercase(), path.clone()),
                        !alternatives.is_empty() && !anonymous_ok,
                    );
                }
            }
            out
        })
        .get(&(method.as_str().to_owned(), route.to_owned()))
        .copied()
}

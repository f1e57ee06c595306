//! The OpenAPI 3 document, generated from the handlers' annotations. Served at
//! `/api/v1/openapi.json` and committed as `store-node/openapi.json`; a test
//! fails when the committed copy is stale.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{devices, events, images, menu, ops, orders, session};

#[derive(OpenApi)]
#[openapi(
    info(title = "Store node API", description = "The restaurant's on-premises server: orders, menu, staff sign-in, live events, devices and printing. Works with the internet down."),
    paths(
        session::staff_list, session::login, session::logout, session::me,
        menu::read, menu::replace, menu::upsert_item, menu::item_sold_out, menu::modifier_sold_out, images::get_image,
        orders::create, orders::quote, orders::list, orders::get_one, orders::transition, orders::pay, orders::station_done, orders::unsettled_card_payments, orders::online_refund, orders::online_refunds,
        devices::list, devices::create, devices::get_one, devices::update, devices::remove,
        devices::rotate, devices::test_print, devices::jobs, devices::reprint, devices::receipt_copy,
        events::subscribe,
        ops::healthz, ops::readyz, ops::metrics_text, ops::sync_status, ops::store_info,
    ),
    modifiers(&Bearer),
    tags((name = "orders"), (name = "menu"), (name = "auth"), (name = "events"), (name = "devices"), (name = "ops"))
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from POST /api/v1/auth/login (staff id and PIN), or a \
                         staff member's access token from the hub, checked against the hub's keys \
                         (also while the hub is unreachable).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the committed form).
pub fn json() -> String {
    let mut s = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}

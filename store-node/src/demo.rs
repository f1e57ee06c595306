//! Demo data: a realistic menu (Harbor Street Kitchen: 49 items, 14 modifier
//! groups, three kitchen stations, two tax classes) and one staff member per
//! role, loaded into an empty database by `--demo`.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use domain::menu::Menu;
use domain::roles::{Pin, Role};
use sync::session::Docs;

use crate::auth::hash_pin;
use crate::db::Db;
use crate::menu::{load_menu, store_menu};

pub const MENU_JSON: &str = include_str!("../demo/menu.json");

/// Demo staff: (id, name, role, PIN). Printed by the demo so people can sign in.
pub const STAFF: &[(&str, &str, Role, &str)] = &[
    ("owner", "Olivia Owner", Role::Owner, "1000"),
    ("manager", "Marco Manager", Role::Manager, "2000"),
    ("cashier", "Casey Cashier", Role::Cashier, "3000"),
    ("kitchen", "Kim Kitchen", Role::Kitchen, "4000"),
    ("kiosk", "Self-order kiosk", Role::Customer, "5000"),
];

pub fn menu() -> Menu {
    serde_json::from_str(MENU_JSON).expect("the bundled demo menu is valid JSON of the menu type")
}

/// Loads the demo menu and staff unless the database already has a menu or staff.
pub async fn seed(db: &Db, docs: &Arc<Mutex<Docs>>) -> anyhow::Result<()> {
    let menu = menu();
    menu.validate()?;
    // Argon2 is deliberately slow: hash off the async runtime.
    let hashed = tokio::task::spawn_blocking(|| {
        STAFF
            .iter()
            .map(|(id, name, role, pin)| {
                let pin = Pin::parse(pin).map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok((*id, *name, *role, hash_pin(&pin)?))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await??;
    let docs = docs.clone();
    db.write(move |ctx| -> anyhow::Result<()> {
        if load_menu(ctx.conn)?.is_none() {
            let now = ctx.now();
            store_menu(ctx, &docs, menu, serde_json::json!({ "demo": true }), now)?;
        }
        for (id, name, role, hash) in hashed {
            let added = ctx.conn.execute(
                "INSERT INTO staff (id, name, role, pin_hash) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                rusqlite::params![id, name, role.as_str(), hash],
            )?;
            if added == 1 {
                // The roster document carries staff to the hub and the store's other nodes.
                let entry = crate::docs::RosterEntry { name: name.into(), role: role.as_str().into(), pin_hash: hash, active: true };
                crate::docs::set_staff(ctx.conn, &docs, id, &entry, ctx.now())?;
            }
        }
        Ok(())
    })
    .await
    .context("seeding demo data")
}

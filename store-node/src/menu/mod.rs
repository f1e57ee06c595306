//! The menu service. The catalog document (`docs`) is the menu's source of
//! truth; the `menu` table is its projection, one JSON row with a version,
//! rewritten in the same transaction as every change with a `menu.changed`
//! event. [`Cache`] holds the last stored menu for pricing without a read.
//!
//! Every edit is checked by the domain rules (`Menu::validate`, the item and
//! modifier edits) and answers with [`EditError`], which `http::error` turns
//! into the API's answers.

use domain::clock::Millis;
use std::sync::{Arc, Mutex, RwLock};

use domain::menu::Menu;
use rusqlite::OptionalExtension;
use sync::session::Docs;

use crate::db::{Db, WriteCtx, WriteError};
use crate::events::kind;
pub use api_types::node::menu::MenuView;

/// The menu with the version it was stored under.
#[derive(Debug, Clone)]
pub struct MenuState {
    pub menu: Menu,
    pub version: i64,
}

impl From<MenuState> for MenuView {
    fn from(m: MenuState) -> Self {
        MenuView {
            version: m.version,
            menu: m.menu,
        }
    }
}

/// Why a menu change was not stored.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("menu not found")]
    NotFound,
    /// The change breaks a menu rule, or names an item or modifier the menu lacks.
    #[error(transparent)]
    Invalid(#[from] domain::menu::MenuError),
    #[error("the catalog document: {0:#}")]
    Document(anyhow::Error),
    #[error(transparent)]
    Storage(#[from] rusqlite::Error),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("encoding the menu: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Read-mostly copy of the stored menu; replaced after each committed edit.
pub struct Cache(RwLock<Arc<MenuState>>);

impl Cache {
    pub fn new(menu: MenuState) -> Cache {
        Cache(RwLock::new(Arc::new(menu)))
    }

    pub fn get(&self) -> Arc<MenuState> {
        self.0
            .read()
            .map(|m| m.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Installs a newer menu; an older version arriving late is ignored.
    pub fn set(&self, next: MenuState) {
        let mut slot = self.0.write().unwrap_or_else(|p| p.into_inner());
        if next.version > slot.version {
            *slot = Arc::new(next);
        }
    }
}

/// Loads the stored menu (in a write transaction it is authoritative, unlike the cache).
pub fn load_menu(conn: &rusqlite::Connection) -> rusqlite::Result<Option<MenuState>> {
    conn.query_row("SELECT doc, version FROM menu WHERE id = 1", [], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })
    .optional()?
    .map(|(doc, version)| {
        serde_json::from_str::<Menu>(&doc)
            .map(|menu| MenuState { menu, version })
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
    })
    .transpose()
}

/// A local menu change at `now`: into the catalog document (the source of truth), then its projection.
pub fn store_menu(
    ctx: &mut WriteCtx<'_>,
    docs: &Mutex<Docs>,
    menu: Menu,
    change: serde_json::Value,
    now: Millis,
) -> Result<MenuState, EditError> {
    crate::docs::set_menu(ctx.conn, docs, &menu, ctx.now()).map_err(EditError::Document)?;
    store_projection(ctx, menu, change, now)
}

/// Stores `menu` as the next version of the projection (updated at `now`) and appends
/// `menu.changed`; returns the new state.
pub fn store_projection(
    ctx: &mut WriteCtx<'_>,
    menu: Menu,
    change: serde_json::Value,
    now: Millis,
) -> Result<MenuState, EditError> {
    let now = now.as_u64();
    let version: i64 =
        ctx.conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM menu", [], |r| {
                r.get::<_, i64>(0)
            })?
            + 1;
    let doc = serde_json::to_string(&menu)?;
    ctx.conn.execute(
        "INSERT INTO menu (id, doc, version, updated_ms) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = excluded.version, updated_ms = excluded.updated_ms",
        rusqlite::params![doc, version, now as i64],
    )?;
    ctx.append(
        kind::MENU_CHANGED,
        None,
        serde_json::json!({ "version": version, "change": change }),
    )?;
    Ok(MenuState { menu, version })
}

/// Replaces the whole menu (an import), in the caller's transaction. The caller has
/// checked it with `Menu::validate`.
pub fn replace(
    ctx: &mut WriteCtx<'_>,
    docs: &Mutex<Docs>,
    menu: Menu,
    now: Millis,
) -> Result<MenuView, EditError> {
    let next = store_menu(
        ctx,
        docs,
        menu,
        serde_json::json!({ "replaced": true }),
        now,
    )?;
    Ok(next.into())
}

/// Applies `edit` to the stored menu and stores the result as the next version, in the
/// caller's transaction; `change` says what changed, for the `menu.changed` event.
pub fn edit(
    ctx: &mut WriteCtx<'_>,
    docs: &Mutex<Docs>,
    change: serde_json::Value,
    edit: impl FnOnce(&mut Menu) -> Result<(), domain::menu::MenuError>,
    now: Millis,
) -> Result<MenuView, EditError> {
    let mut current = load_menu(ctx.conn)?
        .map(|m| m.menu)
        .ok_or(EditError::NotFound)?;
    edit(&mut current)?;
    let next = store_menu(ctx, docs, current, change, now)?;
    Ok(next.into())
}

/// The stored menu, read from the database (not the cache: `menu.changed` is published at
/// commit, before the cache is refreshed, and a client that saw the event must get at least
/// that version); the cache catches up with it.
pub async fn current(db: &Db, cache: &Cache) -> Result<MenuView, EditError> {
    let m = db.read(load_menu).await?.ok_or(EditError::NotFound)?;
    cache.set(m.clone());
    Ok(m.into())
}

/// Re-reads the stored menu into the cache.
pub async fn refresh(db: &Db, cache: &Cache) -> rusqlite::Result<()> {
    if let Some(m) = db.read(load_menu).await? {
        cache.set(m);
    }
    Ok(())
}

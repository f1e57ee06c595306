//! The store's shared documents on the node: loaded once from SQLite into
//! memory, changed only inside writer transactions, and saved there as
//! incremental chunks (compacted into the snapshot every 50 chunks).
//!
//! The catalog document is the menu's source of truth; the `menu` table is its
//! projection, rewritten in the same transaction whenever the document changes
//! (a manager's edit here, or a merge of the hub's edits).

use domain::settings::StoreSettings;
use std::sync::Mutex;

use domain::menu::Menu;
use rusqlite::{Connection, OptionalExtension, params};
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};
use sync::session::Docs;

use domain::clock::Millis;

const COMPACT_AFTER: i64 = 50;

/// Loads every document kind (an empty one where none is stored).
pub fn load(conn: &Connection, actor: &str) -> anyhow::Result<Docs> {
    let mut docs = Docs::new();
    for kind in DocKind::ALL {
        let snapshot: Option<Vec<u8>> = conn
            .query_row(
                "SELECT snapshot FROM docs WHERE kind = ?1",
                [kind.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let mut stmt = conn.prepare("SELECT bytes FROM doc_chunks WHERE kind = ?1 ORDER BY seq")?;
        let chunks = stmt
            .query_map([kind.as_str()], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let doc = match snapshot {
            Some(s) => SharedDoc::load(kind, actor.as_bytes(), &s, &chunks)?,
            None => SharedDoc::new(kind, actor.as_bytes()),
        };
        docs.insert(kind, doc);
    }
    Ok(docs)
}

/// Persists what changed in `kind` since the last save, in the caller's transaction
/// (a new snapshot is stamped `now`).
pub fn save(
    conn: &Connection,
    docs: &mut Docs,
    kind: DocKind,
    now: Millis,
) -> rusqlite::Result<()> {
    let Some(doc) = docs.get_mut(&kind) else {
        return Ok(());
    };
    let chunk = doc.save_incremental();
    if chunk.is_empty() {
        return Ok(());
    }
    let has_snapshot: bool = conn.query_row(
        "SELECT COUNT(*) FROM docs WHERE kind = ?1",
        [kind.as_str()],
        |r| r.get::<_, i64>(0),
    )? > 0;
    let chunks: i64 = conn.query_row(
        "SELECT COUNT(*) FROM doc_chunks WHERE kind = ?1",
        [kind.as_str()],
        |r| r.get(0),
    )?;
    if !has_snapshot || chunks >= COMPACT_AFTER {
        conn.execute(
            "INSERT INTO docs (kind, snapshot, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind) DO UPDATE SET snapshot = excluded.snapshot, updated_ms = excluded.updated_ms",
            params![kind.as_str(), doc.compact(), now.as_i64()],
        )?;
        conn.execute("DELETE FROM doc_chunks WHERE kind = ?1", [kind.as_str()])?;
    } else {
        conn.execute(
            "INSERT INTO doc_chunks (kind, seq, bytes) VALUES (?1, COALESCE((SELECT MAX(seq) FROM doc_chunks WHERE kind = ?1), 0) + 1, ?2)",
            params![kind.as_str(), chunk],
        )?;
    }
    Ok(())
}

/// Writes `menu` into the catalog document and saves it (the caller stores the projection).
pub fn set_menu(
    conn: &Connection,
    docs: &Mutex<Docs>,
    menu: &Menu,
    now: Millis,
) -> anyhow::Result<()> {
    let mut docs = docs
        .lock()
        .map_err(|_| anyhow::anyhow!("documents lock poisoned"))?;
    let doc = docs
        .entry(DocKind::Catalog)
        .or_insert_with(|| SharedDoc::new(DocKind::Catalog, b"node"));
    write_menu(doc, menu)?;
    save(conn, &mut docs, DocKind::Catalog, now)?;
    Ok(())
}

/// The menu the catalog document describes, if it describes one yet.
pub fn menu_of(docs: &Docs) -> Option<Menu> {
    docs.get(&DocKind::Catalog).and_then(|d| read_menu(d).ok())
}

/// A staff member as the roster document holds them (PIN as an Argon2 hash only).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RosterEntry {
    pub name: String,
    pub role: String,
    pub pin_hash: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Adds or updates a staff member in the roster document and saves it (the caller projects).
pub fn set_staff(
    conn: &Connection,
    docs: &Mutex<Docs>,
    id: &str,
    entry: &RosterEntry,
    now: Millis,
) -> anyhow::Result<()> {
    let mut docs = docs
        .lock()
        .map_err(|_| anyhow::anyhow!("documents lock poisoned"))?;
    let doc = docs
        .entry(DocKind::Roster)
        .or_insert_with(|| SharedDoc::new(DocKind::Roster, b"node"));
    let fields = match serde_json::to_value(entry)? {
        serde_json::Value::Object(m) => m,
        _ => anyhow::bail!("a roster entry is an object"),
    };
    doc.put_entity("staff", id, &fields)?;
    save(conn, &mut docs, DocKind::Roster, now)?;
    Ok(())
}

/// The roster document into the `staff` table: staff the document names are added or updated (and
/// deactivated when it says so); staff it does not name are left alone.
pub fn project_roster(conn: &Connection, docs: &Docs) -> anyhow::Result<usize> {
    let Some(doc) = docs.get(&DocKind::Roster) else {
        return Ok(0);
    };
    let mut n = 0;
    for (id, e) in doc.decode::<RosterEntry>("staff")? {
        if domain::Ident::parse(&id).is_err() || domain::roles::Role::parse(&e.role).is_none() {
            tracing::warn!(staff = %id, "skipping a roster entry with a bad id or role");
            continue;
        }
        conn.execute(
            "INSERT INTO staff (id, name, role, pin_hash, active) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                 pin_hash = excluded.pin_hash, active = excluded.active",
            params![id, e.name, e.role, e.pin_hash, e.active as i64],
        )?;
        n += 1;
    }
    Ok(n)
}

/// The settings document's `store` entity (typed as the hub types it), if it has one.
pub fn settings_of(docs: &Docs) -> StoreSettings {
    docs.get(&DocKind::Settings)
        .and_then(|d| d.decode::<StoreSettings>("settings").ok())
        .and_then(|v| v.into_iter().find(|(id, _)| id == "store").map(|(_, s)| s))
        .unwrap_or_default()
}

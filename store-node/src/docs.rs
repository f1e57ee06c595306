//! The store's shared documents on the node: loaded once from SQLite into
//! memory, changed only inside writer transactions, and saved there as
//! incremental chunks (compacted into the snapshot every 50 chunks).
//!
//! The catalog document is the menu's source of truth; the `menu` table is its
//! projection, rewritten in the same transaction whenever the document changes
//! (a manager's edit here, or a merge of the hub's edits).

use std::sync::Mutex;

use domain::menu::Menu;
use rusqlite::{Connection, OptionalExtension, params};
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};
use sync::session::Docs;

use crate::db::now_ms;

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

/// Persists what changed in `kind` since the last save, in the caller's transaction.
pub fn save(conn: &Connection, docs: &mut Docs, kind: DocKind) -> rusqlite::Result<()> {
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
            params![kind.as_str(), doc.compact(), now_ms() as i64],
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
pub fn set_menu(conn: &Connection, docs: &Mutex<Docs>, menu: &Menu) -> anyhow::Result<()> {
    let mut docs = docs
        .lock()
        .map_err(|_| anyhow::anyhow!("documents lock poisoned"))?;
    let doc = docs
        .entry(DocKind::Catalog)
        .or_insert_with(|| SharedDoc::new(DocKind::Catalog, b"node"));
    write_menu(doc, menu)?;
    save(conn, &mut docs, DocKind::Catalog)?;
    Ok(())
}

/// The menu the catalog document describes, if it describes one yet.
pub fn menu_of(docs: &Docs) -> Option<Menu> {
    docs.get(&DocKind::Catalog).and_then(|d| read_menu(d).ok())
}

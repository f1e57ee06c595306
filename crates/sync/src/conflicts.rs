//! The catalog's same-field conflicts as a merchant settles them.
//!
//! When the hub and a store node change the same field of one menu entity
//! while apart (the dashboard sets the fries to 5.25, the store's manager to
//! 4.75), automerge keeps both writes: every replica shows the same winner and
//! `get_all` lists the other. [`catalog_conflicts`] lists those fields, each
//! distinct value once with where it was written (the hub, or the store's
//! server: the actor id says which, `hub` or the node's origin `node-…`), and
//! [`resolve`] writes the chosen value as a new change whose predecessors are
//! all the current writes, so once it has synced no replica has a conflict on
//! that field and every replica shows the chosen value.
//!
//! Display order (`pos`) is left out: two reorderings that met are not a
//! choice worth a merchant's attention, and the winner keeps the list whole.

use serde_json::Value as Json;

use crate::doc::{DocError, DocKind, SharedDoc};

/// Fields whose conflicts are not shown (see the module's note).
const IGNORED_FIELDS: &[&str] = &["pos"];

/// Where a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// At the hub (the dashboard or the merchant API).
    Hub,
    /// At one of the store's own servers (its store node).
    Store,
    /// A writer this crate cannot place (neither the hub nor a node).
    Unknown,
}

impl Place {
    /// The place of an automerge actor: the hub writes as `hub`, a store node as
    /// its origin (`node-` and a UUID; `node` for a document it created before
    /// it had one).
    pub fn of_actor(actor: &[u8]) -> Place {
        if actor == b"hub" {
            Place::Hub
        } else if actor == b"node" || actor.starts_with(b"node-") {
            Place::Store
        } else {
            Place::Unknown
        }
    }
}

/// One of the values a conflicting field holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConflictValue {
    pub value: Json,
    /// Where it was written (more than one place when both wrote the same value
    /// concurrently with a third); sorted, each once.
    pub from: Vec<Place>,
    /// This is the value every replica shows until someone chooses.
    pub shown: bool,
}

/// A field of a catalog entity that concurrent edits gave different values.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldConflict {
    /// `items`, `modifiers`, `categories`, ...
    pub collection: String,
    /// The entity's id in its collection.
    pub id: String,
    pub field: String,
    /// Two or more distinct values, in automerge's order (the shown one last).
    pub values: Vec<ConflictValue>,
}

/// Why a conflict could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The field has one value (never conflicted, or resolved already).
    #[error("{collection}/{id} has no conflicting values of {field}")]
    NoConflict {
        collection: String,
        id: String,
        field: String,
    },
    /// The chosen value is not one of the conflicting ones.
    #[error("the chosen value is not one of the values of the conflict")]
    NotOffered,
    #[error(transparent)]
    Doc(#[from] DocError),
}

/// The conflict of one field, if it has distinct concurrent values.
pub fn field_conflict(
    doc: &SharedDoc,
    collection: &str,
    id: &str,
    field: &str,
) -> Result<Option<FieldConflict>, DocError> {
    let written = doc.field_values(collection, id, field)?;
    let mut values: Vec<ConflictValue> = vec![];
    let last = written.len().saturating_sub(1);
    for (i, w) in written.into_iter().enumerate() {
        let place = Place::of_actor(&w.actor);
        match values.iter_mut().find(|v| v.value == w.value) {
            Some(v) => {
                if !v.from.contains(&place) {
                    v.from.push(place);
                    v.from.sort();
                }
                v.shown |= i == last;
            }
            None => values.push(ConflictValue {
                value: w.value,
                from: vec![place],
                shown: i == last,
            }),
        }
    }
    Ok((values.len() > 1).then(|| FieldConflict {
        collection: collection.to_owned(),
        id: id.to_owned(),
        field: field.to_owned(),
        values,
    }))
}

/// Every field of every catalog entity whose concurrent writes disagree, by
/// collection (the catalog's order), id and field.
pub fn catalog_conflicts(doc: &SharedDoc) -> Result<Vec<FieldConflict>, DocError> {
    let mut out = vec![];
    for collection in DocKind::Catalog.collections() {
        for (id, fields) in doc.entities(collection)? {
            for field in fields.keys() {
                if IGNORED_FIELDS.contains(&field.as_str()) {
                    continue;
                }
                if let Some(c) = field_conflict(doc, collection, &id, field)? {
                    out.push(c);
                }
            }
        }
    }
    Ok(out)
}

/// Settles one conflict with `chosen`, which must be one of its values: a new
/// write that supersedes every current one (a local change; it reaches the other
/// replicas by sync like any edit). The caller saves the document.
pub fn resolve(
    doc: &mut SharedDoc,
    collection: &str,
    id: &str,
    field: &str,
    chosen: &Json,
) -> Result<(), ResolveError> {
    let Some(conflict) = field_conflict(doc, collection, id, field)? else {
        return Err(ResolveError::NoConflict {
            collection: collection.to_owned(),
            id: id.to_owned(),
            field: field.to_owned(),
        });
    };
    if !conflict.values.iter().any(|v| v.value == *chosen) {
        return Err(ResolveError::NotOffered);
    }
    doc.overwrite_field(collection, id, field, chosen)?;
    Ok(())
}

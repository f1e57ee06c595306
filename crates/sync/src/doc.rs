//! Shared documents: automerge documents that several replicas (the hub and a
//! store node) edit, offline or not, and merge without losing an edit.
//!
//! A document holds *entities* (a menu item, a staff member, ...) in named
//! collections: `collection -> id -> {field: scalar}`. Each field is its own
//! automerge value, so concurrent edits of different fields of one item merge
//! cleanly, and concurrent edits of the same field are kept as a conflict that
//! [`SharedDoc::conflicts`] reports (automerge picks the same winner on every
//! replica; the merchant sees the losing values too). Structured field values
//! (a list of ids) are stored as one JSON string and so are last-writer-wins.
//!
//! Storage is a snapshot plus incremental chunks (`save_incremental`), compacted
//! back into one snapshot by `compact`; sync uses automerge's own protocol with
//! one [`automerge::sync::State`] per peer and document.

use std::collections::BTreeMap;

use automerge::sync::SyncDoc;
use automerge::{
    ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
    transaction::Transactable,
};
use serde_json::{Map, Value as Json};

/// Which shared document of a store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// Categories, items, modifier groups, modifiers, stations, tax classes.
    Catalog,
    /// Store settings: hours, pickup rules, printer routing.
    Settings,
    /// Staff: names, roles, PIN hashes.
    Roster,
}

impl DocKind {
    pub const ALL: [DocKind; 3] = [DocKind::Catalog, DocKind::Settings, DocKind::Roster];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Catalog => "catalog",
            DocKind::Settings => "settings",
            DocKind::Roster => "roster",
        }
    }

    pub fn code(self) -> u8 {
        match self {
            DocKind::Catalog => 1,
            DocKind::Settings => 2,
            DocKind::Roster => 3,
        }
    }

    pub fn from_code(c: u8) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.code() == c)
    }

    /// The collections a document of this kind is created with.
    pub fn collections(self) -> &'static [&'static str] {
        match self {
            DocKind::Catalog => &[
                "tax_classes",
                "stations",
                "categories",
                "modifier_groups",
                "modifiers",
                "items",
            ],
            DocKind::Settings => &["settings"],
            DocKind::Roster => &["staff"],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("document shape: {0}")]
    Shape(String),
    #[error("entity {collection}/{id}: {source}")]
    Decode {
        collection: String,
        id: String,
        source: serde_json::Error,
    },
}

/// Concurrent values of one field, as the merchant should see them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Conflict {
    /// `collection/id/field`, or `field` for a root field.
    pub path: String,
    /// The value every replica shows.
    pub winner: Json,
    /// The values concurrent edits wrote that lost.
    pub others: Vec<Json>,
}

/// One value of a field and the automerge actor (replica) that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub value: Json,
    /// The writer's actor id: `hub` at the hub, the node's origin (`node-…`) at a store node.
    pub actor: Vec<u8>,
}

/// One shared document of one store.
pub struct SharedDoc {
    kind: DocKind,
    doc: AutoCommit,
}

impl std::fmt::Debug for SharedDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDoc")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn scalar_to_json(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Str(s) => {
            let t = s.as_str();
            // Structured values are stored as JSON text, marked by a leading NUL-free prefix.
            match t.strip_prefix("json:") {
                Some(j) => serde_json::from_str(j).unwrap_or(Json::Null),
                None => Json::String(t.to_owned()),
            }
        }
        ScalarValue::Int(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => Json::from(*f),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Null => Json::Null,
        ScalarValue::Timestamp(t) => Json::from(*t),
        ScalarValue::Counter(c) => Json::from(i64::from(c)),
        _ => Json::Null,
    }
}

fn json_to_scalar(v: &Json) -> ScalarValue {
    match v {
        Json::Null => ScalarValue::Null,
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => ScalarValue::Int(i),
            None => ScalarValue::F64(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) if !s.starts_with("json:") => ScalarValue::Str(s.as_str().into()),
        other => ScalarValue::Str(format!("json:{other}").into()),
    }
}

fn value_json(v: &Value<'_>) -> Json {
    match v {
        Value::Scalar(s) => scalar_to_json(s),
        Value::Object(_) => Json::Null,
    }
}

impl SharedDoc {
    /// A new document of `kind` written by `actor` (a replica's stable id, e.g. its origin).
    ///
    /// Every replica starts from the same *genesis* change that creates the
    /// kind's collections: same actor, same operations, time 0, so the same
    /// hash everywhere. Two replicas that create a store's document while
    /// apart therefore share its collections instead of each creating its own
    /// `items` map (automerge would show only one of two concurrently created
    /// maps, hiding the other side's entities).
    pub fn new(kind: DocKind, actor: &[u8]) -> SharedDoc {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(&b"genesis"[..]));
        for c in kind.collections() {
            doc.put_object(ROOT, *c, ObjType::Map)
                .expect("a fresh document takes a map at the root");
        }
        doc.commit_with(automerge::transaction::CommitOptions::default().with_time(0));
        doc.set_actor(ActorId::from(actor));
        SharedDoc { kind, doc }
    }

    /// Loads a snapshot and the incremental chunks saved after it.
    pub fn load(
        kind: DocKind,
        actor: &[u8],
        snapshot: &[u8],
        chunks: &[Vec<u8>],
    ) -> Result<SharedDoc, DocError> {
        let mut doc = if snapshot.is_empty() {
            AutoCommit::new()
        } else {
            AutoCommit::load(snapshot)?
        };
        for c in chunks {
            doc.load_incremental(c)?;
        }
        Ok(SharedDoc {
            kind,
            doc: doc.with_actor(ActorId::from(actor)),
        })
    }

    pub fn kind(&self) -> DocKind {
        self.kind
    }

    /// The changes since the last save, as a chunk to append to storage (empty when none).
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// The whole document as one compact snapshot: replaces the stored snapshot and chunks.
    pub fn compact(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Content hashes of the latest changes: equal heads mean equal documents.
    pub fn heads(&mut self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }

    /// Merges another replica's copy (used by tests; peers use `sync`).
    pub fn merge(&mut self, other: &mut SharedDoc) -> Result<(), DocError> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// The next automerge sync message for a peer, if there is anything to say.
    pub fn generate_sync_message(&mut self, state: &mut automerge::sync::State) -> Option<Vec<u8>> {
        self.doc
            .sync()
            .generate_sync_message(state)
            .map(|m| m.encode())
    }

    /// Applies a peer's sync message.
    pub fn receive_sync_message(
        &mut self,
        state: &mut automerge::sync::State,
        bytes: &[u8],
    ) -> Result<(), DocError> {
        let msg = automerge::sync::Message::decode(bytes)
            .map_err(|e| DocError::Shape(format!("sync message: {e}")))?;
        self.doc.sync().receive_sync_message(state, msg)?;
        Ok(())
    }

    fn collection(&mut self, name: &str, create: bool) -> Result<Option<ObjId>, DocError> {
        match self.doc.get(ROOT, name)? {
            Some((Value::Object(ObjType::Map), id)) => Ok(Some(id)),
            Some(_) => Err(DocError::Shape(format!("{name} is not a map"))),
            None if create => Ok(Some(self.doc.put_object(ROOT, name, ObjType::Map)?)),
            None => Ok(None),
        }
    }

    /// Writes an entity's fields, touching only those whose value changed.
    pub fn put_entity(
        &mut self,
        collection: &str,
        id: &str,
        fields: &Map<String, Json>,
    ) -> Result<(), DocError> {
        let coll = self.collection(collection, true)?.expect("created");
        let obj = match self.doc.get(&coll, id)? {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            _ => self.doc.put_object(&coll, id, ObjType::Map)?,
        };
        for (k, v) in fields {
            let current = self.doc.get(&obj, k.as_str())?.map(|(v, _)| value_json(&v));
            if current.as_ref() != Some(v) {
                self.doc.put(&obj, k.as_str(), json_to_scalar(v))?;
            }
        }
        let stale: Vec<String> = self
            .doc
            .keys(&obj)
            .filter(|k| !fields.contains_key(k))
            .collect();
        for k in stale {
            self.doc.delete(&obj, k.as_str())?;
        }
        Ok(())
    }

    /// Sets one field of an entity that exists; returns false when the entity does not.
    pub fn put_field(
        &mut self,
        collection: &str,
        id: &str,
        field: &str,
        value: &Json,
    ) -> Result<bool, DocError> {
        let Some(coll) = self.collection(collection, false)? else {
            return Ok(false);
        };
        let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(&coll, id)? else {
            return Ok(false);
        };
        let current = self.doc.get(&obj, field)?.map(|(v, _)| value_json(&v));
        if current.as_ref() != Some(value) {
            self.doc.put(&obj, field, json_to_scalar(value))?;
        }
        Ok(true)
    }

    /// Every current value of one entity's field with the actor that wrote it: one
    /// value normally, several after concurrent writes (automerge's `get_all`),
    /// the value every replica shows last. Empty when the entity or field is missing.
    pub fn field_values(
        &self,
        collection: &str,
        id: &str,
        field: &str,
    ) -> Result<Vec<Written>, DocError> {
        let Some((Value::Object(ObjType::Map), coll)) = self.doc.get(ROOT, collection)? else {
            return Ok(vec![]);
        };
        let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(&coll, id)? else {
            return Ok(vec![]);
        };
        Ok(self
            .doc
            .get_all(&obj, field)?
            .iter()
            .map(|(v, op)| Written {
                value: value_json(v),
                actor: match op {
                    ObjId::Id(_, actor, _) => actor.to_bytes().to_vec(),
                    ObjId::Root => vec![],
                },
            })
            .collect())
    }

    /// Writes one field of an entity that exists even when the value shown is
    /// already `value` (`put_field` skips that): the write supersedes every
    /// concurrent value, which ends a conflict (when `value` is the shown one,
    /// automerge writes it as the deletion of the others). A field holding
    /// `value` alone is left as it is. Returns false when the entity does not exist.
    pub fn overwrite_field(
        &mut self,
        collection: &str,
        id: &str,
        field: &str,
        value: &Json,
    ) -> Result<bool, DocError> {
        let Some(coll) = self.collection(collection, false)? else {
            return Ok(false);
        };
        let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(&coll, id)? else {
            return Ok(false);
        };
        self.doc.put(&obj, field, json_to_scalar(value))?;
        Ok(true)
    }

    pub fn delete_entity(&mut self, collection: &str, id: &str) -> Result<(), DocError> {
        if let Some(coll) = self.collection(collection, false)? {
            self.doc.delete(&coll, id)?;
        }
        Ok(())
    }

    /// Every entity of a collection as JSON objects, by id (sorted).
    pub fn entities(
        &self,
        collection: &str,
    ) -> Result<BTreeMap<String, Map<String, Json>>, DocError> {
        let mut out = BTreeMap::new();
        let Some((Value::Object(ObjType::Map), coll)) = self.doc.get(ROOT, collection)? else {
            return Ok(out);
        };
        for id in self.doc.keys(&coll) {
            if let Some((Value::Object(ObjType::Map), obj)) = self.doc.get(&coll, id.as_str())? {
                let mut fields = Map::new();
                for k in self.doc.keys(&obj) {
                    if let Some((v, _)) = self.doc.get(&obj, k.as_str())? {
                        fields.insert(k, value_json(&v));
                    }
                }
                out.insert(id, fields);
            }
        }
        Ok(out)
    }

    /// Entities decoded into a type.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        collection: &str,
    ) -> Result<Vec<(String, T)>, DocError> {
        self.entities(collection)?
            .into_iter()
            .map(|(id, f)| {
                serde_json::from_value(Json::Object(f))
                    .map(|t| (id.clone(), t))
                    .map_err(|source| DocError::Decode {
                        collection: collection.into(),
                        id,
                        source,
                    })
            })
            .collect()
    }

    pub fn put_root(&mut self, field: &str, value: &Json) -> Result<(), DocError> {
        let current = self.doc.get(ROOT, field)?.map(|(v, _)| value_json(&v));
        if current.as_ref() != Some(value) {
            self.doc.put(ROOT, field, json_to_scalar(value))?;
        }
        Ok(())
    }

    pub fn root(&self, field: &str) -> Result<Option<Json>, DocError> {
        Ok(self.doc.get(ROOT, field)?.map(|(v, _)| value_json(&v)))
    }

    /// Fields that concurrent edits wrote different values to.
    pub fn conflicts(&self) -> Result<Vec<Conflict>, DocError> {
        let mut out = vec![];
        let mut entity_conflicts = vec![];
        let mut check = |path: String, all: Vec<(Value<'_>, automerge::ObjId)>| {
            if all.len() > 1 {
                let winner = self.doc_winner(&all);
                let others = all
                    .iter()
                    .map(|(v, _)| value_json(v))
                    .filter(|v| *v != winner)
                    .collect::<Vec<_>>();
                if !others.is_empty() {
                    out.push(Conflict {
                        path,
                        winner,
                        others,
                    });
                }
            }
        };
        for k in self.doc.keys(ROOT) {
            match self.doc.get(ROOT, k.as_str())? {
                Some((Value::Object(ObjType::Map), coll)) => {
                    for id in self.doc.keys(&coll) {
                        // The same entity created on two replicas apart: one whole copy wins.
                        let copies = self.doc.get_all(&coll, id.as_str())?;
                        if copies.len() > 1 {
                            let as_json = |obj: &automerge::ObjId| -> Json {
                                let mut m = Map::new();
                                for f in self.doc.keys(obj) {
                                    if let Ok(Some((v, _))) = self.doc.get(obj, f.as_str()) {
                                        m.insert(f, value_json(&v));
                                    }
                                }
                                Json::Object(m)
                            };
                            let all: Vec<Json> = copies.iter().map(|(_, o)| as_json(o)).collect();
                            let winner = all.last().cloned().unwrap_or(Json::Null);
                            let others: Vec<Json> =
                                all.iter().filter(|v| **v != winner).cloned().collect();
                            if !others.is_empty() {
                                entity_conflicts.push(Conflict {
                                    path: format!("{k}/{id}"),
                                    winner,
                                    others,
                                });
                            }
                        }
                        if let Some((Value::Object(ObjType::Map), obj)) =
                            self.doc.get(&coll, id.as_str())?
                        {
                            for f in self.doc.keys(&obj) {
                                let all = self.doc.get_all(&obj, f.as_str())?;
                                check(format!("{k}/{id}/{f}"), all);
                            }
                        }
                    }
                }
                Some(_) => {
                    let all = self.doc.get_all(ROOT, k.as_str())?;
                    check(k, all);
                }
                None => {}
            }
        }
        out.extend(entity_conflicts);
        Ok(out)
    }

    fn doc_winner(&self, all: &[(Value<'_>, automerge::ObjId)]) -> Json {
        // get() returns the winner; get_all() lists it last (highest op id), the same on every replica.
        all.last().map(|(v, _)| value_json(v)).unwrap_or(Json::Null)
    }
}

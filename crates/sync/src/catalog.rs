//! The catalog document: a store's menu as a [`SharedDoc`], and the projection
//! back into the domain's [`Menu`] that the servers store in relational form.
//!
//! Layout: root fields `currency` and `tax_mode`; collections `tax_classes`,
//! `stations`, `categories`, `modifier_groups`, `modifiers` (each modifier
//! names its `group`, so two sold-out toggles in one group do not collide) and
//! `items`. Every entity has a `pos` giving its display order.

use domain::menu::{Category, Item, Menu, Modifier, ModifierGroup, Station, TaxClass};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json, json};

use crate::doc::{DocError, SharedDoc};

fn fields<T: Serialize>(v: &T, pos: usize, drop: &[&str]) -> Map<String, Json> {
    let mut m = match serde_json::to_value(v) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    };
    m.remove("id");
    for d in drop {
        m.remove(*d);
    }
    m.insert("pos".into(), json!(pos));
    m
}

/// Writes `entries` into `collection`, deleting the entities that are gone.
fn sync_collection(
    doc: &mut SharedDoc,
    collection: &str,
    entries: Vec<(String, Map<String, Json>)>,
) -> Result<(), DocError> {
    let existing = doc.entities(collection)?;
    for (id, f) in &entries {
        doc.put_entity(collection, id, f)?;
    }
    for id in existing.keys() {
        if !entries.iter().any(|(e, _)| e == id) {
            doc.delete_entity(collection, id)?;
        }
    }
    Ok(())
}

/// Makes the document describe `menu`, changing only what differs (so concurrent edits merge field by field).
pub fn write_menu(doc: &mut SharedDoc, menu: &Menu) -> Result<(), DocError> {
    doc.put_root("currency", &json!(menu.currency))?;
    doc.put_root("tax_mode", &json!(menu.tax_mode))?;
    let ids = |v: Vec<(String, Map<String, Json>)>| v;
    sync_collection(
        doc,
        "tax_classes",
        ids(menu
            .tax_classes
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.to_string(), fields(t, i, &[])))
            .collect()),
    )?;
    sync_collection(
        doc,
        "stations",
        menu.stations
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.to_string(), fields(s, i, &[])))
            .collect(),
    )?;
    sync_collection(
        doc,
        "categories",
        menu.categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.to_string(), fields(c, i, &[])))
            .collect(),
    )?;
    sync_collection(
        doc,
        "modifier_groups",
        menu.modifier_groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.to_string(), fields(g, i, &["modifiers"])))
            .collect(),
    )?;
    let mut modifiers = vec![];
    for g in &menu.modifier_groups {
        for (i, m) in g.modifiers.iter().enumerate() {
            let mut f = fields(m, i, &[]);
            f.insert("group".into(), json!(g.id));
            modifiers.push((m.id.to_string(), f));
        }
    }
    sync_collection(doc, "modifiers", modifiers)?;
    sync_collection(
        doc,
        "items",
        menu.items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.id.to_string(), fields(it, i, &[])))
            .collect(),
    )
}

/// Entities of a collection in display order, decoded with their id.
fn ordered<T: DeserializeOwned>(
    doc: &SharedDoc,
    collection: &str,
    drop: &[&str],
) -> Result<Vec<T>, DocError> {
    let mut rows: Vec<(i64, String, Map<String, Json>)> = doc
        .entities(collection)?
        .into_iter()
        .map(|(id, mut f)| {
            let pos = f.remove("pos").and_then(|p| p.as_i64()).unwrap_or(i64::MAX);
            for d in drop {
                f.remove(*d);
            }
            f.insert("id".into(), json!(id));
            (pos, id, f)
        })
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    rows.into_iter()
        .map(|(_, id, f)| {
            serde_json::from_value(Json::Object(f)).map_err(|source| DocError::Decode {
                collection: collection.into(),
                id,
                source,
            })
        })
        .collect()
}

fn decode_root<T: DeserializeOwned>(field: &str, v: Json) -> Result<T, DocError> {
    serde_json::from_value(v).map_err(|e| DocError::Shape(format!("{field}: {e}")))
}

/// The projection: the menu the document describes.
///
/// The result may break a menu rule after a merge (one side deleted a category
/// while the other added an item to it); callers run `Menu::validate` and show
/// what is wrong rather than dropping an edit.
pub fn read_menu(doc: &SharedDoc) -> Result<Menu, DocError> {
    let root = |f: &str| -> Result<Json, DocError> {
        doc.root(f)?
            .ok_or_else(|| DocError::Shape(format!("catalog has no {f}")))
    };
    let mut groups: Vec<ModifierGroup> = {
        let mut rows = doc.entities("modifier_groups")?;
        for f in rows.values_mut() {
            f.insert("modifiers".into(), json!([]));
        }
        let mut out: Vec<(i64, ModifierGroup)> = vec![];
        for (id, mut f) in rows {
            let pos = f.remove("pos").and_then(|p| p.as_i64()).unwrap_or(i64::MAX);
            f.insert("id".into(), json!(id));
            let g: ModifierGroup =
                serde_json::from_value(Json::Object(f)).map_err(|source| DocError::Decode {
                    collection: "modifier_groups".into(),
                    id,
                    source,
                })?;
            out.push((pos, g));
        }
        out.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        out.into_iter().map(|(_, g)| g).collect()
    };
    let mut modifiers: Vec<(String, i64, Modifier)> = vec![];
    for (id, mut f) in doc.entities("modifiers")? {
        let group = f
            .remove("group")
            .and_then(|g| g.as_str().map(str::to_owned))
            .unwrap_or_default();
        let pos = f.remove("pos").and_then(|p| p.as_i64()).unwrap_or(i64::MAX);
        f.insert("id".into(), json!(id));
        let m: Modifier =
            serde_json::from_value(Json::Object(f)).map_err(|source| DocError::Decode {
                collection: "modifiers".into(),
                id,
                source,
            })?;
        modifiers.push((group, pos, m));
    }
    modifiers.sort_by(|a, b| (a.1, &a.2.id).cmp(&(b.1, &b.2.id)));
    for (group, _, m) in modifiers {
        if let Some(g) = groups.iter_mut().find(|g| g.id.as_str() == group) {
            g.modifiers.push(m);
        }
    }
    Ok(Menu {
        currency: decode_root("currency", root("currency")?)?,
        tax_mode: decode_root("tax_mode", root("tax_mode")?)?,
        tax_classes: ordered::<TaxClass>(doc, "tax_classes", &[])?,
        stations: ordered::<Station>(doc, "stations", &[])?,
        categories: ordered::<Category>(doc, "categories", &[])?,
        modifier_groups: groups,
        items: ordered::<Item>(doc, "items", &[])?,
    })
}

//! The catalog's same-field conflicts: listed with where each value was written,
//! and settled by a choice on one side that sync carries to the other.

use domain::menu::Menu;
use proptest::prelude::*;
use serde_json::{Value as Json, json};
use sync::catalog::{read_menu, write_menu};
use sync::conflicts::{Place, ResolveError, catalog_conflicts, resolve};
use sync::doc::{DocKind, SharedDoc};

const NODE: &[u8] = b"node-0190c0ffee0000000000000000000001";

fn demo() -> Menu {
    serde_json::from_str(include_str!("../../../store-node/demo/menu.json")).unwrap()
}

/// The hub and a node holding the same demo catalog, as after their first sync.
fn pair() -> (SharedDoc, SharedDoc) {
    let mut hub = SharedDoc::new(DocKind::Catalog, b"hub");
    write_menu(&mut hub, &demo()).unwrap();
    let node = SharedDoc::load(DocKind::Catalog, NODE, &hub.compact(), &[]).unwrap();
    (hub, node)
}

/// Runs automerge's sync protocol between two replicas until neither has anything to say.
fn sync(a: &mut SharedDoc, b: &mut SharedDoc) {
    let (mut sa, mut sb) = (automerge::sync::State::new(), automerge::sync::State::new());
    for _ in 0..32 {
        let to_b = a.generate_sync_message(&mut sa);
        let to_a = b.generate_sync_message(&mut sb);
        if to_b.is_none() && to_a.is_none() {
            return;
        }
        if let Some(m) = to_b {
            b.receive_sync_message(&mut sb, &m).unwrap();
        }
        if let Some(m) = to_a {
            a.receive_sync_message(&mut sa, &m).unwrap();
        }
    }
    panic!("sync did not go quiet");
}

#[test]
fn a_price_changed_at_both_ends_lists_both_values_and_where_each_was_written() {
    let (mut hub, mut node) = pair();
    assert!(catalog_conflicts(&hub).unwrap().is_empty());
    hub.put_field("items", "shoestring-fries", "price", &json!(525))
        .unwrap();
    node.put_field("items", "shoestring-fries", "price", &json!(475))
        .unwrap();
    sync(&mut hub, &mut node);

    let conflicts = catalog_conflicts(&hub).unwrap();
    assert_eq!(conflicts, catalog_conflicts(&node).unwrap());
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let c = &conflicts[0];
    assert_eq!(
        (c.collection.as_str(), c.id.as_str(), c.field.as_str()),
        ("items", "shoestring-fries", "price")
    );
    let mut seen: Vec<(Json, Vec<Place>)> = c
        .values
        .iter()
        .map(|v| (v.value.clone(), v.from.clone()))
        .collect();
    seen.sort_by_key(|(v, _)| v.as_i64());
    assert_eq!(
        seen,
        vec![
            (json!(475), vec![Place::Store]),
            (json!(525), vec![Place::Hub])
        ]
    );
    // The shown value is the one the menu's projection has.
    let shown = c.values.iter().find(|v| v.shown).unwrap();
    let fries = read_menu(&hub).unwrap();
    let fries = fries
        .items
        .iter()
        .find(|i| i.id.as_str() == "shoestring-fries")
        .unwrap();
    assert_eq!(shown.value, json!(fries.price));

    // A value that is not one of the two, and a field without a conflict, are refused.
    assert!(matches!(
        resolve(&mut hub, "items", "shoestring-fries", "price", &json!(1)),
        Err(ResolveError::NotOffered)
    ));
    assert!(matches!(
        resolve(
            &mut hub,
            "items",
            "shoestring-fries",
            "name",
            &json!("Fries")
        ),
        Err(ResolveError::NoConflict { .. })
    ));
    assert!(matches!(
        resolve(&mut hub, "items", "no-such-item", "price", &json!(475)),
        Err(ResolveError::NoConflict { .. })
    ));
}

#[test]
fn the_same_value_written_at_both_ends_is_no_conflict() {
    let (mut hub, mut node) = pair();
    hub.put_field("items", "shoestring-fries", "price", &json!(500))
        .unwrap();
    node.put_field("items", "shoestring-fries", "price", &json!(500))
        .unwrap();
    sync(&mut hub, &mut node);
    assert!(catalog_conflicts(&hub).unwrap().is_empty());
}

/// Sets a field as a person would, even to the value it had when the replicas
/// parted: first to something else, then back (sold out, then on sale again).
fn set(doc: &mut SharedDoc, id: &str, field: &str, value: &Json) {
    let now = doc.field_values("items", id, field).unwrap();
    if now.len() == 1 && now[0].value == *value {
        assert!(doc.put_field("items", id, field, &Json::Null).unwrap());
    }
    assert!(doc.put_field("items", id, field, value).unwrap());
}

/// Fields a person edits, with two values each side might write.
fn edit() -> impl Strategy<Value = (&'static str, Json, Json)> {
    prop_oneof![
        (0i64..100_000, 0i64..100_000)
            .prop_filter("different", |(a, b)| a != b)
            .prop_map(|(a, b)| ("price", json!(a), json!(b))),
        ("[A-Za-z ]{1,12}", "[A-Za-z ]{1,12}")
            .prop_filter("different", |(a, b)| a != b)
            .prop_map(|(a, b)| ("name", json!(a), json!(b))),
        any::<bool>().prop_map(|a| ("sold_out", json!(a), json!(!a))),
        Just(("tax_class", json!("food"), json!("beverage"))),
        ("[a-z ]{0,20}", "[a-z ]{0,20}")
            .prop_filter("different", |(a, b)| a != b)
            .prop_map(|(a, b)| ("description", json!(a), json!(b))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Two replicas set the same field apart: after sync, one conflict listing both
    /// values; a choice on either side, synced, leaves no conflict anywhere and the
    /// chosen value everywhere.
    #[test]
    fn a_choice_on_one_side_settles_the_conflict_on_both(
        item in 0usize..49,
        (field, at_hub, at_node) in edit(),
        choose_hub_value in any::<bool>(),
        resolve_at_hub in any::<bool>(),
    ) {
        let (mut hub, mut node) = pair();
        let items = demo().items;
        let id = items[item % items.len()].id.to_string();
        set(&mut hub, &id, field, &at_hub);
        set(&mut node, &id, field, &at_node);
        sync(&mut hub, &mut node);

        for side in [&hub, &node] {
            let conflicts = catalog_conflicts(side).unwrap();
            prop_assert_eq!(conflicts.len(), 1);
            let c = &conflicts[0];
            prop_assert_eq!((&c.id, c.field.as_str()), (&id, field));
            prop_assert_eq!(c.values.len(), 2);
            prop_assert_eq!(c.values.iter().filter(|v| v.shown).count(), 1);
            let hub_value = c.values.iter().find(|v| v.from == [Place::Hub]).unwrap();
            let node_value = c.values.iter().find(|v| v.from == [Place::Store]).unwrap();
            prop_assert_eq!(&hub_value.value, &at_hub);
            prop_assert_eq!(&node_value.value, &at_node);
        }

        let chosen = if choose_hub_value { at_hub } else { at_node };
        let resolver = if resolve_at_hub { &mut hub } else { &mut node };
        resolve(resolver, "items", &id, field, &chosen).unwrap();
        prop_assert!(catalog_conflicts(resolver).unwrap().is_empty());
        sync(&mut hub, &mut node);
        for side in [&hub, &node] {
            prop_assert!(catalog_conflicts(side).unwrap().is_empty());
            let values = side.field_values("items", &id, field).unwrap();
            prop_assert_eq!(values.len(), 1);
            prop_assert_eq!(&values[0].value, &chosen);
        }
        prop_assert_eq!(read_menu(&hub).unwrap(), read_menu(&node).unwrap());
    }
}

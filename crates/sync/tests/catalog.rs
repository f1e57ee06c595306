//! The catalog document: projection round trip, merges, conflicts, storage.

use domain::Ident;
use domain::menu::Menu;
use serde_json::json;
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};

fn demo() -> Menu {
    serde_json::from_str(include_str!("../../../store-node/demo/menu.json")).unwrap()
}

fn id(s: &str) -> Ident {
    Ident::parse(s).unwrap()
}

#[test]
fn the_projection_gives_back_the_menu_it_was_given() {
    let menu = demo();
    let mut doc = SharedDoc::new(DocKind::Catalog, b"hub");
    write_menu(&mut doc, &menu).unwrap();
    assert_eq!(read_menu(&doc).unwrap(), menu);
    // Writing the same menu again changes nothing.
    let heads = doc.heads();
    write_menu(&mut doc, &menu).unwrap();
    assert_eq!(doc.heads(), heads);
}

#[test]
fn concurrent_edits_of_different_fields_both_survive() {
    let mut hub = SharedDoc::new(DocKind::Catalog, b"hub");
    write_menu(&mut hub, &demo()).unwrap();
    let snapshot = hub.compact();
    let mut node = SharedDoc::load(DocKind::Catalog, b"node", &snapshot, &[]).unwrap();

    // Offline at the same time: the merchant changes a price, the store marks it sold out
    // and marks a modifier sold out.
    let mut m = read_menu(&hub).unwrap();
    m.items
        .iter_mut()
        .find(|i| i.id == id("fountain-soda"))
        .unwrap()
        .price = 325;
    write_menu(&mut hub, &m).unwrap();
    let mut m = read_menu(&node).unwrap();
    m.set_item_sold_out(&id("fountain-soda"), true).unwrap();
    m.set_modifier_sold_out(&id("burger-addons-bacon"), true)
        .unwrap();
    write_menu(&mut node, &m).unwrap();

    hub.merge(&mut node).unwrap();
    node.merge(&mut hub).unwrap();
    let (a, b) = (read_menu(&hub).unwrap(), read_menu(&node).unwrap());
    assert_eq!(a, b);
    let soda = a.item(&id("fountain-soda")).unwrap();
    assert_eq!((soda.price, soda.sold_out), (325, true));
    assert!(
        a.modifier_groups
            .iter()
            .flat_map(|g| &g.modifiers)
            .any(|m| m.id == id("burger-addons-bacon") && m.sold_out)
    );
    assert!(hub.conflicts().unwrap().is_empty());
    a.validate().unwrap();
}

#[test]
fn concurrent_edits_of_one_field_are_reported_not_dropped() {
    let mut hub = SharedDoc::new(DocKind::Catalog, b"hub");
    write_menu(&mut hub, &demo()).unwrap();
    let mut node = SharedDoc::load(DocKind::Catalog, b"node", &hub.compact(), &[]).unwrap();
    assert!(
        hub.put_field("items", "fountain-soda", "price", &json!(300))
            .unwrap()
    );
    assert!(
        node.put_field("items", "fountain-soda", "price", &json!(350))
            .unwrap()
    );
    hub.merge(&mut node).unwrap();
    node.merge(&mut hub).unwrap();
    assert_eq!(
        read_menu(&hub).unwrap(),
        read_menu(&node).unwrap(),
        "both show the same winner"
    );
    let conflicts = hub.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(c.path, "items/fountain-soda/price");
    let mut all = vec![c.winner.clone()];
    all.extend(c.others.clone());
    all.sort_by_key(|v| v.as_i64());
    assert_eq!(all, vec![json!(300), json!(350)]);
    assert_eq!(node.conflicts().unwrap(), conflicts);
}

#[test]
fn snapshot_plus_chunks_loads_and_compacts_to_the_same_document() {
    let mut doc = SharedDoc::new(DocKind::Catalog, b"node");
    let mut menu = demo();
    write_menu(&mut doc, &menu).unwrap();
    let snapshot = doc.compact();
    let mut chunks = vec![];
    for price in [100, 200, 300] {
        menu.items[0].price = price;
        write_menu(&mut doc, &menu).unwrap();
        chunks.push(doc.save_incremental());
    }
    let mut loaded = SharedDoc::load(DocKind::Catalog, b"node", &snapshot, &chunks).unwrap();
    assert_eq!(read_menu(&loaded).unwrap(), menu);
    assert_eq!(loaded.heads(), doc.heads());
    let compacted = loaded.compact();
    let mut again = SharedDoc::load(DocKind::Catalog, b"node", &compacted, &[]).unwrap();
    assert_eq!(again.heads(), doc.heads());
    assert!(SharedDoc::load(DocKind::Catalog, b"x", b"not automerge", &[]).is_err());
}

#[test]
fn menus_created_apart_merge_instead_of_hiding_each_other() {
    // A node seeded offline and the hub each build a catalog from scratch.
    let mut node = SharedDoc::new(DocKind::Catalog, b"node");
    let mut hub = SharedDoc::new(DocKind::Catalog, b"hub");
    let menu = demo();
    let mut small = menu.clone();
    small.items.truncate(3);
    write_menu(&mut node, &menu).unwrap();
    write_menu(&mut hub, &small).unwrap();
    hub.merge(&mut node).unwrap();
    node.merge(&mut hub).unwrap();
    let merged = read_menu(&hub).unwrap();
    assert_eq!(merged, read_menu(&node).unwrap());
    // Both sides' entities survive: the union, not one side's map.
    assert_eq!(merged.items.len(), menu.items.len());

    // The same item created on both sides with different prices: one copy wins, the other is reported.
    let mut a = SharedDoc::new(DocKind::Catalog, b"a");
    let mut b = SharedDoc::new(DocKind::Catalog, b"b");
    let mut m1 = small.clone();
    m1.items[0].price = 111;
    let mut m2 = small.clone();
    m2.items[0].price = 222;
    write_menu(&mut a, &m1).unwrap();
    write_menu(&mut b, &m2).unwrap();
    a.merge(&mut b).unwrap();
    let path = format!("items/{}", small.items[0].id);
    let c = a
        .conflicts()
        .unwrap()
        .into_iter()
        .find(|c| c.path == path)
        .expect("reported");
    let prices: Vec<i64> = std::iter::once(&c.winner)
        .chain(&c.others)
        .map(|v| v["price"].as_i64().unwrap())
        .collect();
    assert_eq!(
        prices
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        [111, 222].into()
    );
}

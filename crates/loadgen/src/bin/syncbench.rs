//! `syncbench`: the sync figures of BENCHMARKS.md, measured on the real sync
//! code (crates/sync) with the in-memory simulated network, so they show the
//! protocol's own cost without a disk or a socket.
//!
//! 1. A day offline: a node partitioned from the hub takes `--orders` orders
//!    (each with a status change) while `--edits` menu edits happen on both
//!    sides; then the link heals. Reports the time and the wire bytes to
//!    converge, next to the raw bytes of the events that had to move.
//! 2. A catalog of `--items` items after `--catalog-edits` edits, each saved
//!    as an incremental chunk: stored size and load time of snapshot+chunks,
//!    and of the compacted snapshot.

use std::time::Instant;

use clap::Parser;
use domain::Ident;
use domain::menu::{Item, Menu};
use sync::catalog::{read_menu, write_menu};
use sync::doc::{DocKind, SharedDoc};
use sync::log::EventStore;
use sync::sim::{Faults, Net, Rng};

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[arg(long, default_value_t = 5000)]
    orders: usize,
    #[arg(long, default_value_t = 500)]
    edits: usize,
    #[arg(long, default_value_t = 1000)]
    items: usize,
    #[arg(long, default_value_t = 10_000)]
    catalog_edits: usize,
}

fn demo() -> Menu {
    serde_json::from_str(include_str!("../../../../store-node/demo/menu.json")).expect("demo menu")
}

fn big_menu(n: usize) -> Menu {
    let mut m = demo();
    let template = m.items[0].clone();
    m.items = (0..n)
        .map(|i| Item {
            id: Ident::parse(&format!("item-{i:04}")).expect("id"),
            sku: Ident::parse(&format!("SKU-{i:04}")).expect("sku"),
            name: format!("Item number {i}"),
            price: 500 + (i as i64 % 2000),
            ..template.clone()
        })
        .collect();
    m
}

fn day_offline(args: &Args) {
    let mut net = Net::new(1, "hub", &["node-a"], &demo(), Faults::NONE);
    net.heal_and_quiesce(10_000_000).expect("initial sync");
    net.partition("node-a");
    let mut rng = Rng::new(7);
    let t = Instant::now();
    for i in 0..args.orders {
        net.place_order("node-a");
        net.progress_order("node-a");
        if i % (args.orders / args.edits.max(1)).max(1) == 0 {
            let who = if rng.below(2) == 0 { "hub" } else { "node-a" };
            net.edit_menu(who);
        }
    }
    let offline = t.elapsed();
    let events: Vec<_> = net.replicas["node-a"].log.events().cloned().collect();
    let hub_before = net.replicas["hub"]
        .log
        .vector()
        .expect("vector")
        .get("node-a");
    let raw: usize = events
        .iter()
        .filter(|e| e.seq > hub_before)
        .map(|e| serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0))
        .sum();
    let moved = events.iter().filter(|e| e.seq > hub_before).count();
    let (f0, b0) = (net.delivered, net.bytes);
    let t = Instant::now();
    net.heal_and_quiesce(10_000_000).expect("converges");
    let took = t.elapsed();
    net.check_converged().expect("identical replicas");
    let (frames, bytes) = (net.delivered - f0, net.bytes - b0);
    println!(
        "| day offline: {} orders, {} menu edits, then reconnect | {moved} events to move ({raw} raw bytes) |",
        args.orders, args.edits
    );
    println!(
        "| time to converge after reconnect | {:.0} ms ({frames} frames) |",
        took.as_secs_f64() * 1000.0
    );
    println!(
        "| wire bytes to converge | {bytes} ({:.2}x the raw event bytes; includes the menu documents) |",
        bytes as f64 / raw.max(1) as f64
    );
    println!(
        "| (recording the offline day took) | {:.0} ms |",
        offline.as_secs_f64() * 1000.0
    );
}

fn catalog(args: &Args) {
    let mut doc = SharedDoc::new(DocKind::Catalog, b"node");
    let mut menu = big_menu(args.items);
    write_menu(&mut doc, &menu).expect("write");
    let snapshot = doc.compact();
    let mut chunks = Vec::with_capacity(args.catalog_edits);
    let mut rng = Rng::new(3);
    let t = Instant::now();
    for _ in 0..args.catalog_edits {
        let i = rng.below(menu.items.len());
        let item = &mut menu.items[i];
        match rng.below(3) {
            0 => item.price = 100 + rng.below(5000) as i64,
            1 => item.sold_out = !item.sold_out,
            _ => item.name = format!("Item {} v{}", i, rng.below(1000)),
        }
        let field = match rng.below(3) {
            0 => ("price", serde_json::json!(item.price)),
            1 => ("sold_out", serde_json::json!(item.sold_out)),
            _ => ("name", serde_json::json!(item.name)),
        };
        let _ = doc.put_field("items", item.id.as_str(), field.0, &field.1);
        chunks.push(doc.save_incremental());
    }
    let edit_time = t.elapsed();
    let chunk_bytes: usize = chunks.iter().map(Vec::len).sum();
    let t = Instant::now();
    let loaded = SharedDoc::load(DocKind::Catalog, b"node", &snapshot, &chunks).expect("load");
    let load_chunks = t.elapsed();
    let expected = read_menu(&loaded).expect("projection");
    let compacted = doc.compact();
    let t = Instant::now();
    let again = SharedDoc::load(DocKind::Catalog, b"node", &compacted, &[]).expect("load");
    let load_compact = t.elapsed();
    assert_eq!(read_menu(&again).expect("projection"), expected);
    let t = Instant::now();
    let _ = read_menu(&again).expect("projection");
    let project = t.elapsed();
    println!(
        "| catalog: {} items, {} edits (each saved as a chunk) | {:.0} µs per edit and save |",
        args.items,
        args.catalog_edits,
        edit_time.as_secs_f64() * 1e6 / args.catalog_edits as f64
    );
    println!(
        "| stored: snapshot + chunks | {} KiB ({} KiB snapshot + {} chunks, {} KiB) |",
        (snapshot.len() + chunk_bytes) / 1024,
        snapshot.len() / 1024,
        chunks.len(),
        chunk_bytes / 1024
    );
    println!(
        "| load snapshot + chunks | {:.0} ms |",
        load_chunks.as_secs_f64() * 1000.0
    );
    println!(
        "| stored: compacted snapshot | {} KiB |",
        compacted.len() / 1024
    );
    println!(
        "| load compacted snapshot | {:.0} ms |",
        load_compact.as_secs_f64() * 1000.0
    );
    println!(
        "| project the document to the menu ({} items) | {:.0} ms |",
        args.items,
        project.as_secs_f64() * 1000.0
    );
}

fn main() {
    let args = Args::parse();
    println!("| measurement | value |");
    println!("|---|---|");
    day_offline(&args);
    catalog(&args);
}

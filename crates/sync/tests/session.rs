//! A session refuses frames that are not for its store or that forge history.

use std::collections::BTreeMap;

use sync::log::{EventStore, MemoryLog};
use sync::session::{Session, SessionError};
use sync::wire::{self, Frame};

#[test]
fn wrong_store_foreign_and_forged_events_are_refused() {
    let mut docs = BTreeMap::new();
    let mut log = MemoryLog::new();
    let mut s = Session::new("hub", "store-1");
    s.start(&log, &mut docs).unwrap();

    let hello = |store: &str| Frame::Hello {
        store: store.into(),
        replica: "node-a".into(),
        vector: Default::default(),
        features: vec![],
    };
    assert!(matches!(
        s.receive(hello("store-2"), &mut log, &mut docs),
        Err(SessionError::WrongStore { .. })
    ));
    s.receive(hello("store-1"), &mut log, &mut docs).unwrap();

    let mut other = MemoryLog::new();
    let foreign = other.record(
        "store-2",
        "node-a",
        "order.created",
        Some("o"),
        serde_json::json!({}),
    );
    let err = s
        .receive(
            Frame::Events {
                events: vec![foreign],
            },
            &mut log,
            &mut docs,
        )
        .unwrap_err();
    assert_eq!(err.code(), "foreign_event");

    let mut theirs = MemoryLog::new();
    let real = theirs.record(
        "store-1",
        "node-a",
        "order.created",
        Some("o"),
        serde_json::json!({}),
    );
    let step = s
        .receive(
            Frame::Events {
                events: vec![real.clone(), real.clone()],
            },
            &mut log,
            &mut docs,
        )
        .unwrap();
    assert_eq!(
        step.applied.len(),
        1,
        "a duplicate in the same batch is applied once"
    );
    let again = s
        .receive(
            Frame::Events {
                events: vec![real.clone()],
            },
            &mut log,
            &mut docs,
        )
        .unwrap();
    assert!(
        again.applied.is_empty(),
        "a resent event is not applied twice"
    );
    let mut forged = real.clone();
    forged.id = uuid::Uuid::now_v7();
    let err = s
        .receive(
            Frame::Events {
                events: vec![forged],
            },
            &mut log,
            &mut docs,
        )
        .unwrap_err();
    assert_eq!(err.code(), "forged_event");
    assert_eq!(log.vector().unwrap().get("node-a"), 1);
}

#[test]
fn a_gap_is_held_back_and_asked_for() {
    let mut docs = BTreeMap::new();
    let mut log = MemoryLog::new();
    let mut s = Session::new("hub", "store-1");
    s.start(&log, &mut docs).unwrap();
    let mut theirs = MemoryLog::new();
    let events: Vec<_> = (0..3)
        .map(|_| {
            theirs.record(
                "store-1",
                "node-a",
                "order.created",
                None,
                serde_json::json!({}),
            )
        })
        .collect();
    let step = s
        .receive(
            Frame::Events {
                events: vec![events[2].clone()],
            },
            &mut log,
            &mut docs,
        )
        .unwrap();
    assert!(step.applied.is_empty());
    assert!(
        step.send.iter().any(|f| matches!(f, Frame::Hello { .. })),
        "asks for the missing range"
    );
    let step = s
        .receive(
            Frame::Events {
                events: events[..2].to_vec(),
            },
            &mut log,
            &mut docs,
        )
        .unwrap();
    assert_eq!(
        step.applied.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[test]
fn events_the_peer_sent_are_never_sent_back() {
    // While connected, a node sends its new events; the hub must not echo them to it.
    let mut docs = BTreeMap::new();
    let mut hub_log = MemoryLog::new();
    let mut hub = Session::new("hub", "store-1");
    hub.start(&hub_log, &mut docs).unwrap();
    hub.receive(
        Frame::Hello {
            store: "store-1".into(),
            replica: "node-a".into(),
            vector: Default::default(),
            features: vec![],
        },
        &mut hub_log,
        &mut docs,
    )
    .unwrap();
    let mut node_log = MemoryLog::new();
    let events: Vec<_> = (0..3)
        .map(|_| {
            node_log.record(
                "store-1",
                "node-a",
                "order.created",
                None,
                serde_json::json!({}),
            )
        })
        .collect();
    let step = hub
        .receive(Frame::Events { events }, &mut hub_log, &mut docs)
        .unwrap();
    assert_eq!(step.applied.len(), 3);
    let echoed: usize = step
        .send
        .iter()
        .chain(&hub.flush(&hub_log, &mut docs).unwrap())
        .map(|f| {
            if let Frame::Events { events } = f {
                events.len()
            } else {
                0
            }
        })
        .sum();
    assert_eq!(echoed, 0, "the hub sent the node's own events back to it");
}

/// A day of the largest orders taken offline (130 of about 130 KB, 17 MB in
/// all, over the 16 MiB a peer accepts in one frame) reaches the hub: every
/// message stays within the frame budget, and acks pull the rest.
#[test]
fn a_large_backlog_goes_in_frames_the_peer_accepts() {
    let (mut node_docs, mut hub_docs) = (BTreeMap::new(), BTreeMap::new());
    let mut node_log = MemoryLog::new();
    let note = "n".repeat(200);
    for _ in 0..130 {
        let lines: Vec<_> = (0..100)
            .map(|i| serde_json::json!({ "item_id": format!("item-{i}"), "quantity": 1, "note": note, "name": "Double cheeseburger", "unit_price": 1299, "modifiers": [] }))
            .collect();
        node_log.record(
            "store-1",
            "node-a",
            "order.created",
            None,
            serde_json::json!({ "order": { "lines": lines } }),
        );
    }
    let mut hub_log = MemoryLog::new();
    let mut node = Session::new("node-a", "store-1");
    let mut hub = Session::new("hub", "store-1");
    // Both sides start; then frames travel as bytes, as over the socket, until quiet.
    let mut to_hub: Vec<Vec<u8>> = vec![];
    let mut to_node: Vec<Vec<u8>> = vec![];
    for f in node.start(&node_log, &mut node_docs).unwrap() {
        to_hub.extend(node.encode(&f));
    }
    for f in hub.start(&hub_log, &mut hub_docs).unwrap() {
        to_node.extend(hub.encode(&f));
    }
    let mut largest = 0;
    while !(to_hub.is_empty() && to_node.is_empty()) {
        for bytes in std::mem::take(&mut to_hub) {
            largest = largest.max(bytes.len());
            let step = hub
                .receive(wire::decode(&bytes).unwrap(), &mut hub_log, &mut hub_docs)
                .unwrap();
            for f in step.send {
                to_node.extend(hub.encode(&f));
            }
        }
        for bytes in std::mem::take(&mut to_node) {
            largest = largest.max(bytes.len());
            let step = node
                .receive(wire::decode(&bytes).unwrap(), &mut node_log, &mut node_docs)
                .unwrap();
            for f in step.send {
                to_hub.extend(node.encode(&f));
            }
        }
    }
    assert_eq!(hub_log.len(), 130, "every order reached the hub");
    assert!(
        largest <= wire::FRAME_BUDGET,
        "a message of {largest} bytes"
    );
}

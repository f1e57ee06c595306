//! The envelope decoder takes anything and returns a frame or an error, never a panic.

use proptest::prelude::*;
use sync::VersionVector;
use sync::doc::DocKind;
use sync::log::Event;
use sync::wire::{
    Assembler, FRAME_BUDGET, Frame, MAX_FRAME, WireError, decode, encode, encode_within,
};

fn event(seq: u64) -> Event {
    Event {
        id: uuid::Uuid::now_v7(),
        store: "store-1".into(),
        origin: "node-a".into(),
        seq,
        hlc: "0001".into(),
        kind: "order.created".into(),
        subject: Some("o-1".into()),
        data: serde_json::json!({"total": 1234}),
    }
}

#[test]
fn frames_round_trip() {
    let mut v = VersionVector::new();
    v.apply("node-a", 1);
    for f in [
        Frame::Hello {
            store: "store-1".into(),
            replica: "node-a".into(),
            vector: v.clone(),
            features: vec!["keys".into()],
        },
        Frame::Events {
            events: vec![event(1), event(2)],
        },
        Frame::Ack { vector: v },
        Frame::Doc {
            kind: DocKind::Roster,
            message: vec![0x42, 1, 2, 3],
        },
        Frame::Error {
            code: "wrong_store".into(),
            message: "no".into(),
        },
        Frame::Keys {
            issuer: "cloud-hub".into(),
            jwks: serde_json::json!({"keys": [{"kty": "OKP", "kid": "k1"}]}),
        },
        Frame::EndedSessions {
            sessions: vec![sync::wire::EndedSession {
                sid: "0193a1b2-family".into(),
                until: 1_800_000_000,
            }],
        },
        Frame::Part {
            id: 7,
            index: 1,
            count: 3,
            bytes: vec![1, 2, 3],
        },
    ] {
        assert_eq!(decode(&encode(&f)).unwrap(), f);
    }
}

/// Builds before `features` existed send hellos without it, and read ours.
#[test]
fn hellos_without_features_are_what_older_builds_speak() {
    let old = br#"{"store":"s","replica":"n","vector":{}}"#;
    let mut bytes = b"EDGS".to_vec();
    bytes.extend([1, 1]);
    bytes.extend((old.len() as u32).to_be_bytes());
    bytes.extend(old);
    let bare = Frame::Hello {
        store: "s".into(),
        replica: "n".into(),
        vector: VersionVector::new(),
        features: vec![],
    };
    assert_eq!(decode(&bytes).unwrap(), bare);
    assert_eq!(encode(&bare), bytes);
}

#[test]
fn rejects_what_is_not_a_current_frame() {
    let good = encode(&Frame::Ack {
        vector: VersionVector::new(),
    });
    assert_eq!(decode(&good[..5]), Err(WireError::Truncated));
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(decode(&bad), Err(WireError::BadMagic));
    let mut newer = good.clone();
    newer[4] = 2;
    assert_eq!(decode(&newer), Err(WireError::UnsupportedVersion(2)));
    let mut kind = good.clone();
    kind[5] = 99;
    assert_eq!(decode(&kind), Err(WireError::UnknownKind(99)));
    assert!(matches!(
        decode(&good[..good.len() - 1]),
        Err(WireError::LengthMismatch { .. })
    ));
    assert!(matches!(
        decode(&vec![0u8; MAX_FRAME + 1]),
        Err(WireError::TooLarge(_))
    ));
    let mut doc = encode(&Frame::Doc {
        kind: DocKind::Catalog,
        message: vec![1],
    });
    doc[10] = 77;
    assert!(matches!(decode(&doc), Err(WireError::Malformed(_))));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    /// A valid frame with its payload mangled decodes to an error or to some frame, never a panic.
    #[test]
    fn mangled_frames_never_panic(seq in 1u64..1000, flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = encode(&Frame::Events { events: vec![event(seq)] });
        for (at, x) in flips {
            let i = 10 + at % (bytes.len() - 10);
            bytes[i] ^= x;
        }
        let _ = decode(&bytes);
    }
}

/// Joins parts the way a receiver does: decodes each message, feeds the parts in.
fn join(messages: &[Vec<u8>]) -> Vec<Frame> {
    let mut a = Assembler::default();
    let mut out = vec![];
    for m in messages {
        assert!(
            m.len() <= FRAME_BUDGET.max(MAX_FRAME),
            "no message over what a peer accepts"
        );
        match decode(m).unwrap() {
            Frame::Part {
                id,
                index,
                count,
                bytes,
            } => {
                if let Some(f) = a.push(id, index, count, &bytes).unwrap() {
                    out.push(f);
                }
            }
            f => out.push(f),
        }
    }
    out
}

/// A frame over [`MAX_FRAME`] (one 20 MB event) reaches a peer that joins parts
/// in messages within the budget, and comes out whole.
#[test]
fn a_frame_over_the_limit_travels_in_parts() {
    let mut big = event(1);
    big.data = serde_json::json!({ "note": "x".repeat(MAX_FRAME + 4 * 1024 * 1024) });
    let f = Frame::Events { events: vec![big] };
    let messages = encode_within(&f, FRAME_BUDGET, true);
    assert!(messages.len() > 4);
    assert!(messages.iter().all(|m| m.len() <= FRAME_BUDGET));
    assert_eq!(join(&messages), vec![f.clone()]);
    // Even to a peer that never said it joins parts: whole, it would be refused anyway.
    assert!(encode_within(&f, FRAME_BUDGET, false).len() > 1);
    // Under the limit, a peer that does not join parts gets the frame whole.
    let small = Frame::Events {
        events: vec![event(1); 10],
    };
    assert_eq!(encode_within(&small, 100, false), vec![encode(&small)]);
}

proptest! {
    /// Any frame, any budget: the parts stay within the budget and join to the frame.
    #[test]
    fn parts_join_to_the_frame(n in 1u64..40, budget in 23usize..4096) {
        let f = Frame::Events { events: (1..=n).map(event).collect() };
        let messages = encode_within(&f, budget, true);
        prop_assert!(messages.iter().all(|m| m.len() <= budget.max(23)));
        prop_assert_eq!(join(&messages), vec![f]);
    }

    /// Parts lost, doubled or shuffled never join into a wrong frame: each join is the frame or nothing.
    #[test]
    fn mixed_up_parts_join_to_nothing_wrong(order in prop::collection::vec(0usize..12, 0..30)) {
        let a = Frame::Events { events: (1..=6).map(event).collect() };
        let b = Frame::Events { events: (7..=12).map(event).collect() };
        let mut all = encode_within(&a, 300, true);
        all.extend(encode_within(&b, 300, true));
        let picked: Vec<Vec<u8>> = order.iter().map(|i| all[i % all.len()].clone()).collect();
        for f in join(&picked) {
            prop_assert!(f == a || f == b);
        }
    }
}

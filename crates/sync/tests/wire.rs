//! The envelope decoder takes anything and returns a frame or an error, never a panic.

use proptest::prelude::*;
use sync::VersionVector;
use sync::doc::DocKind;
use sync::log::Event;
use sync::wire::{Frame, MAX_FRAME, WireError, decode, encode};

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

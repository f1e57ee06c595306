//! MQTT 3.1.1 framing for the proxy: find where the next whole packet ends in
//! a byte stream, decode it with rumqttc's v4 codec so the proxy can look at
//! it, and build the one packet the proxy writes itself (a CONNACK).
//!
//! The proxy forwards the original bytes of every packet; the decoded form is
//! only for looking. The one exception is [`set_keep_alive`], which patches
//! the two keep-alive bytes of a CONNECT in place (see the module doc of `mqtt`).

use rumqttc::mqttbytes::v4::{ConnectReturnCode, Packet};
use rumqttc::mqttbytes::{self, check};
use thiserror::Error;

/// Why a byte stream is not acceptable MQTT.
#[derive(Debug, Error)]
pub enum FrameError {
    #[error("packet of {0} bytes is larger than allowed")]
    TooLarge(usize),
    #[error("malformed packet: {0}")]
    Malformed(#[source] mqttbytes::Error),
}

/// The next whole packet at the start of `buf`: its length in bytes and its
/// decoding. `Ok(None)` when `buf` does not hold a whole packet yet.
/// `max_remaining` bounds the packet's remaining length (all but the 2–5
/// byte fixed header) and is checked before the packet has fully arrived.
pub fn next_packet(
    buf: &[u8],
    max_remaining: usize,
) -> Result<Option<(usize, Packet)>, FrameError> {
    let header = match check(buf.iter(), max_remaining) {
        Ok(header) => header,
        Err(mqttbytes::Error::InsufficientBytes(_)) => return Ok(None),
        Err(mqttbytes::Error::PayloadSizeLimitExceeded(n)) => return Err(FrameError::TooLarge(n)),
        Err(e) => return Err(FrameError::Malformed(e)),
    };
    let len = header.frame_length();
    let frame = buf
        .get(..len)
        .ok_or(FrameError::Malformed(mqttbytes::Error::MalformedPacket))?;
    // rumqttc decodes from a `bytes::BytesMut`; store-node does not depend on
    // `bytes` itself, so the buffer's type is inferred from `Packet::read`.
    let mut owned = From::from(frame);
    let packet = Packet::read(&mut owned, max_remaining).map_err(FrameError::Malformed)?;
    Ok(Some((len, packet)))
}

/// A CONNACK with `code` and no session present.
pub fn connack(code: ConnectReturnCode) -> [u8; 4] {
    [0x20, 0x02, 0x00, code as u8]
}

/// The offset of the CONNECT variable header (after the fixed header), or
/// `None` when `frame` is too short to tell.
fn variable_header_start(frame: &[u8]) -> Option<usize> {
    // Byte 0 is the packet type; then 1 to 4 bytes of remaining length, the
    // last one with the high bit clear.
    let len_bytes = frame.get(1..)?.iter().take(4).position(|b| b & 0x80 == 0)? + 1;
    Some(1 + len_bytes)
}

/// The protocol name and level a CONNECT claims (`("MQTT", 4)` for 3.1.1,
/// `("MQIsdp", 3)` for 3.1, `("MQTT", 5)` for 5), read without decoding the
/// rest, so that a client of another version can be answered with a proper
/// CONNACK even when its packet does not decode as 3.1.1.
pub fn protocol_of(frame: &[u8]) -> Option<(&[u8], u8)> {
    let start = variable_header_start(frame)?;
    let name_len = u16::from_be_bytes([*frame.get(start)?, *frame.get(start + 1)?]) as usize;
    let name = frame.get(start + 2..start + 2 + name_len)?;
    let level = *frame.get(start + 2 + name_len)?;
    Some((name, level))
}

/// Writes `secs` into the keep-alive field of a CONNECT frame. Returns false
/// (and changes nothing) when `frame` is not long enough to hold one.
pub fn set_keep_alive(frame: &mut [u8], secs: u16) -> bool {
    let Some((name, _)) = protocol_of(frame) else {
        return false;
    };
    let Some(start) = variable_header_start(frame) else {
        return false;
    };
    // name length (2) + name + level (1) + flags (1), then the keep-alive.
    let at = start + 2 + name.len() + 2;
    match frame.get_mut(at..at + 2) {
        Some(field) => {
            field.copy_from_slice(&secs.to_be_bytes());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rumqttc::mqttbytes::QoS;
    use rumqttc::mqttbytes::v4::{Connect, LastWill, Publish, Subscribe};

    /// Encodes a packet with rumqttc (the test side may infer `BytesMut` the same way).
    fn encode(packet: &Packet) -> Vec<u8> {
        let mut buf = From::from(&[][..]);
        packet.write(&mut buf, usize::MAX).expect("encodes");
        let bytes: &[u8] = &buf;
        bytes.to_vec()
    }

    fn connect(keep_alive: u16) -> Packet {
        let mut c = Connect::new("kds-1");
        c.keep_alive = keep_alive;
        c.set_login("kds-1", "secret");
        c.last_will = Some(LastWill::new(
            "store/demo/devices/kds-1/status",
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
        Packet::Connect(c)
    }

    #[test]
    fn splits_a_stream_into_packets() {
        let mut stream = encode(&connect(30));
        let mut publish = Publish::new(
            "store/demo/devices/kds-1/x",
            QoS::AtLeastOnce,
            vec![7u8; 300],
        );
        publish.pkid = 1;
        let publish = Packet::Publish(publish);
        stream.extend(encode(&publish));
        stream.extend(encode(&Packet::PingReq));

        let (n1, p1) = next_packet(&stream, 1024).unwrap().unwrap();
        assert_eq!(p1, connect(30));
        let (n2, p2) = next_packet(&stream[n1..], 1024).unwrap().unwrap();
        let Packet::Publish(p) = p2 else {
            panic!("not a publish")
        };
        assert_eq!(p.topic, "store/demo/devices/kds-1/x");
        assert_eq!(p.payload.len(), 300);
        let (n3, p3) = next_packet(&stream[n1 + n2..], 1024).unwrap().unwrap();
        assert_eq!(p3, Packet::PingReq);
        assert_eq!(n1 + n2 + n3, stream.len());
        // Every strict prefix of the last packet is "not yet".
        for cut in n1 + n2..stream.len() {
            assert!(next_packet(&stream[n1 + n2..cut], 1024).unwrap().is_none());
        }
    }

    #[test]
    fn refuses_large_packets_before_they_arrive() {
        let publish = Packet::Publish(Publish::new("t/x", QoS::AtMostOnce, vec![0u8; 5000]));
        let bytes = encode(&publish);
        // Only the fixed header has arrived.
        assert!(matches!(
            next_packet(&bytes[..4], 1000),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn reads_protocol_and_patches_keep_alive() {
        let mut bytes = encode(&connect(0));
        assert_eq!(protocol_of(&bytes), Some((&b"MQTT"[..], 4)));
        assert!(set_keep_alive(&mut bytes, 60));
        let (_, packet) = next_packet(&bytes, 1024).unwrap().unwrap();
        assert_eq!(packet, connect(60));
        // A 3.1 CONNECT (protocol name MQIsdp, level 3).
        let v31 = [
            0x10, 0x12, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x3c,
            0x00, 0x04, b't', b'e', b's', b't',
        ];
        assert_eq!(protocol_of(&v31), Some((&b"MQIsdp"[..], 3)));
        assert!(next_packet(&v31, 1024).is_err());
        assert_eq!(protocol_of(&[0x10]), None);
        assert!(!set_keep_alive(&mut [0x10, 0x02, 0x00], 5));
    }

    #[test]
    fn connack_bytes() {
        assert_eq!(
            connack(ConnectReturnCode::NotAuthorized),
            [0x20, 0x02, 0x00, 0x05]
        );
        assert_eq!(
            connack(ConnectReturnCode::BadUserNamePassword),
            [0x20, 0x02, 0x00, 0x04]
        );
    }

    fn any_packet() -> impl Strategy<Value = Packet> {
        let topic = "[a-z/+#]{0,20}";
        prop_oneof![
            (topic, any::<u16>(), "[a-z]{0,8}", "[a-z]{0,8}").prop_map(|(t, ka, u, p)| {
                let mut c = Connect::new(t);
                c.keep_alive = ka;
                if !u.is_empty() {
                    c.set_login(u, p);
                }
                Packet::Connect(c)
            }),
            (topic, prop::collection::vec(any::<u8>(), 0..200), 1u16..).prop_map(
                |(t, payload, pkid)| {
                    let mut p = Publish::new(t, QoS::AtLeastOnce, payload);
                    p.pkid = pkid;
                    Packet::Publish(p)
                }
            ),
            (topic, 1u16..).prop_map(|(t, pkid)| {
                let mut s = Subscribe::new(t, QoS::AtMostOnce);
                s.pkid = pkid;
                Packet::Subscribe(s)
            }),
            Just(Packet::PingReq),
            Just(Packet::Disconnect),
        ]
    }

    proptest! {
        /// Arbitrary bytes never panic the framer, and a "whole packet" never claims more bytes than given.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), max in 0usize..2000) {
            if let Ok(Some((len, _))) = next_packet(&bytes, max) {
                prop_assert!(len <= bytes.len());
            }
            let _ = protocol_of(&bytes);
            let mut copy = bytes.clone();
            let _ = set_keep_alive(&mut copy, 9);
        }

        /// Encoded packets decode to themselves, one after the other, from any split point.
        #[test]
        fn round_trip(packets in prop::collection::vec(any_packet(), 1..5), cut in any::<prop::sample::Index>()) {
            let stream: Vec<u8> = packets.iter().flat_map(encode).collect();
            let cut = cut.index(stream.len() + 1);
            let mut at = 0;
            let mut decoded = Vec::new();
            while let Some((len, p)) = next_packet(&stream[at..cut], 4096).unwrap() {
                decoded.push(p);
                at += len;
            }
            while let Some((len, p)) = next_packet(&stream[at..], 4096).unwrap() {
                decoded.push(p);
                at += len;
            }
            prop_assert_eq!(at, stream.len());
            prop_assert_eq!(decoded, packets);
        }

        /// A patched keep-alive is what the decoder reads back, and nothing else changes.
        #[test]
        fn keep_alive_patch(ka in any::<u16>(), new in any::<u16>(), id in "[a-z]{1,10}") {
            let mut c = Connect::new(id);
            c.keep_alive = ka;
            let mut bytes = encode(&Packet::Connect(c.clone()));
            prop_assert!(set_keep_alive(&mut bytes, new));
            c.keep_alive = new;
            let (_, p) = next_packet(&bytes, 4096).unwrap().unwrap();
            prop_assert_eq!(p, Packet::Connect(c));
        }
    }
}

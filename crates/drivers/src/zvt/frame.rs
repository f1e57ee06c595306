//! ZVT serial transport framing ("Transport-Protocol", serial): how one APDU
//! travels over RS-232, and the single-byte line acknowledgements.
//!
//! A frame is `DLE STX <APDU, every DLE doubled> DLE ETX CRC-lo CRC-hi`. The
//! CRC is CRC-CCITT with polynomial 0x1021 in its reflected form, start value
//! 0, no final XOR — the catalogue's CRC-16/KERMIT — computed over the
//! unescaped APDU followed by ETX, and sent low byte first (not escaped).
//! The receiver answers every frame with `ACK` (0x06) or `NAK` (0x15).
//!
//! [`FrameDecoder`] is sans-IO: feed it bytes as they arrive, in any chunking,
//! and it reports line events. It never holds more than one APDU
//! ([`MAX_APDU_LEN`]) and never panics, whatever the bytes.

use crc::{CRC_16_KERMIT, Crc};

use super::apdu::MAX_APDU_LEN;

/// Data link escape: starts `DLE STX` / `DLE ETX`, doubled inside data.
pub const DLE: u8 = 0x10;
/// Start of text.
pub const STX: u8 = 0x02;
/// End of text.
pub const ETX: u8 = 0x03;
/// Positive line acknowledgement.
pub const ACK: u8 = 0x06;
/// Negative line acknowledgement: the sender repeats the frame.
pub const NAK: u8 = 0x15;

const ZVT_CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_KERMIT);

/// The frame checksum over an (unescaped) APDU: CRC-16/KERMIT of APDU + ETX.
pub fn crc(apdu: &[u8]) -> u16 {
    let mut digest = ZVT_CRC.digest();
    digest.update(apdu);
    digest.update(&[ETX]);
    digest.finalize()
}

/// Wraps an encoded APDU into a serial frame.
pub fn encode_frame(apdu: &[u8]) -> Vec<u8> {
    let escapes = apdu.iter().filter(|&&b| b == DLE).count();
    let mut frame = Vec::with_capacity(apdu.len() + escapes + 6);
    frame.extend_from_slice(&[DLE, STX]);
    for &byte in apdu {
        frame.push(byte);
        if byte == DLE {
            frame.push(DLE);
        }
    }
    frame.extend_from_slice(&[DLE, ETX]);
    frame.extend_from_slice(&crc(apdu).to_le_bytes());
    frame
}

/// Why a started frame was thrown away. The receiver answers with NAK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The CRC did not match the received APDU.
    #[error("frame CRC mismatch")]
    BadCrc,
    /// `DLE` followed by something other than `DLE`, `ETX` or `STX`.
    #[error("invalid DLE sequence in frame")]
    BadEscape,
    /// More than [`MAX_APDU_LEN`] bytes without `DLE ETX`.
    #[error("frame longer than the largest APDU")]
    TooLong,
    /// The frame stopped (silence, or a new `DLE STX`) before `DLE ETX CRC`.
    #[error("frame truncated")]
    Truncated,
}

/// What the line said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// `ACK` (also accepted as `DLE ACK`).
    Ack,
    /// `NAK` (also accepted as `DLE NAK`).
    Nak,
    /// A complete frame with a correct CRC: the unescaped APDU bytes.
    Frame(Vec<u8>),
    /// A frame that started but was broken.
    Corrupt(FrameError),
    /// One byte outside any frame that is not a line acknowledgement.
    Noise(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Idle,
    /// Saw a `DLE` between frames.
    IdleDle,
    /// Inside a frame's data.
    Data,
    /// Saw a `DLE` inside a frame's data.
    DataDle,
    /// After `DLE ETX`, waiting for the CRC's low byte.
    CrcLow,
    /// Waiting for the CRC's high byte; holds the low byte.
    CrcHigh(u8),
}

/// Incremental decoder of the serial line (see the module docs).
#[derive(Debug)]
pub struct FrameDecoder {
    state: State,
    apdu: Vec<u8>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self {
            state: State::Idle,
            apdu: Vec::new(),
        }
    }

    /// Whether a frame has started but not ended.
    pub fn is_mid_frame(&self) -> bool {
        !matches!(self.state, State::Idle | State::IdleDle)
    }

    /// Gives up on a frame that stopped arriving (inter-byte timeout).
    pub fn truncate(&mut self) -> Option<LineEvent> {
        if self.is_mid_frame() {
            self.reset();
            Some(LineEvent::Corrupt(FrameError::Truncated))
        } else {
            self.state = State::Idle;
            None
        }
    }

    /// Forgets everything, e.g. after discarding stale input.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.apdu.clear();
    }

    /// Decodes a chunk of bytes, appending the events it completes.
    pub fn feed(&mut self, bytes: &[u8], events: &mut Vec<LineEvent>) {
        for &byte in bytes {
            if let Some(event) = self.feed_byte(byte) {
                events.push(event);
            }
        }
    }

    /// Decodes one byte.
    pub fn feed_byte(&mut self, byte: u8) -> Option<LineEvent> {
        match self.state {
            State::Idle => match byte {
                DLE => {
                    self.state = State::IdleDle;
                    None
                }
                ACK => Some(LineEvent::Ack),
                NAK => Some(LineEvent::Nak),
                other => Some(LineEvent::Noise(other)),
            },
            State::IdleDle => {
                self.state = State::Idle;
                match byte {
                    STX => {
                        self.apdu.clear();
                        self.state = State::Data;
                        None
                    }
                    ACK => Some(LineEvent::Ack),
                    NAK => Some(LineEvent::Nak),
                    DLE => {
                        self.state = State::IdleDle;
                        Some(LineEvent::Noise(DLE))
                    }
                    other => Some(LineEvent::Noise(other)),
                }
            }
            State::Data => {
                if byte == DLE {
                    self.state = State::DataDle;
                    None
                } else {
                    self.push_data(byte)
                }
            }
            State::DataDle => match byte {
                DLE => {
                    self.state = State::Data;
                    self.push_data(DLE)
                }
                ETX => {
                    self.state = State::CrcLow;
                    None
                }
                STX => {
                    // A new frame starts inside this one: the old one is lost.
                    self.apdu.clear();
                    self.state = State::Data;
                    Some(LineEvent::Corrupt(FrameError::Truncated))
                }
                _ => {
                    self.reset();
                    Some(LineEvent::Corrupt(FrameError::BadEscape))
                }
            },
            State::CrcLow => {
                self.state = State::CrcHigh(byte);
                None
            }
            State::CrcHigh(low) => {
                self.state = State::Idle;
                let received = u16::from_le_bytes([low, byte]);
                if received == crc(&self.apdu) {
                    Some(LineEvent::Frame(std::mem::take(&mut self.apdu)))
                } else {
                    self.apdu.clear();
                    Some(LineEvent::Corrupt(FrameError::BadCrc))
                }
            }
        }
    }

    fn push_data(&mut self, byte: u8) -> Option<LineEvent> {
        if self.apdu.len() >= MAX_APDU_LEN {
            self.reset();
            return Some(LineEvent::Corrupt(FrameError::TooLong));
        }
        self.apdu.push(byte);
        None
    }
}

/// Decodes a whole byte string in one go (tests, tools).
pub fn decode_all(bytes: &[u8]) -> Vec<LineEvent> {
    let mut decoder = FrameDecoder::new();
    let mut events = Vec::new();
    decoder.feed(bytes, &mut events);
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Completion with a software version, as a real PT sent it in answer
    /// to a Status-Enquiry (from ecrterm's parser tests). Its CRC bytes
    /// `B1 11` pin down the CRC variant and the byte order.
    const KNOWN_FRAME: &[u8] = &[
        0x10, 0x02, 0x06, 0x0F, 0x0B, 0xF0, 0xF0, 0xF7, 0x32, 0x2E, 0x31, 0x34, 0x2E, 0x31, 0x35,
        0x00, 0x10, 0x03, 0xB1, 0x11,
    ];

    #[test]
    fn crc_is_kermit_over_apdu_and_etx() {
        // The catalogue's check value for "123456789".
        assert_eq!(ZVT_CRC.checksum(b"123456789"), 0x2189);
        let apdu = &KNOWN_FRAME[2..16];
        assert_eq!(crc(apdu), 0x11B1);
    }

    #[test]
    fn known_frame_encodes_and_decodes() {
        let apdu = KNOWN_FRAME[2..16].to_vec();
        assert_eq!(encode_frame(&apdu), KNOWN_FRAME);
        assert_eq!(decode_all(KNOWN_FRAME), vec![LineEvent::Frame(apdu)]);
    }

    #[test]
    fn dle_in_data_is_doubled_and_restored() {
        let apdu = vec![0x06, 0x01, 0x03, 0x10, 0x10, 0x03];
        let frame = encode_frame(&apdu);
        assert_eq!(
            &frame[..10],
            &[DLE, STX, 0x06, 0x01, 0x03, DLE, DLE, DLE, DLE, 0x03]
        );
        assert_eq!(decode_all(&frame), vec![LineEvent::Frame(apdu)]);
    }

    #[test]
    fn broken_crc_truncation_and_bad_escape_are_reported() {
        let mut frame = encode_frame(&[0x80, 0x00, 0x00]);
        let last = frame.len() - 1;
        frame[last] ^= 0xFF;
        assert_eq!(
            decode_all(&frame),
            vec![LineEvent::Corrupt(FrameError::BadCrc)]
        );

        let mut decoder = FrameDecoder::new();
        let mut events = Vec::new();
        decoder.feed(&[DLE, STX, 0x80, 0x00], &mut events);
        assert!(events.is_empty() && decoder.is_mid_frame());
        assert_eq!(
            decoder.truncate(),
            Some(LineEvent::Corrupt(FrameError::Truncated))
        );

        assert_eq!(
            decode_all(&[DLE, STX, 0x80, DLE, 0x41]),
            vec![LineEvent::Corrupt(FrameError::BadEscape)]
        );
    }

    #[test]
    fn acks_naks_and_noise_between_frames() {
        assert_eq!(
            decode_all(&[ACK, 0x41, NAK, DLE, ACK, DLE, NAK]),
            vec![
                LineEvent::Ack,
                LineEvent::Noise(0x41),
                LineEvent::Nak,
                LineEvent::Ack,
                LineEvent::Nak
            ]
        );
    }

    #[test]
    fn oversized_frame_is_dropped_with_bounded_buffer() {
        let mut decoder = FrameDecoder::new();
        let mut events = Vec::new();
        decoder.feed(&[DLE, STX], &mut events);
        decoder.feed(&vec![0x41; MAX_APDU_LEN + 10], &mut events);
        assert_eq!(
            events.first(),
            Some(&LineEvent::Corrupt(FrameError::TooLong))
        );
        assert!(decoder.apdu.is_empty() && !decoder.is_mid_frame());
        // The line recovers with the next frame.
        events.clear();
        decoder.feed(&encode_frame(&[0x80, 0x00, 0x00]), &mut events);
        assert_eq!(events, vec![LineEvent::Frame(vec![0x80, 0x00, 0x00])]);
    }

    fn dle_heavy_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(DLE), Just(ETX), Just(STX), any::<u8>()],
            0..max,
        )
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_all(&bytes);
        }

        #[test]
        fn encode_decode_round_trip(apdu in dle_heavy_bytes(600)) {
            prop_assert_eq!(decode_all(&encode_frame(&apdu)), vec![LineEvent::Frame(apdu)]);
        }

        #[test]
        fn chunking_does_not_change_the_events(
            apdus in prop::collection::vec(dle_heavy_bytes(200), 1..5),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut stream = Vec::new();
            for apdu in &apdus {
                stream.push(ACK);
                stream.extend(encode_frame(apdu));
                stream.push(NAK);
            }
            let whole = decode_all(&stream);

            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut decoder = FrameDecoder::new();
            let mut chunked = Vec::new();
            let mut start = 0;
            for point in points.into_iter().chain([stream.len()]) {
                decoder.feed(&stream[start..point], &mut chunked);
                start = point;
            }
            prop_assert_eq!(&chunked, &whole);
            let frames: Vec<Vec<u8>> = whole
                .into_iter()
                .filter_map(|e| match e { LineEvent::Frame(f) => Some(f), _ => None })
                .collect();
            prop_assert_eq!(frames, apdus);
        }
    }
}

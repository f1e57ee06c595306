//! ESC/POS real-time status (`DLE EOT n`, bytes `10 04 n`): the request and
//! the one-byte replies a printer sends back, parsed into what a manager needs
//! to see (offline, cover open, paper out).
//!
//! Every reply byte has the fixed bits `0xx1xx10` (bits 1 and 4 set, bits 0
//! and 7 clear); a byte that breaks that rule is not a status reply and is
//! rejected, never guessed at.

/// Which status to ask for (`n` in `DLE EOT n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Printer = 1,
    Offline = 2,
    Error = 3,
    Paper = 4,
}

/// The bytes that ask a printer for one status.
pub fn request(kind: StatusKind) -> [u8; 3] {
    [0x10, 0x04, kind as u8]
}

/// The bytes of `DLE EOT n` for n = 1..=4; `None` for other `n`.
pub fn request_for(n: u8) -> Option<[u8; 3]> {
    (1..=4).contains(&n).then_some([0x10, 0x04, n])
}

/// What one reply byte says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub online: bool,
    pub cover_open: bool,
    pub paper_feed_pressed: bool,
    pub paper_near_end: bool,
    pub paper_out: bool,
    pub error: bool,
    pub mechanical_error: bool,
    pub cutter_error: bool,
    pub unrecoverable_error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("no reply byte")]
    Empty,
    #[error("byte {0:#04x} is not an ESC/POS status reply")]
    NotAStatus(u8),
}

/// Parses the reply to `request(kind)`.
pub fn parse(kind: StatusKind, reply: &[u8]) -> Result<Status, StatusError> {
    let b = *reply.first().ok_or(StatusError::Empty)?;
    if b & 0b1001_0011 != 0b0001_0010 {
        return Err(StatusError::NotAStatus(b));
    }
    let bit = |n: u8| b & (1 << n) != 0;
    let mut s = Status {
        online: true,
        ..Status::default()
    };
    match kind {
        StatusKind::Printer => s.online = !bit(3),
        StatusKind::Offline => {
            s.cover_open = bit(2);
            s.paper_feed_pressed = bit(3);
            s.paper_out = bit(5);
            s.error = bit(6);
            s.online = !(s.cover_open || s.paper_out || s.error);
        }
        StatusKind::Error => {
            s.mechanical_error = bit(2);
            s.cutter_error = bit(3);
            s.unrecoverable_error = bit(5);
            s.error = bit(2) || bit(3) || bit(5) || bit(6);
            s.online = !s.error;
        }
        StatusKind::Paper => {
            s.paper_near_end = bit(2) || bit(3);
            s.paper_out = bit(5) || bit(6);
            s.online = !s.paper_out;
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples_from_the_command_reference() {
        assert_eq!(request(StatusKind::Paper), [0x10, 0x04, 0x04]);
        let ready = parse(StatusKind::Offline, &[0x12]).unwrap();
        assert!(ready.online && !ready.cover_open && !ready.paper_out);
        let cover = parse(StatusKind::Offline, &[0x16]).unwrap();
        assert!(cover.cover_open && !cover.online);
        let out = parse(StatusKind::Paper, &[0x72]).unwrap();
        assert!(out.paper_out && !out.online);
        let near = parse(StatusKind::Paper, &[0x1e]).unwrap();
        assert!(near.paper_near_end && !near.paper_out && near.online);
        assert!(parse(StatusKind::Printer, &[0x1a]).is_ok_and(|s| !s.online));
        assert!(parse(StatusKind::Error, &[0x1a]).is_ok_and(|s| s.cutter_error));
        assert_eq!(parse(StatusKind::Printer, &[]), Err(StatusError::Empty));
        assert_eq!(
            parse(StatusKind::Printer, &[0x02]),
            Err(StatusError::NotAStatus(0x02))
        );
        assert_eq!(
            parse(StatusKind::Printer, &[0xff]),
            Err(StatusError::NotAStatus(0xff))
        );
    }

    proptest! {
        /// Any byte string: a status or a typed error, never a panic; valid bytes always parse.
        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4), k in 1u8..=4) {
            let kind = [StatusKind::Printer, StatusKind::Offline, StatusKind::Error, StatusKind::Paper][(k - 1) as usize];
            let r = parse(kind, &bytes);
            if let Some(b) = bytes.first() {
                prop_assert_eq!(r.is_ok(), b & 0x93 == 0x12);
            }
        }
    }
}

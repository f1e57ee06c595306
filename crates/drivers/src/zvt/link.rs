//! The link under the APDUs: sends one APDU and receives the next, over a
//! serial line (framed, with ACK/NAK and repetition) or over TCP (bare
//! APDUs). Both the cash-register driver and the terminal simulator use it;
//! the protocol is symmetric at this level.
//!
//! Serial ("Transport-Protocol", serial): every APDU goes out as a frame
//! ([`super::frame`]); the receiver answers `ACK`, or `NAK` for a broken
//! frame, and the sender repeats a frame up to `max_attempts` times on `NAK`
//! or when no answer comes within `ack_timeout` (T3). A frame that stops
//! arriving for `inter_byte_timeout` counts as broken.
//!
//! TCP ("Transport Protocol TCP/IP"): APDUs are written as they are; TCP
//! itself guarantees delivery, so there is no line acknowledgement.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, SerialPort};

use super::apdu::Apdu;
use super::frame::{ACK, FrameDecoder, LineEvent, NAK, encode_frame};
use crate::terminal::TerminalError;

/// Non-frame bytes tolerated while waiting for one frame.
const MAX_NOISE_BYTES: usize = 4096;

/// A byte pipe with deadlines: a serial port or a TCP stream.
pub(crate) trait Wire: Send {
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()>;
    /// Reads what arrives within `timeout`; `Ok(0)` means nothing arrived.
    /// A closed peer is an error, never `Ok(0)`.
    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
    /// Drops whatever is waiting to be read.
    fn discard_input(&mut self);
}

/// Timeouts below one millisecond mean "no timeout" to some OS calls.
fn at_least_1ms(timeout: Duration) -> Duration {
    timeout.max(Duration::from_millis(1))
}

impl Wire for Box<dyn SerialPort> {
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        serial_write(self.as_mut(), bytes, timeout)
    }

    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        serial_read(self.as_mut(), buf, timeout)
    }

    fn discard_input(&mut self) {
        serial_discard(self.as_mut());
    }
}

/// A serial device opened for exclusive use (TIOCEXCL) that gives the
/// exclusivity up when dropped. The flag belongs to the tty, not to our file
/// descriptor: left set, it outlives us (a pseudo terminal keeps it while its
/// master side is open) and nobody but root could open the device again.
#[cfg(unix)]
pub(crate) struct ExclusiveTty(pub serialport::TTYPort);

#[cfg(unix)]
impl Drop for ExclusiveTty {
    fn drop(&mut self) {
        let _ = self.0.set_exclusive(false);
    }
}

#[cfg(unix)]
impl Wire for ExclusiveTty {
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        serial_write(&mut self.0, bytes, timeout)
    }

    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        serial_read(&mut self.0, buf, timeout)
    }

    fn discard_input(&mut self) {
        serial_discard(&mut self.0);
    }
}

fn serial_write(port: &mut dyn SerialPort, bytes: &[u8], timeout: Duration) -> io::Result<()> {
    port.set_timeout(at_least_1ms(timeout))?;
    port.write_all(bytes)
}

fn serial_read(port: &mut dyn SerialPort, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
    port.set_timeout(at_least_1ms(timeout))?;
    match port.read(buf) {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "serial port closed",
        )),
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

fn serial_discard(port: &mut dyn SerialPort) {
    // Best effort: pseudo terminals may refuse the flush.
    let _ = port.clear(ClearBuffer::Input);
}

impl Wire for TcpStream {
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        self.set_write_timeout(Some(at_least_1ms(timeout)))?;
        self.write_all(bytes)
    }

    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.set_read_timeout(Some(at_least_1ms(timeout)))?;
        match self.read(buf) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the peer",
            )),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    fn discard_input(&mut self) {
        if self.set_nonblocking(true).is_err() {
            return;
        }
        let mut buf = [0u8; 4096];
        // Bounded: a peer flooding the line cannot keep us here.
        for _ in 0..64 {
            match self.read(&mut buf) {
                Ok(n) if n > 0 => continue,
                _ => break,
            }
        }
        let _ = self.set_nonblocking(false);
    }
}

/// Link-level failures.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// Nothing (usable) arrived before the deadline.
    Timeout,
    /// The port or connection failed.
    Io(io::Error),
    /// The peer sent bytes that are not the protocol.
    Protocol(String),
}

impl From<io::Error> for LinkError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

impl From<LinkError> for TerminalError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Timeout => TerminalError::Timeout,
            LinkError::Io(e) => TerminalError::Io(e.to_string()),
            LinkError::Protocol(message) => TerminalError::Protocol(message),
        }
    }
}

/// The link's timing rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// T3: how long a sender waits for `ACK`/`NAK`.
    pub ack_timeout: Duration,
    /// Longest silence inside one frame.
    pub inter_byte_timeout: Duration,
    /// Transmissions of one frame, and broken frames tolerated in a row.
    pub max_attempts: u32,
}

struct SerialState {
    decoder: FrameDecoder,
    events: VecDeque<LineEvent>,
    last_byte: Instant,
}

enum Framing {
    Serial(SerialState),
    Tcp { buffer: Vec<u8> },
}

/// One end of a ZVT connection.
pub(crate) struct Link {
    wire: Box<dyn Wire>,
    framing: Framing,
    timing: Timing,
}

impl Link {
    pub fn serial(wire: Box<dyn Wire>, timing: Timing) -> Self {
        Self {
            wire,
            framing: Framing::Serial(SerialState {
                decoder: FrameDecoder::new(),
                events: VecDeque::new(),
                last_byte: Instant::now(),
            }),
            timing,
        }
    }

    pub fn tcp(wire: Box<dyn Wire>, timing: Timing) -> Self {
        Self {
            wire,
            framing: Framing::Tcp { buffer: Vec::new() },
            timing,
        }
    }

    /// Drops stale input, e.g. answers to a previous, abandoned command.
    pub fn discard_input(&mut self) {
        self.wire.discard_input();
        match &mut self.framing {
            Framing::Serial(state) => {
                state.decoder.reset();
                state.events.clear();
            }
            Framing::Tcp { buffer } => buffer.clear(),
        }
    }

    /// Writes bytes as they are, outside the protocol (the simulator's
    /// garbage scenario).
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        Ok(self.wire.write_bytes(bytes, self.timing.ack_timeout)?)
    }

    /// Sends one APDU; on serial, until the peer acknowledged the frame.
    pub fn send(&mut self, apdu: &Apdu, deadline: Instant) -> Result<(), LinkError> {
        match self.framing {
            Framing::Serial(_) => self.send_frame(&encode_frame(&apdu.encode()), deadline),
            Framing::Tcp { .. } => Ok(self
                .wire
                .write_bytes(&apdu.encode(), self.timing.ack_timeout)?),
        }
    }

    /// Receives the next APDU, acknowledging it on serial.
    pub fn recv(&mut self, deadline: Instant) -> Result<Apdu, LinkError> {
        match self.framing {
            Framing::Serial(_) => self.recv_frame(deadline),
            Framing::Tcp { .. } => self.recv_tcp(deadline),
        }
    }

    fn send_frame(&mut self, frame: &[u8], deadline: Instant) -> Result<(), LinkError> {
        let (mut naks, mut noise) = (0u32, 0usize);
        for _attempt in 0..self.timing.max_attempts {
            self.wire.write_bytes(frame, self.timing.ack_timeout)?;
            let ack_deadline = deadline.min(Instant::now() + self.timing.ack_timeout);
            loop {
                match self.next_line_event(ack_deadline)? {
                    Some(LineEvent::Ack) => return Ok(()),
                    Some(LineEvent::Nak) => {
                        naks += 1;
                        break;
                    }
                    Some(LineEvent::Frame(_)) => {
                        // The peer is sending too (a stale or repeated frame
                        // of an earlier exchange): acknowledge and drop it.
                        self.wire.write_bytes(&[ACK], self.timing.ack_timeout)?;
                    }
                    Some(LineEvent::Corrupt(_) | LineEvent::Noise(_)) => noise += 1,
                    None => break,
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if naks > 0 || noise > 0 {
            Err(LinkError::Protocol(format!(
                "frame not acknowledged ({naks} NAK, {noise} bytes of noise)"
            )))
        } else {
            Err(LinkError::Timeout)
        }
    }

    fn recv_frame(&mut self, deadline: Instant) -> Result<Apdu, LinkError> {
        let (mut broken, mut noise) = (0u32, 0usize);
        loop {
            match self.next_line_event(deadline)? {
                Some(LineEvent::Frame(bytes)) => {
                    self.wire.write_bytes(&[ACK], self.timing.ack_timeout)?;
                    return Apdu::decode(&bytes).map_err(|e| LinkError::Protocol(e.to_string()));
                }
                Some(LineEvent::Corrupt(error)) => {
                    self.wire.write_bytes(&[NAK], self.timing.ack_timeout)?;
                    broken += 1;
                    if broken >= self.timing.max_attempts {
                        return Err(LinkError::Protocol(format!(
                            "{broken} broken frames in a row (last: {error})"
                        )));
                    }
                }
                Some(LineEvent::Ack | LineEvent::Nak) => {}
                Some(LineEvent::Noise(_)) => {
                    noise += 1;
                    if noise > MAX_NOISE_BYTES {
                        return Err(LinkError::Protocol(format!(
                            "{noise} bytes of noise, no frame"
                        )));
                    }
                }
                None if noise > 0 => {
                    return Err(LinkError::Protocol(format!(
                        "{noise} bytes that are not ZVT frames, then silence"
                    )));
                }
                None => return Err(LinkError::Timeout),
            }
        }
    }

    /// The next serial line event, or `None` once `until` has passed.
    fn next_line_event(&mut self, until: Instant) -> Result<Option<LineEvent>, LinkError> {
        let Framing::Serial(state) = &mut self.framing else {
            return Err(LinkError::Protocol("serial read on a TCP link".into()));
        };
        let mut buf = [0u8; 512];
        loop {
            if let Some(event) = state.events.pop_front() {
                return Ok(Some(event));
            }
            let now = Instant::now();
            let gap_deadline = state.last_byte + self.timing.inter_byte_timeout;
            if state.decoder.is_mid_frame()
                && now >= gap_deadline
                && let Some(event) = state.decoder.truncate()
            {
                return Ok(Some(event));
            }
            if now >= until {
                return Ok(None);
            }
            let mut wait = until - now;
            if state.decoder.is_mid_frame() {
                wait = wait.min(gap_deadline - now);
            }
            let n = self.wire.read_within(&mut buf, wait)?;
            if n > 0 {
                state.last_byte = Instant::now();
                let mut events = Vec::new();
                state.decoder.feed(&buf[..n], &mut events);
                state.events.extend(events);
            }
        }
    }

    fn recv_tcp(&mut self, deadline: Instant) -> Result<Apdu, LinkError> {
        let Framing::Tcp { buffer } = &mut self.framing else {
            return Err(LinkError::Protocol("TCP read on a serial link".into()));
        };
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((apdu, used)) = Apdu::decode_prefix(buffer) {
                buffer.drain(..used);
                return Ok(apdu);
            }
            // Bounded: an APDU is complete by `MAX_APDU_LEN` bytes at the latest.
            let now = Instant::now();
            if now >= deadline {
                return Err(if buffer.is_empty() {
                    LinkError::Timeout
                } else {
                    LinkError::Protocol(format!("{} bytes of an incomplete APDU", buffer.len()))
                });
            }
            let n = self.wire.read_within(&mut chunk, deadline - now)?;
            buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

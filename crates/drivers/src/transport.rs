//! Where printer bytes go: a serial line, raw TCP (port 9100), a file or
//! character device (`/dev/usb/lp0`), or a USB printer. One blocking call
//! sends a whole job; another asks the printer for its real-time status.
//!
//! Every call takes a timeout and keeps to it as one deadline for the whole
//! operation, so a printer that is switched off, unplugged mid-job or simply
//! stops reading turns into an error, never a hung print lane. Files and USB
//! have no timeout of their own at the OS level: their write runs on a helper
//! thread that the caller stops waiting for at the deadline.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serialport::SerialPort;

use crate::escpos_status::{self, Status, StatusKind};

/// Baud rates accepted for serial printers.
pub const BAUD_RATES: [u32; 13] = [
    1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600, 115200, 230400, 460800, 921600,
];

/// Largest single write to a serial port: small enough that the kernel's
/// transmit buffer takes it without blocking once the port reports room, so
/// the deadline is checked between chunks.
const SERIAL_CHUNK: usize = 256;

/// How to reach one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Transport {
    /// A serial or USB-serial line, e.g. `/dev/ttyUSB0` at 19200 baud (8N1, no flow control).
    Serial { path: String, baud: u32 },
    /// Raw TCP, e.g. a network printer on port 9100.
    Tcp { host: String, port: u16 },
    /// A file or character device, appended to (created if missing).
    File { path: String },
    /// A USB printer by vendor and product id (needs the `usb` feature).
    Usb { vendor_id: u16, product_id: u16 },
}

/// Why a send or a status query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The settings cannot be right (baud 0, empty path, port 0...).
    #[error("invalid printer settings: {0}")]
    Invalid(String),
    /// The device could not be opened or connected to.
    #[error("printer unreachable: {0}")]
    Unreachable(String),
    /// The device did not take the bytes or answer before the deadline.
    #[error("printer did not respond in time")]
    Timeout,
    /// The connection broke while talking to the device.
    #[error("printer I/O error: {0}")]
    Io(String),
    /// This transport cannot do that (status over a file, USB without the feature).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The device answered with something that is not a status reply.
    #[error("bad reply from printer: {0}")]
    BadReply(String),
}

impl Transport {
    /// Checks the settings without touching the device.
    pub fn validate(&self) -> Result<(), TransportError> {
        match self {
            Transport::Serial { path, baud } => {
                check_path(path)?;
                if !BAUD_RATES.contains(baud) {
                    return Err(TransportError::Invalid(format!(
                        "baud rate {baud} is not one of {BAUD_RATES:?}"
                    )));
                }
            }
            Transport::Tcp { host, port } => {
                if host.trim().is_empty() {
                    return Err(TransportError::Invalid("host is empty".into()));
                }
                if host.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(TransportError::Invalid(format!(
                        "host {host:?} contains spaces or control characters"
                    )));
                }
                if *port == 0 {
                    return Err(TransportError::Invalid("TCP port 0".into()));
                }
            }
            Transport::File { path } => check_path(path)?,
            Transport::Usb { vendor_id, .. } => {
                if *vendor_id == 0 {
                    return Err(TransportError::Invalid("USB vendor id 0".into()));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Serial { path, baud } => write!(f, "serial {path} at {baud} baud"),
            Transport::Tcp { host, port } => write!(f, "tcp {host}:{port}"),
            Transport::File { path } => write!(f, "file {path}"),
            Transport::Usb {
                vendor_id,
                product_id,
            } => write!(f, "usb {vendor_id:04x}:{product_id:04x}"),
        }
    }
}

/// Sends one whole job; returns once the device has taken every byte.
///
/// Over TCP "taken" means the printer answered the status question sent
/// after the job (or closed the connection after our end of stream); a
/// [`TransportError::Timeout`] there may still have printed, so a retry can
/// print twice, but a printer that is merely slow to close no longer does.
pub fn send(t: &Transport, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
    t.validate()?;
    let deadline = Deadline::after(timeout);
    let result = match t {
        Transport::Serial { path, baud } => send_serial(path, *baud, bytes, deadline),
        Transport::Tcp { host, port } => send_tcp(host, *port, bytes, deadline),
        Transport::File { path } => send_file(path, bytes, deadline),
        Transport::Usb {
            vendor_id,
            product_id,
        } => send_usb(*vendor_id, *product_id, bytes, deadline),
    };
    match &result {
        Ok(()) => tracing::debug!(transport = %t, bytes = bytes.len(), "sent to printer"),
        Err(e) => tracing::debug!(transport = %t, error = %e, "send to printer failed"),
    }
    result
}

/// Asks the printer for its four real-time statuses (`DLE EOT 1` to `4`) and
/// merges them: online only if every reply says so, every problem flag kept.
///
/// Serial and TCP only (one connection for all four questions); the timeout
/// covers the whole exchange.
pub fn query_status(t: &Transport, timeout: Duration) -> Result<Status, TransportError> {
    t.validate()?;
    let deadline = Deadline::after(timeout);
    match t {
        Transport::Serial { path, baud } => {
            let mut port = open_serial(path, *baud, deadline)?;
            // Stale bytes (an earlier job's late reply) would be read as our answer.
            if let Err(e) = port.clear(serialport::ClearBuffer::Input) {
                tracing::debug!(error = %e, "could not clear the serial input buffer");
            }
            ask_all(deadline, |request, deadline| {
                write_serial(port.as_mut(), request, deadline)?;
                read_serial_byte(port.as_mut(), deadline)
            })
        }
        Transport::Tcp { host, port } => {
            let mut stream = connect(host, *port, deadline)?;
            // Status questions are tiny: send each one at once.
            let _ = stream.set_nodelay(true);
            let status = ask_all(deadline, |request, deadline| {
                write_tcp(&mut stream, request, deadline)?;
                read_tcp_byte(&mut stream, deadline)
            });
            let _ = stream.shutdown(Shutdown::Both);
            status
        }
        Transport::File { .. } => Err(TransportError::Unsupported(
            "a file or character device cannot report printer status".into(),
        )),
        Transport::Usb { .. } => Err(TransportError::Unsupported(
            "status over USB is not implemented".into(),
        )),
    }
}

/// Asks the four questions in turn through `ask` and merges the answers.
fn ask_all(
    deadline: Deadline,
    mut ask: impl FnMut(&[u8], Deadline) -> Result<u8, TransportError>,
) -> Result<Status, TransportError> {
    let mut merged = Status {
        online: true,
        ..Status::default()
    };
    for kind in [
        StatusKind::Printer,
        StatusKind::Offline,
        StatusKind::Error,
        StatusKind::Paper,
    ] {
        let reply = ask(&escpos_status::request(kind), deadline)?;
        let s = escpos_status::parse(kind, &[reply])
            .map_err(|e| TransportError::BadReply(format!("to DLE EOT {}: {e}", kind as u8)))?;
        merged = merge(merged, s);
    }
    Ok(merged)
}

/// Online only if both say so; a problem reported by either is kept.
fn merge(a: Status, b: Status) -> Status {
    Status {
        online: a.online && b.online,
        cover_open: a.cover_open || b.cover_open,
        paper_feed_pressed: a.paper_feed_pressed || b.paper_feed_pressed,
        paper_near_end: a.paper_near_end || b.paper_near_end,
        paper_out: a.paper_out || b.paper_out,
        error: a.error || b.error,
        mechanical_error: a.mechanical_error || b.mechanical_error,
        cutter_error: a.cutter_error || b.cutter_error,
        unrecoverable_error: a.unrecoverable_error || b.unrecoverable_error,
    }
}

/// The moment an operation must be over by.
#[derive(Debug, Clone, Copy)]
struct Deadline(Instant);

impl Deadline {
    fn after(timeout: Duration) -> Self {
        let now = Instant::now();
        // An absurd timeout (Duration::MAX) means "a long time", not an overflow.
        let far = now
            .checked_add(Duration::from_secs(86_400 * 365))
            .unwrap_or(now);
        Self(now.checked_add(timeout).unwrap_or(far))
    }

    /// Time left, or `Timeout` once there is none.
    fn remaining(self) -> Result<Duration, TransportError> {
        let left = self.0.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(TransportError::Timeout)
        } else {
            Ok(left)
        }
    }
}

fn check_path(path: &str) -> Result<(), TransportError> {
    if path.trim().is_empty() {
        return Err(TransportError::Invalid("path is empty".into()));
    }
    if path.contains('\0') {
        return Err(TransportError::Invalid("path contains a NUL byte".into()));
    }
    Ok(())
}

/// Timeouts become `Timeout`, everything else `Io`.
fn io_error(e: io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportError::Timeout,
        _ => TransportError::Io(e.to_string()),
    }
}

// ---------------------------------------------------------------- serial

fn open_serial(
    path: &str,
    baud: u32,
    deadline: Deadline,
) -> Result<Box<dyn SerialPort>, TransportError> {
    serialport::new(path, baud)
        .timeout(deadline.remaining()?)
        .open()
        .map_err(|e| match e.kind {
            serialport::ErrorKind::InvalidInput => {
                TransportError::Invalid(format!("{path}: {}", e.description))
            }
            _ => TransportError::Unreachable(format!("{path}: {}", e.description)),
        })
}

fn send_serial(
    path: &str,
    baud: u32,
    bytes: &[u8],
    deadline: Deadline,
) -> Result<(), TransportError> {
    let mut port = open_serial(path, baud, deadline)?;
    write_serial(port.as_mut(), bytes, deadline)?;
    port.flush().map_err(io_error)
}

/// Writes in small chunks, giving each the time left until the deadline.
fn write_serial(
    port: &mut dyn SerialPort,
    bytes: &[u8],
    deadline: Deadline,
) -> Result<(), TransportError> {
    for chunk in bytes.chunks(SERIAL_CHUNK) {
        let mut rest = chunk;
        while !rest.is_empty() {
            port.set_timeout(deadline.remaining()?)
                .map_err(|e| TransportError::Io(e.to_string()))?;
            match port.write(rest) {
                Ok(0) => return Err(TransportError::Io("the port took no bytes".into())),
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
    }
    Ok(())
}

fn read_serial_byte(port: &mut dyn SerialPort, deadline: Deadline) -> Result<u8, TransportError> {
    let mut byte = [0u8; 1];
    loop {
        port.set_timeout(deadline.remaining()?)
            .map_err(|e| TransportError::Io(e.to_string()))?;
        match port.read(&mut byte) {
            Ok(1) => return Ok(byte[0]),
            Ok(_) => return Err(TransportError::Io("the port closed".into())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
}

// ------------------------------------------------------------------- tcp

/// Connects to the first address of `host` that answers. Any failure to get
/// a connection, running out of time included, is `Unreachable`.
fn connect(host: &str, port: u16, deadline: Deadline) -> Result<TcpStream, TransportError> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| TransportError::Unreachable(format!("cannot resolve {host}: {e}")))?;
    let mut last = format!("{host} has no address");
    for addr in addrs {
        let Ok(left) = deadline.remaining() else {
            return Err(TransportError::Unreachable(format!(
                "no connection to {host}:{port} in time"
            )));
        };
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(TransportError::Unreachable(last))
}

fn write_tcp(
    stream: &mut TcpStream,
    bytes: &[u8],
    deadline: Deadline,
) -> Result<(), TransportError> {
    let mut rest = bytes;
    while !rest.is_empty() {
        stream
            .set_write_timeout(Some(deadline.remaining()?))
            .map_err(io_error)?;
        match stream.write(rest) {
            Ok(0) => {
                return Err(TransportError::Io(
                    "the printer closed the connection".into(),
                ));
            }
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(())
}

fn read_tcp_byte(stream: &mut TcpStream, deadline: Deadline) -> Result<u8, TransportError> {
    let mut byte = [0u8; 1];
    loop {
        stream
            .set_read_timeout(Some(deadline.remaining()?))
            .map_err(io_error)?;
        match stream.read(&mut byte) {
            Ok(1) => return Ok(byte[0]),
            Ok(_) => {
                return Err(TransportError::Io(
                    "the printer closed the connection before answering".into(),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
}

/// Writes the job, then asks for the printer's status (`DLE EOT 1`) on the
/// same connection and ends our half of the stream. A printer reads its input
/// in order, so its answer (or, from a printer that does not answer status,
/// its close after our end of stream) shows that it has taken every byte of
/// the job. Waiting for the close alone is not enough: many printers keep the
/// connection open until the host closes it, and a slow close would count as
/// a failed job that is then printed again.
fn send_tcp(host: &str, port: u16, bytes: &[u8], deadline: Deadline) -> Result<(), TransportError> {
    let mut stream = connect(host, port, deadline)?;
    write_tcp(&mut stream, bytes, deadline)?;
    // Sent at once, not held back by Nagle's algorithm behind the job's last segment.
    let _ = stream.set_nodelay(true);
    write_tcp(
        &mut stream,
        &escpos_status::request(StatusKind::Printer),
        deadline,
    )?;
    stream.flush().map_err(io_error)?;
    stream.shutdown(Shutdown::Write).map_err(io_error)?;
    let mut reply = [0u8; 256];
    loop {
        stream
            .set_read_timeout(Some(deadline.remaining()?))
            .map_err(io_error)?;
        match stream.read(&mut reply) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                // Automatic status blocks some printers send are not the answer; a status byte is.
                let answered = reply.get(..n).unwrap_or_default().iter().any(|b| {
                    escpos_status::parse(StatusKind::Printer, std::slice::from_ref(b)).is_ok()
                });
                if answered {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
}

// ------------------------------------------------------------ file, usb

fn send_file(path: &str, bytes: &[u8], deadline: Deadline) -> Result<(), TransportError> {
    let path = path.to_owned();
    let bytes = bytes.to_vec();
    on_helper_thread(deadline, move || {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| TransportError::Unreachable(format!("{path}: {e}")))?;
        file.write_all(&bytes).map_err(io_error)?;
        file.flush().map_err(io_error)
    })
}

#[cfg(feature = "usb")]
fn send_usb(
    vendor_id: u16,
    product_id: u16,
    bytes: &[u8],
    deadline: Deadline,
) -> Result<(), TransportError> {
    use escpos::driver::{Driver, NativeUsbDriver};
    let bytes = bytes.to_vec();
    on_helper_thread(deadline, move || {
        let driver = NativeUsbDriver::open(vendor_id, product_id).map_err(|e| {
            TransportError::Unreachable(format!("USB {vendor_id:04x}:{product_id:04x}: {e}"))
        })?;
        driver
            .write(&bytes)
            .and_then(|()| driver.flush())
            .map_err(|e| TransportError::Io(e.to_string()))
    })
}

#[cfg(not(feature = "usb"))]
fn send_usb(
    _vendor_id: u16,
    _product_id: u16,
    _bytes: &[u8],
    _deadline: Deadline,
) -> Result<(), TransportError> {
    Err(TransportError::Unsupported(
        "USB printers need the drivers crate's `usb` feature".into(),
    ))
}

/// Runs a blocking write that has no timeout of its own on a helper thread
/// and waits for it until the deadline. A write still stuck then finishes
/// (or fails) on its own; the caller has moved on with `Timeout`.
fn on_helper_thread(
    deadline: Deadline,
    job: impl FnOnce() -> Result<(), TransportError> + Send + 'static,
) -> Result<(), TransportError> {
    let left = deadline.remaining()?;
    let (tx, rx) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("printer-write".into())
        .spawn(move || {
            // The receiver is gone if the caller gave up; nothing left to tell.
            let _ = tx.send(job());
        })
        .map_err(|e| TransportError::Io(format!("cannot start a writer thread: {e}")))?;
    match rx.recv_timeout(left) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TransportError::Timeout),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(TransportError::Io("the writer thread stopped".into()))
        }
    }
}

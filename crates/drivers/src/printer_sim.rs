//! A virtual ESC/POS printer for tests and demos: it listens on TCP (like a
//! network printer on port 9100) or on a pseudo-terminal (like a serial
//! printer), decodes what it receives with [`crate::escpos_decode`], answers
//! real-time status requests (`DLE EOT n`) at once, counts drawer kicks, and
//! hands every finished job to the test ([`VirtualPrinter::wait_job`]) and,
//! if asked, writes it as `NNNN-<name>.txt` and `.png` files.
//!
//! A job ends at a paper cut, or when the TCP connection closes. A pty has no
//! "connection close" the simulator can see (it keeps the slave side open so
//! that reading blocks instead of failing while no writer is there), so on a
//! pty trailing content without a cut becomes a job after [`PTY_IDLE_FLUSH`]
//! of silence. A connection that only kicked the drawer still makes a job
//! (with an empty page), so the kick can be seen; one that only asked for
//! status makes none. `GS r` (transmit status) is not answered.
//!
//! The printer keeps printing whatever status it reports: a job sent while
//! it says "paper out" is still recorded, as a real printer would print it
//! once paper is loaded.
//!
//! Everything runs on plain threads: one accepting thread and one per
//! connection for TCP, one reading thread for a pty. [`VirtualPrinter::stop`]
//! (or dropping the printer) closes everything and joins every thread.

use crate::escpos_decode::{Decoder, Output, Page};
use crate::escpos_status::Status;
use crate::receipt_png::render_png;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// On a pty, pending content without a cut becomes a job after this much silence.
pub const PTY_IDLE_FLUSH: Duration = Duration::from_millis(500);
/// At most this many raw bytes are kept per job (the page is decoded from all of them).
pub const MAX_RAW: usize = 8 * 1024 * 1024;

/// How the simulated printer presents itself.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to write `NNNN-<name>.txt` and `NNNN-<name>.png` per job; created if missing.
    pub out_dir: Option<PathBuf>,
    /// Used in file names and messages, e.g. `kitchen-grill`.
    pub name: String,
    /// Characters per line of font A (48 for 80 mm paper, 32 for 58 mm).
    pub columns: u16,
    /// TCP: how long the printer keeps its side of a connection open after
    /// the host ends its stream. Zero closes at once; real printers are often
    /// slow here, or wait for the host to close.
    pub close_delay: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            out_dir: None,
            name: "printer".to_string(),
            columns: crate::escpos_decode::DEFAULT_COLUMNS,
            close_delay: Duration::ZERO,
        }
    }
}

/// One printed job.
#[derive(Debug, Clone)]
pub struct Job {
    /// 1, 2, 3... per printer (continuing after files already in `out_dir`).
    pub number: u32,
    pub page: Page,
    /// The bytes of this job as received (at most [`MAX_RAW`]).
    pub raw: Vec<u8>,
    /// When the last byte of this job arrived.
    pub received_at: Instant,
    pub drawer_kicks: u32,
    /// The files written for it, when `out_dir` is set.
    pub txt_path: Option<PathBuf>,
    pub png_path: Option<PathBuf>,
}

/// The reply byte a printer sends to `DLE EOT n` (n = 1..=4) in state `s`,
/// laid out as Epson documents it (fixed bits `0xx1xx10`); `None` for other `n`.
/// [`crate::escpos_status::parse`] reads it back to the same flags.
pub fn status_reply(n: u8, s: &Status) -> Option<u8> {
    let bit = |on: bool, b: u8| if on { 1u8 << b } else { 0 };
    let specific_error = s.mechanical_error || s.cutter_error || s.unrecoverable_error;
    let any_error = s.error || specific_error;
    let v = match n {
        // Printer status: bit 3 = offline.
        1 => bit(!s.online || s.cover_open || s.paper_out || any_error, 3),
        // Offline cause.
        2 => {
            bit(s.cover_open, 2)
                | bit(s.paper_feed_pressed, 3)
                | bit(s.paper_out, 5)
                | bit(any_error, 6)
        }
        // Error cause; bit 6 is an auto-recoverable error.
        3 => {
            bit(s.mechanical_error, 2)
                | bit(s.cutter_error, 3)
                | bit(s.unrecoverable_error, 5)
                | bit(s.error && !specific_error, 6)
        }
        // Roll paper sensor: bits 2+3 near end, bits 5+6 paper end.
        4 => (0b0000_1100 * u8::from(s.paper_near_end)) | (0b0110_0000 * u8::from(s.paper_out)),
        _ => return None,
    };
    Some(0b0001_0010 | v)
}

/// A running virtual printer. See the module documentation.
pub struct VirtualPrinter {
    shared: Arc<Shared>,
    transport: Mutex<Transport>,
    jobs: Mutex<Receiver<Job>>,
}

enum Transport {
    Tcp {
        addr: SocketAddr,
        acceptor: Option<Acceptor>,
    },
    Pty(Option<PtyPort>),
    Stopped,
}

struct Acceptor {
    stop: Arc<AtomicBool>,
    wake: SocketAddr,
    thread: JoinHandle<()>,
}

struct PtyPort {
    path: String,
    stop: Arc<AtomicBool>,
    /// A handle on the slave side: writing to it wakes the reading thread.
    waker: Box<dyn Write + Send>,
    thread: JoinHandle<()>,
}

struct Shared {
    opts: SimOptions,
    status: Mutex<Status>,
    jobs: Sender<Job>,
    next_job: AtomicU32,
    drawer_kicks: AtomicU32,
    next_conn: AtomicU64,
    /// Open TCP connections, to close them when unplugged.
    conns: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VirtualPrinter {
    /// A network printer listening on `bind` (e.g. `127.0.0.1:0`).
    pub fn tcp(bind: &str, opts: SimOptions) -> std::io::Result<VirtualPrinter> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let (shared, jobs) = Shared::new(opts)?;
        let shared = Arc::new(shared);
        let acceptor = Acceptor::start(&shared, listener)?;
        Ok(VirtualPrinter {
            shared,
            transport: Mutex::new(Transport::Tcp {
                addr,
                acceptor: Some(acceptor),
            }),
            jobs: Mutex::new(jobs),
        })
    }

    /// A serial printer on a new pseudo-terminal; the driver opens [`Self::device_path`].
    pub fn pty(opts: SimOptions) -> std::io::Result<VirtualPrinter> {
        let (shared, jobs) = Shared::new(opts)?;
        let shared = Arc::new(shared);
        let port = PtyPort::start(&shared)?;
        Ok(VirtualPrinter {
            shared,
            transport: Mutex::new(Transport::Pty(Some(port))),
            jobs: Mutex::new(jobs),
        })
    }

    /// The TCP address it listens on (with the real port when bound to port 0).
    pub fn addr(&self) -> Option<SocketAddr> {
        match &*lock(&self.transport) {
            Transport::Tcp { addr, .. } => Some(*addr),
            _ => None,
        }
    }

    /// The pty slave path (e.g. `/dev/pts/7`) while the port exists.
    pub fn device_path(&self) -> Option<String> {
        match &*lock(&self.transport) {
            Transport::Pty(Some(port)) => Some(port.path.clone()),
            _ => None,
        }
    }

    /// What the printer says it is (paper out, cover open, offline...).
    pub fn status(&self) -> Status {
        *lock(&self.shared.status)
    }

    /// Sets what the next `DLE EOT` replies say.
    pub fn set_status(&self, s: Status) {
        *lock(&self.shared.status) = s;
    }

    /// Plugs the printer out (`false`) or back in (`true`).
    ///
    /// TCP: unplugging closes the listener, so new connections are refused,
    /// and shuts down open connections (what each had delivered becomes a
    /// job); plugging in listens again on the same address (this fails if
    /// another program took the port meanwhile).
    /// Pty: unplugging prints what the writer had sent, then closes both
    /// sides of the pty, so the device path vanishes and a writer's next
    /// write fails; plugging in creates a new pty, so read
    /// [`Self::device_path`] again (the kernel may or may not reuse the number).
    /// When this returns, the change has happened.
    pub fn set_accepting(&self, on: bool) -> std::io::Result<()> {
        let mut transport = lock(&self.transport);
        match &mut *transport {
            Transport::Tcp { addr, acceptor } => {
                if on && acceptor.is_none() {
                    let listener = TcpListener::bind(*addr)?;
                    *acceptor = Some(Acceptor::start(&self.shared, listener)?);
                } else if !on && let Some(a) = acceptor.take() {
                    a.stop();
                    self.shared.close_connections();
                }
            }
            Transport::Pty(port) => {
                if on && port.is_none() {
                    *port = Some(PtyPort::start(&self.shared)?);
                } else if !on && let Some(p) = port.take() {
                    p.stop();
                }
            }
            Transport::Stopped => {}
        }
        Ok(())
    }

    /// The next finished job, waiting at most `timeout` for it.
    pub fn wait_job(&self, timeout: Duration) -> Option<Job> {
        lock(&self.jobs).recv_timeout(timeout).ok()
    }

    /// Drawer kicks received since the start, over all jobs.
    pub fn drawer_kicks(&self) -> u32 {
        self.shared.drawer_kicks.load(Ordering::SeqCst)
    }

    /// Closes everything and waits for every thread to end.
    pub fn stop(self) {
        self.shutdown();
    }

    fn shutdown(&self) {
        let old = std::mem::replace(&mut *lock(&self.transport), Transport::Stopped);
        match old {
            Transport::Tcp {
                acceptor: Some(a), ..
            } => a.stop(),
            Transport::Pty(Some(p)) => p.stop(),
            _ => {}
        }
        self.shared.close_connections();
    }
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn new(opts: SimOptions) -> std::io::Result<(Shared, Receiver<Job>)> {
        let mut first = 1;
        if let Some(dir) = &opts.out_dir {
            std::fs::create_dir_all(dir)?;
            first = last_job_number(dir, &file_name_part(&opts.name)) + 1;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Shared {
            opts,
            status: Mutex::new(Status {
                online: true,
                ..Status::default()
            }),
            jobs: tx,
            next_job: AtomicU32::new(first),
            drawer_kicks: AtomicU32::new(0),
            next_conn: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
        };
        Ok((shared, rx))
    }

    fn spawn(&self, name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(f)?;
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }

    /// Closes open TCP connections and waits for their threads.
    fn close_connections(&self) {
        for (_, stream) in lock(&self.conns).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            let _ = t.join();
        }
    }

    /// Numbers the job, writes its files, hands it out.
    fn complete(&self, page: Page, raw: Vec<u8>, received_at: Instant, drawer_kicks: u32) {
        let number = self.next_job.fetch_add(1, Ordering::SeqCst);
        let mut job = Job {
            number,
            page,
            raw,
            received_at,
            drawer_kicks,
            txt_path: None,
            png_path: None,
        };
        if let Some(dir) = &self.opts.out_dir {
            let stem = format!("{number:04}-{}", file_name_part(&self.opts.name));
            let txt = dir.join(format!("{stem}.txt"));
            let png = dir.join(format!("{stem}.png"));
            match write_atomically(&txt, job.page.to_text().as_bytes()) {
                Ok(()) => job.txt_path = Some(txt),
                Err(e) => {
                    tracing::warn!(path = %txt.display(), error = %e, "cannot write job text")
                }
            }
            match render_png(&job.page).map_err(std::io::Error::other) {
                Ok(bytes) => match write_atomically(&png, &bytes) {
                    Ok(()) => job.png_path = Some(png),
                    Err(e) => {
                        tracing::warn!(path = %png.display(), error = %e, "cannot write job image")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "cannot render job image"),
            }
        }
        // Nobody waiting for jobs is fine.
        let _ = self.jobs.send(job);
    }
}

/// Writes through a temporary file and a rename, so nobody sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The printer name as it may appear in a file name.
fn file_name_part(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "printer".to_string()
    } else {
        clean
    }
}

/// The highest `NNNN` of `NNNN-<name>.png` files already in `dir` (0 if none).
fn last_job_number(dir: &Path, name: &str) -> u32 {
    let suffix = format!("-{name}.png");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            file.strip_suffix(&suffix)?.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// What one stream (a TCP connection or the pty) has received towards the current job.
struct Session {
    decoder: Decoder,
    raw: Vec<u8>,
    kicks: u32,
    last_byte: Instant,
}

impl Session {
    fn new(columns: u16) -> Self {
        Session {
            decoder: Decoder::with_columns(columns),
            raw: Vec::new(),
            kicks: 0,
            last_byte: Instant::now(),
        }
    }

    /// Feeds received bytes; `reply` sends a status byte back to the host.
    fn receive(&mut self, shared: &Shared, bytes: &[u8], mut reply: impl FnMut(u8)) {
        self.last_byte = Instant::now();
        for &b in bytes {
            if self.raw.len() < MAX_RAW {
                self.raw.push(b);
            }
            match self.decoder.feed_byte(b) {
                Some(Output::StatusRequest(n)) => {
                    // A real-time question is answered, not printed: it is no part of the job's bytes.
                    let question = crate::escpos_status::request_for(n);
                    if question.is_some_and(|q| self.raw.ends_with(&q)) {
                        self.raw.truncate(self.raw.len().saturating_sub(3));
                    }
                    let status = *lock(&shared.status);
                    if let Some(byte) = status_reply(n, &status) {
                        reply(byte);
                    }
                }
                Some(Output::DrawerKick { .. }) => {
                    self.kicks += 1;
                    shared.drawer_kicks.fetch_add(1, Ordering::SeqCst);
                }
                Some(Output::Page(page)) => {
                    let raw = std::mem::take(&mut self.raw);
                    shared.complete(page, raw, self.last_byte, std::mem::take(&mut self.kicks));
                }
                None => {}
            }
        }
    }

    /// Whether [`Self::flush`] would make a job.
    fn has_pending(&self) -> bool {
        !self.decoder.is_idle() || self.kicks > 0
    }

    /// The stream ended or went quiet: what is pending becomes a job.
    fn flush(&mut self, shared: &Shared) {
        let page = match self.decoder.finish() {
            Some(page) => page,
            None if self.kicks > 0 => Page {
                lines: Vec::new(),
                cut: false,
                columns: self.decoder.columns(),
                dropped_lines: 0,
            },
            None => {
                self.raw.clear();
                return;
            }
        };
        let raw = std::mem::take(&mut self.raw);
        shared.complete(page, raw, self.last_byte, std::mem::take(&mut self.kicks));
    }
}

impl Acceptor {
    fn start(shared: &Arc<Shared>, listener: TcpListener) -> std::io::Result<Acceptor> {
        let mut wake = listener.local_addr()?;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (s, flag) = (Arc::clone(shared), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("{}-accept", shared.opts.name))
            .spawn(move || accept_loop(&s, &listener, &flag))?;
        Ok(Acceptor { stop, wake, thread })
    }

    /// Closes the listener: wakes the accepting thread with a connection of
    /// our own and waits until it has dropped the listener.
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        match TcpStream::connect_timeout(&self.wake, Duration::from_secs(5)) {
            Ok(_) => {
                let _ = self.thread.join();
            }
            Err(e) => tracing::warn!(error = %e, "cannot wake the accepting thread; leaving it"),
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, stop: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        lock(&shared.conns).insert(id, registered);
        let s = Arc::clone(shared);
        let name = format!("{}-conn{id}", shared.opts.name);
        if let Err(e) = shared.spawn(&name, move || serve_tcp(&s, id, stream)) {
            tracing::warn!(error = %e, "cannot start a connection thread");
            lock(&shared.conns).remove(&id);
        }
    }
}

fn serve_tcp(shared: &Shared, id: u64, mut stream: TcpStream) {
    let mut session = Session::new(shared.opts.columns);
    let mut replies = match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    };
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let bytes = buf.get(..n).unwrap_or_default();
                session.receive(shared, bytes, |b| {
                    let _ = replies.write_all(&[b]);
                });
            }
        }
    }
    session.flush(shared);
    linger(shared, id);
    lock(&shared.conns).remove(&id);
}

/// Keeps a connection open for [`SimOptions::close_delay`] after the host's
/// end of stream, or until the printer is unplugged or stopped.
fn linger(shared: &Shared, id: u64) {
    /// How often the wait checks whether the connection was closed meanwhile.
    const STEP: Duration = Duration::from_millis(20);
    let until = Instant::now() + shared.opts.close_delay;
    while Instant::now() < until && lock(&shared.conns).contains_key(&id) {
        std::thread::sleep(STEP.min(until.saturating_duration_since(Instant::now())));
    }
}

impl PtyPort {
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Any byte wakes the reader, which sees the flag and closes the pty.
        let _ = self.waker.write_all(&[0]);
        let _ = self.thread.join();
    }

    #[cfg(unix)]
    fn start(shared: &Arc<Shared>) -> std::io::Result<PtyPort> {
        use serialport::SerialPort as _;
        let (master, slave) = serialport::TTYPort::pair().map_err(std::io::Error::from)?;
        let path = slave
            .name()
            .ok_or_else(|| std::io::Error::other("the pty slave has no path"))?;
        let waker = slave.try_clone_native().map_err(std::io::Error::from)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (s, flag) = (Arc::clone(shared), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("{}-pty", shared.opts.name))
            .spawn(move || serve_pty(&s, master, slave, &flag))?;
        Ok(PtyPort {
            path,
            stop,
            waker: Box::new(waker),
            thread,
        })
    }

    #[cfg(not(unix))]
    fn start(_shared: &Arc<Shared>) -> std::io::Result<PtyPort> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "pseudo-terminals need a Unix system",
        ))
    }
}

/// Reads the master side of the pty. `_slave` is held open so that reads
/// block while no writer has the device open; both close when this returns.
#[cfg(unix)]
fn serve_pty(
    shared: &Shared,
    mut master: serialport::TTYPort,
    _slave: serialport::TTYPort,
    stop: &AtomicBool,
) {
    use serialport::SerialPort as _;
    const QUIET: Duration = Duration::from_secs(3600);
    let mut replies = match master.try_clone_native() {
        Ok(mut r) => {
            // A status reply nobody reads must not block the printer.
            let _ = r.set_timeout(Duration::from_millis(200));
            r
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot clone the pty master");
            return;
        }
    };
    let mut session = Session::new(shared.opts.columns);
    let mut buf = [0u8; 8192];
    loop {
        let wait = if session.has_pending() {
            PTY_IDLE_FLUSH
        } else {
            QUIET
        };
        let _ = master.set_timeout(wait);
        let read = master.read(&mut buf);
        // Set before the wake byte was written, so everything the writer sent
        // before the unplug is already queued: print it, then close.
        let stopping = stop.load(Ordering::SeqCst);
        match read {
            Ok(0) => {
                tracing::warn!("the pty master reports end of file");
                break;
            }
            Ok(n) => {
                let bytes = buf.get(..n).unwrap_or_default();
                session.receive(shared, bytes, |b| {
                    let _ = replies.write_all(&[b]);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                if !stopping {
                    session.flush(shared);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "pty read failed");
                break;
            }
        }
        if stopping {
            // The wake byte is a NUL, which prints nothing.
            let _ = master.set_timeout(Duration::ZERO);
            while let Ok(n @ 1..) = master.read(&mut buf) {
                session.receive(shared, buf.get(..n).unwrap_or_default(), |_| {});
            }
            break;
        }
    }
    session.flush(shared);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos_status::{StatusKind, parse};
    use proptest::prelude::*;

    fn any_status() -> impl Strategy<Value = Status> {
        prop::array::uniform9(any::<bool>()).prop_map(|b| Status {
            online: b[0],
            cover_open: b[1],
            paper_feed_pressed: b[2],
            paper_near_end: b[3],
            paper_out: b[4],
            error: b[5],
            mechanical_error: b[6],
            cutter_error: b[7],
            unrecoverable_error: b[8],
        })
    }

    proptest! {
        /// Every reply parses back to the flags that status kind reports.
        #[test]
        fn status_replies_parse_back(s in any_status()) {
            let any_error = s.error || s.mechanical_error || s.cutter_error || s.unrecoverable_error;
            let reply = |kind: StatusKind| {
                let byte = status_reply(kind as u8, &s).expect("n is 1..=4");
                parse(kind, &[byte]).expect("a valid status byte")
            };
            let p = reply(StatusKind::Printer);
            prop_assert_eq!(p.online, s.online && !s.cover_open && !s.paper_out && !any_error);
            let o = reply(StatusKind::Offline);
            prop_assert_eq!(
                (o.cover_open, o.paper_feed_pressed, o.paper_out, o.error),
                (s.cover_open, s.paper_feed_pressed, s.paper_out, any_error)
            );
            let e = reply(StatusKind::Error);
            prop_assert_eq!(
                (e.mechanical_error, e.cutter_error, e.unrecoverable_error, e.error),
                (s.mechanical_error, s.cutter_error, s.unrecoverable_error, any_error)
            );
            let r = reply(StatusKind::Paper);
            prop_assert_eq!((r.paper_near_end, r.paper_out), (s.paper_near_end, s.paper_out));
        }
    }

    #[test]
    fn replies_only_for_known_requests() {
        let s = Status::default();
        assert_eq!(status_reply(0, &s), None);
        assert_eq!(status_reply(5, &s), None);
        let ready = Status {
            online: true,
            ..Status::default()
        };
        assert_eq!(status_reply(1, &ready), Some(0x12));
        assert_eq!(status_reply(4, &ready), Some(0x12));
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name_part("kitchen grill/1"), "kitchen_grill_1");
        assert_eq!(file_name_part(""), "printer");
    }
}

//! A simulated ZVT payment terminal (PT) speaking the same bytes as a real
//! one, over a pseudo-terminal pair or TCP, for tests and demos.
//!
//! It serves one ECR at a time on its own thread and plays a [`Scenario`]:
//! approve (with a card number in clear in BMP 22 and track 2, so tests can
//! prove the driver drops them), decline, cancel, busy, never answer, or
//! answer garbage, or approve and then fall silent before Completion (the
//! node crashed mid-payment). Like a real PT it keeps its last payment and
//! repeats it on Repeat Receipt (06 20). Every authorization it sees is
//! recorded as a [`SimTransaction`]; [`TerminalSim::wait_for`] lets tests wait for one
//! with a deadline instead of sleeping.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serialport::{SerialPort, TTYPort};

use super::apdu::{self, Apdu, BmpIter, BmpValue, BmpWriter, Tlv, bcd_decode};
use super::link::{Link, LinkError, Timing, Wire};
use super::spec::{self, bmp, command};

/// Terminal id the simulator reports (BMP 29).
pub const SIM_TERMINAL_ID: &str = "52500038";
/// Card number the simulator sends in clear (BMP 22 and track 2). It must
/// never come out of the driver.
pub const SIM_PAN: &str = "4917484589897107";
/// Result code of a busy PT's negative acknowledgement (`84 9C 00`).
pub const SIM_BUSY_CODE: u8 = 0x9C;

/// How long the simulator waits for the ECR's `80 00 00` to its messages.
const ECR_ACK_WAIT: Duration = Duration::from_secs(5);
/// How often the serving thread looks at its stop flag.
const POLL: Duration = Duration::from_millis(50);

/// What the simulated customer and terminal do with the next payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Card read, payment approved.
    Approve,
    /// Declined with this result code (Status-Information, then Abort 06 1E).
    Decline { code: u8 },
    /// Takes the command, reports "insert card", then never sends a final
    /// answer. An Abort (06 B0) from the ECR is confirmed and recorded.
    Timeout,
    /// The customer presses cancel: Abort (06 1E) with result code 0x6C.
    CancelledByCustomer,
    /// Refuses the command with `84 9C 00` (PT busy).
    Busy,
    /// Answers every command with random bytes that are not ZVT.
    Garbage,
    /// Approves (Status-Information with result 00, acknowledged), then sends
    /// nothing more: the booking is made but the ECR never sees Completion,
    /// as when the cash register dies between the two. An Abort (06 B0)
    /// after that is refused: the payment is booked.
    ApproveWithoutCompletion,
}

/// How the simulator ended one authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimOutcome {
    Approved {
        trace: u32,
        receipt_no: u32,
        card: String,
    },
    Declined {
        code: u8,
    },
    Cancelled,
    Busy,
    /// No final answer was sent (scenario [`Scenario::Timeout`]).
    NoAnswer,
    /// Answered with garbage.
    Garbage,
}

/// One authorization the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTransaction {
    /// Amount the ECR asked for, minor units.
    pub amount: i64,
    pub currency_numeric: u16,
    pub outcome: SimOutcome,
    /// Whether the ECR sent Abort (06 B0) after this authorization.
    pub abort_received: bool,
}

struct Shared {
    scenario: Mutex<Scenario>,
    transactions: Mutex<Vec<SimTransaction>>,
    changed: Condvar,
    next_trace: Mutex<u32>,
    /// Status-Information of the last payment the PT booked or refused, for Repeat Receipt.
    last_status: Mutex<Option<Vec<u8>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn scenario(&self) -> Scenario {
        *lock(&self.scenario)
    }

    fn record(&self, transaction: SimTransaction) {
        lock(&self.transactions).push(transaction);
        self.changed.notify_all();
    }

    fn mark_abort(&self) {
        if let Some(last) = lock(&self.transactions).last_mut() {
            last.abort_received = true;
        }
        self.changed.notify_all();
    }

    fn next_trace(&self) -> u32 {
        let mut next = lock(&self.next_trace);
        let trace = *next;
        *next = if *next >= 999_999 { 1 } else { *next + 1 };
        trace
    }
}

/// A running simulated terminal. Dropping it stops the terminal and closes
/// its port, as if the cable were pulled.
pub struct TerminalSim {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
    device_path: Option<String>,
    addr: Option<SocketAddr>,
}

impl TerminalSim {
    /// A terminal on a pseudo-terminal pair; the driver opens
    /// [`TerminalSim::device_path`] as its serial port.
    pub fn pty(scenario: Scenario) -> std::io::Result<TerminalSim> {
        let (master, slave) = TTYPort::pair()?;
        let device_path = slave.name();
        let (shared, stop) = Self::state(scenario);
        let (thread_shared, thread_stop) = (shared.clone(), stop.clone());
        let worker = std::thread::Builder::new()
            .name("zvt-sim-pty".into())
            .spawn(move || {
                // Keep our own handle on the slave side, so the master never sees
                // a hang-up while no ECR has the port open.
                let _slave = slave;
                let wire: Box<dyn SerialPort> = Box::new(master);
                let wire: Box<dyn Wire> = Box::new(wire);
                let mut link = Link::serial(wire, sim_timing());
                serve(&mut link, &thread_shared, &thread_stop);
            })?;
        Ok(TerminalSim {
            shared,
            stop,
            worker: Some(worker),
            device_path,
            addr: None,
        })
    }

    /// A terminal listening on TCP, e.g. `127.0.0.1:0` or `127.0.0.1:20007`.
    pub fn tcp(bind: &str, scenario: Scenario) -> std::io::Result<TerminalSim> {
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (shared, stop) = Self::state(scenario);
        let (thread_shared, thread_stop) = (shared.clone(), stop.clone());
        let worker = std::thread::Builder::new()
            .name("zvt-sim-tcp".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if stream.set_nonblocking(false).is_err() {
                                continue;
                            }
                            let _ = stream.set_nodelay(true);
                            let wire: Box<dyn Wire> = Box::new(stream);
                            let mut link = Link::tcp(wire, sim_timing());
                            serve(&mut link, &thread_shared, &thread_stop);
                        }
                        // Nobody connecting: look at the stop flag again soon.
                        Err(_) => std::thread::sleep(POLL),
                    }
                }
            })?;
        Ok(TerminalSim {
            shared,
            stop,
            worker: Some(worker),
            device_path: None,
            addr: Some(addr),
        })
    }

    fn state(scenario: Scenario) -> (Arc<Shared>, Arc<AtomicBool>) {
        let shared = Arc::new(Shared {
            scenario: Mutex::new(scenario),
            transactions: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            next_trace: Mutex::new(1),
            last_status: Mutex::new(None),
        });
        (shared, Arc::new(AtomicBool::new(false)))
    }

    /// The serial device the driver opens (pty terminals).
    pub fn device_path(&self) -> Option<String> {
        self.device_path.clone()
    }

    /// The address the driver connects to (TCP terminals).
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Plays `scenario` from the next command on.
    pub fn set_scenario(&self, scenario: Scenario) {
        *lock(&self.shared.scenario) = scenario;
    }

    /// Every authorization so far, oldest first.
    pub fn transactions(&self) -> Vec<SimTransaction> {
        lock(&self.shared.transactions).clone()
    }

    /// Waits until `condition` holds for the recorded transactions, at most
    /// `timeout`; returns them either way.
    pub fn wait_for(
        &self,
        timeout: Duration,
        condition: impl Fn(&[SimTransaction]) -> bool,
    ) -> Vec<SimTransaction> {
        let deadline = Instant::now() + timeout;
        let mut transactions = lock(&self.shared.transactions);
        while !condition(&transactions) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            transactions = self
                .shared
                .changed
                .wait_timeout(transactions, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        transactions.clone()
    }
}

impl Drop for TerminalSim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn sim_timing() -> Timing {
    Timing {
        ack_timeout: Duration::from_secs(2),
        inter_byte_timeout: Duration::from_secs(1),
        max_attempts: 3,
    }
}

/// Serves one connection until it closes or the simulator stops.
fn serve(link: &mut Link, shared: &Shared, stop: &AtomicBool) {
    let mut noise = NoiseSource::seeded();
    while !stop.load(Ordering::Relaxed) {
        let command = match link.recv(Instant::now() + POLL) {
            Ok(apdu) => apdu,
            Err(LinkError::Io(_)) => return,
            Err(LinkError::Timeout | LinkError::Protocol(_)) => continue,
        };
        if let Err(LinkError::Io(_)) = handle(link, &command, shared, &mut noise) {
            return;
        }
    }
}

/// Plays the PT's part for one command from the ECR.
fn handle(
    link: &mut Link,
    command: &Apdu,
    shared: &Shared,
    noise: &mut NoiseSource,
) -> Result<(), LinkError> {
    let scenario = shared.scenario();
    if scenario == Scenario::Garbage {
        link.write_raw(&noise.garbage())?;
        if command.control() == command::AUTHORIZATION {
            let (amount, currency) = requested(command).unwrap_or((0, 0));
            shared.record(SimTransaction {
                amount,
                currency_numeric: currency,
                outcome: SimOutcome::Garbage,
                abort_received: false,
            });
        }
        return Ok(());
    }
    match command.control() {
        command::REGISTRATION => {
            send(link, &apdu::positive_ack())?;
            let completion = BmpWriter::new()
                .fixed(bmp::PAYMENT_TYPE, &[0x00])
                .and_then(|w| w.bcd(bmp::TERMINAL_ID, tid()))
                .and_then(|w| w.bcd(bmp::CURRENCY_CODE, 978))
                .map(BmpWriter::finish)
                .unwrap_or_default();
            send(link, &message(command::COMPLETION, completion))?;
            expect_ack(link)?;
        }
        command::AUTHORIZATION => authorize(link, command, scenario, shared)?,
        command::REPEAT_RECEIPT => repeat_receipt(link, shared)?,
        command::ABORT_BY_ECR
            if matches!(
                lock(&shared.transactions).last(),
                Some(SimTransaction {
                    outcome: SimOutcome::Approved { .. },
                    ..
                })
            ) && scenario == Scenario::ApproveWithoutCompletion =>
        {
            // Booked already: nothing left to abort.
            shared.mark_abort();
            send(link, &apdu::negative_ack(0x83))?;
        }
        command::ABORT_BY_ECR => {
            shared.mark_abort();
            send(link, &apdu::positive_ack())?;
            send(
                link,
                &message(command::ABORT_BY_PT, vec![spec::RESULT_ABORTED]),
            )?;
            expect_ack(link)?;
        }
        _ => send(link, &apdu::negative_ack(0x83))?,
    }
    Ok(())
}

fn authorize(
    link: &mut Link,
    command: &Apdu,
    scenario: Scenario,
    shared: &Shared,
) -> Result<(), LinkError> {
    let Some((amount, currency)) = requested(command) else {
        return send(link, &apdu::negative_ack(0x9A));
    };
    let record = |outcome| {
        shared.record(SimTransaction {
            amount,
            currency_numeric: currency,
            outcome,
            abort_received: false,
        })
    };
    if scenario == Scenario::Busy {
        record(SimOutcome::Busy);
        return send(link, &apdu::negative_ack(SIM_BUSY_CODE));
    }
    send(link, &apdu::positive_ack())?;
    send(link, &message(command::INTERMEDIATE_STATUS, vec![0x0A]))?; // "insert card"
    expect_ack(link)?;
    match scenario {
        Scenario::Approve | Scenario::ApproveWithoutCompletion => {
            let trace = shared.next_trace();
            let receipt_no = trace % 10_000;
            let (card_type, card) = if trace % 2 == 1 {
                (0x05, "girocard")
            } else {
                (0x0A, "VISA")
            };
            let status = approved_status(amount, currency, trace, receipt_no, card_type, card)
                .unwrap_or_default();
            *lock(&shared.last_status) = Some(status.clone());
            send(link, &message(command::STATUS_INFORMATION, status))?;
            expect_ack(link)?;
            if scenario == Scenario::ApproveWithoutCompletion {
                record(SimOutcome::Approved {
                    trace,
                    receipt_no,
                    card: card.to_owned(),
                });
                return Ok(());
            }
            // One receipt line, as PTs send when the ECR prints receipts.
            let mut line = vec![0x00];
            line.extend_from_slice(b"Kundenbeleg / customer receipt");
            send(link, &message(command::PRINT_LINE, line))?;
            expect_ack(link)?;
            record(SimOutcome::Approved {
                trace,
                receipt_no,
                card: card.to_owned(),
            });
            send(link, &message(command::COMPLETION, Vec::new()))?;
            expect_ack(link)
        }
        Scenario::Decline { code } => {
            let status = BmpWriter::new()
                .fixed(bmp::RESULT_CODE, &[code])
                .and_then(|w| w.bcd(bmp::AMOUNT, amount_u64(amount)))
                .and_then(|w| w.bcd(bmp::TERMINAL_ID, tid()))
                .map(BmpWriter::finish)
                .unwrap_or_default();
            *lock(&shared.last_status) = Some(status.clone());
            send(link, &message(command::STATUS_INFORMATION, status))?;
            expect_ack(link)?;
            record(SimOutcome::Declined { code });
            send(link, &message(command::ABORT_BY_PT, vec![code]))?;
            expect_ack(link)
        }
        Scenario::CancelledByCustomer => {
            record(SimOutcome::Cancelled);
            send(
                link,
                &message(command::ABORT_BY_PT, vec![spec::RESULT_ABORTED]),
            )?;
            expect_ack(link)
        }
        Scenario::Timeout => {
            // Silence from here on; an Abort (06 B0) is answered by `handle`.
            record(SimOutcome::NoAnswer);
            Ok(())
        }
        Scenario::Busy | Scenario::Garbage => Ok(()),
    }
}

/// Repeat Receipt (06 20): the last payment's Status-Information again, a
/// receipt line marked as a copy, and Completion; with no payment stored,
/// Abort (06 1E) "function not possible".
fn repeat_receipt(link: &mut Link, shared: &Shared) -> Result<(), LinkError> {
    send(link, &apdu::positive_ack())?;
    let last = lock(&shared.last_status).clone();
    let Some(status) = last else {
        send(link, &message(command::ABORT_BY_PT, vec![0x83]))?;
        return expect_ack(link);
    };
    send(link, &message(command::STATUS_INFORMATION, status))?;
    expect_ack(link)?;
    let mut line = vec![0x00];
    line.extend_from_slice(b"Duplikat / copy");
    send(link, &message(command::PRINT_LINE, line))?;
    expect_ack(link)?;
    send(link, &message(command::COMPLETION, Vec::new()))?;
    expect_ack(link)
}

/// Status-Information of an approved payment, including card data a real
/// PT may send (PAN, track 2, expiry) that the driver must drop.
fn approved_status(
    amount: i64,
    currency: u16,
    trace: u32,
    receipt_no: u32,
    card_type: u8,
    card: &str,
) -> Result<Vec<u8>, apdu::ApduError> {
    let (time, date) = now_bcd();
    let mut card_name = card.as_bytes().to_vec();
    card_name.push(0);
    let auth_code = format!("AC{:04}\0\0", trace % 10_000);
    Ok(BmpWriter::new()
        .fixed(bmp::RESULT_CODE, &[0x00])?
        .bcd(bmp::AMOUNT, amount_u64(amount))?
        .bcd(bmp::CURRENCY_CODE, u64::from(currency))?
        .bcd(bmp::TRACE_NUMBER, u64::from(trace))?
        .bcd(bmp::TIME, time)?
        .bcd(bmp::DATE, date)?
        .bcd(bmp::EXPIRY_DATE, 2812)?
        .var(bmp::PAN, &nibbles(SIM_PAN))?
        .var(
            bmp::TRACK_2,
            &nibbles(&format!("{SIM_PAN}D28121010000000000")),
        )?
        .bcd(bmp::TERMINAL_ID, tid())?
        .bcd(bmp::RECEIPT_NUMBER, u64::from(receipt_no))?
        .fixed(bmp::AUTH_ATTRIBUTE, auth_code.as_bytes())?
        .fixed(bmp::CARD_TYPE, &[card_type])?
        .var(bmp::CARD_NAME, &card_name)?
        .fixed(bmp::PAYMENT_TYPE, &[0x60])?
        .tlv_container(&[Tlv {
            tag: 0x1F10, // cardholder authentication
            value: &[0x01],
        }])?
        .finish())
}

/// Amount and currency of an Authorization (06 01).
fn requested(command: &Apdu) -> Option<(i64, u16)> {
    let (mut amount, mut currency) = (None, 978);
    for field in BmpIter::new(command.data()) {
        let field = field.ok()?;
        match (field.tag, field.value) {
            (bmp::AMOUNT, BmpValue::Data(v)) => {
                amount = bcd_decode(v).and_then(|a| i64::try_from(a).ok())
            }
            (bmp::CURRENCY_CODE, BmpValue::Data(v)) => {
                currency = u16::try_from(bcd_decode(v)?).ok()?
            }
            _ => {}
        }
    }
    Some((amount?, currency))
}

fn send(link: &mut Link, apdu: &Apdu) -> Result<(), LinkError> {
    link.send(apdu, Instant::now() + ECR_ACK_WAIT)
}

/// Waits for the ECR's `80 00 00`; anything else ends the exchange.
fn expect_ack(link: &mut Link) -> Result<(), LinkError> {
    let answer = link.recv(Instant::now() + ECR_ACK_WAIT)?;
    if answer.is_positive_ack() {
        Ok(())
    } else {
        Err(LinkError::Protocol(format!(
            "expected 80 00 00, got {answer:?}"
        )))
    }
}

fn message(control: spec::Control, data: Vec<u8>) -> Apdu {
    Apdu::new(control, data).unwrap_or_else(|_| Apdu::bare(control))
}

fn tid() -> u64 {
    SIM_TERMINAL_ID.parse().unwrap_or(0)
}

fn amount_u64(amount: i64) -> u64 {
    u64::try_from(amount).unwrap_or(0)
}

/// Digits (and the track separator `D`) packed two per byte, padded with F.
fn nibbles(text: &str) -> Vec<u8> {
    let values: Vec<u8> = text
        .chars()
        .filter_map(|c| c.to_digit(16).map(|d| d as u8))
        .collect();
    values
        .chunks(2)
        .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0x0F))
        .collect()
}

/// Current UTC time as HHMMSS and date as MMDD, for BMPs 0C and 0D.
fn now_bcd() -> (u64, u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let time = (of_day / 3600) * 10_000 + (of_day % 3600 / 60) * 100 + of_day % 60;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (time, month * 100 + day)
}

/// Random bytes for the garbage scenario (xorshift; no crate needed). They
/// never contain DLE, ACK, NAK or an acknowledgement class byte, so every
/// run fails the same way: not ZVT.
struct NoiseSource(u64);

impl NoiseSource {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Self(u64::from(nanos) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn garbage(&mut self) -> Vec<u8> {
        let len = 32 + (self.next() % 64) as usize;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let byte = self.next() as u8;
            if ![0x06, 0x10, 0x15, 0x80, 0x84].contains(&byte) {
                out.push(byte);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nibbles_pack_and_pad() {
        assert_eq!(nibbles("4917"), vec![0x49, 0x17]);
        assert_eq!(nibbles("123"), vec![0x12, 0x3F]);
        assert_eq!(nibbles("1D2"), vec![0x1D, 0x2F]);
    }

    #[test]
    fn civil_date_is_plausible() {
        let (time, date) = now_bcd();
        assert!(time < 240_000);
        assert!((101..=1231).contains(&date));
    }

    #[test]
    fn garbage_avoids_protocol_bytes() {
        let mut noise = NoiseSource::seeded();
        for _ in 0..100 {
            let bytes = noise.garbage();
            assert!((32..96).contains(&bytes.len()));
            assert!(
                !bytes
                    .iter()
                    .any(|b| [0x06, 0x10, 0x15, 0x80, 0x84].contains(b))
            );
        }
    }

    #[test]
    fn approved_status_carries_the_pan_the_driver_withholds() {
        let data = approved_status(1234, 978, 7, 7, 0x05, "girocard").unwrap();
        let tags: Vec<(u8, bool)> = BmpIter::new(&data)
            .map(|b| b.map(|b| (b.tag, b.value == BmpValue::Withheld)))
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(tags.contains(&(bmp::PAN, true)));
        assert!(tags.contains(&(bmp::TRACK_2, true)));
        let (info, error) = apdu::StatusInfo::parse(&data);
        assert_eq!(error, None);
        assert_eq!(info.card_name.as_deref(), Some("girocard"));
        assert_eq!(info.auth_attribute.as_deref(), Some("AC0007"));
        assert_eq!(info.terminal_id.as_deref(), Some(SIM_TERMINAL_ID));
    }
}

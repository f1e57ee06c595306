//! The ZVT driver against the simulated terminal over real byte streams: a
//! pseudo-terminal pair with the serial framing, and TCP on 127.0.0.1. One
//! test per scenario, a terminal that vanishes mid-payment, and a
//! hand-played terminal that sends broken frames to exercise NAK and
//! repetition.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use drivers::terminal::{Approval, AuthorizeRequest, PaymentTerminal, TerminalError};
use drivers::zvt::frame::{ACK, FrameDecoder, LineEvent, NAK, encode_frame};
use drivers::zvt::sim::{SIM_PAN, SIM_TERMINAL_ID};
use drivers::zvt::{Scenario, SimOutcome, SimTransaction, TerminalSim, ZvtConfig, ZvtTerminal};
use serialport::{SerialPort, TTYPort};

const PASSWORD: [u8; 3] = [0, 0, 0];

/// Spec timing shortened so failure paths finish quickly.
fn config() -> ZvtConfig {
    ZvtConfig {
        ack_timeout: Duration::from_secs(2),
        inter_byte_timeout: Duration::from_millis(500),
        abort_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..ZvtConfig::default()
    }
}

fn request(amount: i64, timeout: Duration) -> AuthorizeRequest {
    AuthorizeRequest {
        amount,
        currency_numeric: 978,
        timeout,
    }
}

fn serial_driver(sim: &TerminalSim) -> ZvtTerminal {
    let path = sim.device_path().expect("pty simulator has a device path");
    ZvtTerminal::serial_with_config(&path, 9600, PASSWORD, config()).expect("open pty")
}

fn tcp_driver(sim: &TerminalSim) -> ZvtTerminal {
    let addr = sim
        .addr()
        .expect("tcp simulator has an address")
        .to_string();
    ZvtTerminal::tcp_with_config(&addr, PASSWORD, config()).expect("connect")
}

/// Fails if any six consecutive digits of the simulated card number appear.
fn assert_no_card_data(text: &str) {
    for start in 0..=SIM_PAN.len() - 6 {
        let window = &SIM_PAN[start..start + 6];
        assert!(
            !text.contains(window),
            "card data {window} leaked into {text}"
        );
    }
}

fn assert_approval_is_clean(approval: &Approval) {
    assert_no_card_data(&format!("{approval:?}"));
    assert_no_card_data(&serde_json::to_string(approval).expect("serialize"));
}

fn last_outcome(sim: &TerminalSim) -> Option<SimOutcome> {
    sim.wait_for(Duration::from_secs(5), |t| !t.is_empty())
        .last()
        .map(|t| t.outcome.clone())
}

#[test]
fn approve_over_pty_returns_references_and_no_card_data() {
    let sim = TerminalSim::pty(Scenario::Approve).unwrap();
    let mut terminal = serial_driver(&sim);

    let approval = terminal
        .authorize(&request(1234, Duration::from_secs(15)))
        .unwrap();
    assert_eq!(
        approval,
        Approval {
            amount: 1234,
            terminal_id: SIM_TERMINAL_ID.to_owned(),
            trace: 1,
            receipt_no: Some(1),
            auth_code: Some("AC0001".to_owned()),
            card_type: Some("girocard".to_owned()),
            reference: "TID 52500038 trace 000001 receipt 0001".to_owned(),
        }
    );
    assert_approval_is_clean(&approval);

    // A second payment on the same connection: no second registration, the
    // trace number moves on.
    let second = terminal
        .authorize(&request(99_999, Duration::from_secs(15)))
        .unwrap();
    assert_eq!((second.amount, second.trace), (99_999, 2));
    assert_eq!(second.card_type.as_deref(), Some("VISA"));
    assert_approval_is_clean(&second);

    let transactions = sim.wait_for(Duration::from_secs(5), |t| t.len() == 2);
    assert_eq!(
        transactions.iter().map(|t| t.amount).collect::<Vec<_>>(),
        vec![1234, 99_999]
    );
    assert!(
        transactions
            .iter()
            .all(|t| matches!(t.outcome, SimOutcome::Approved { .. }))
    );
}

#[test]
fn approve_over_tcp() {
    let sim = TerminalSim::tcp("127.0.0.1:0", Scenario::Approve).unwrap();
    let mut terminal = tcp_driver(&sim);
    let approval = terminal
        .authorize(&request(500, Duration::from_secs(15)))
        .unwrap();
    assert_eq!(approval.amount, 500);
    assert_eq!(approval.terminal_id, SIM_TERMINAL_ID);
    assert_eq!(approval.trace, 1);
    assert_approval_is_clean(&approval);
}

#[test]
fn decline_over_pty_reports_code_and_text() {
    let sim = TerminalSim::pty(Scenario::Decline { code: 0x05 }).unwrap();
    let mut terminal = serial_driver(&sim);
    match terminal.authorize(&request(1000, Duration::from_secs(15))) {
        Err(TerminalError::Declined { code, message }) => {
            assert_eq!(code, 0x05);
            assert!(message.contains("declined"), "{message}");
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    let expired = Scenario::Decline { code: 0x78 };
    sim.set_scenario(expired);
    match terminal.authorize(&request(1000, Duration::from_secs(15))) {
        Err(TerminalError::Declined {
            code: 0x78,
            message,
        }) => assert_eq!(message, "card expired"),
        other => panic!("expected card expired, got {other:?}"),
    }
    let transactions = sim.wait_for(Duration::from_secs(5), |t| t.len() == 2);
    assert_eq!(transactions[1].outcome, SimOutcome::Declined { code: 0x78 });
}

#[test]
fn customer_cancel_over_pty() {
    let sim = TerminalSim::pty(Scenario::CancelledByCustomer).unwrap();
    let mut terminal = serial_driver(&sim);
    let result = terminal.authorize(&request(1000, Duration::from_secs(15)));
    assert!(
        matches!(result, Err(TerminalError::Cancelled)),
        "{result:?}"
    );
    assert_eq!(last_outcome(&sim), Some(SimOutcome::Cancelled));
}

#[test]
fn busy_terminal_over_pty() {
    let sim = TerminalSim::pty(Scenario::Busy).unwrap();
    let mut terminal = serial_driver(&sim);
    let result = terminal.authorize(&request(1000, Duration::from_secs(15)));
    assert!(matches!(result, Err(TerminalError::Busy)), "{result:?}");
    assert_eq!(last_outcome(&sim), Some(SimOutcome::Busy));

    // Once the terminal is free again, the same connection pays.
    sim.set_scenario(Scenario::Approve);
    let approval = terminal
        .authorize(&request(1000, Duration::from_secs(15)))
        .unwrap();
    assert_eq!(approval.amount, 1000);
}

#[test]
fn silent_terminal_times_out_on_time_and_is_aborted() {
    let sim = TerminalSim::pty(Scenario::Timeout).unwrap();
    let mut terminal = serial_driver(&sim);
    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let result = terminal.authorize(&request(1000, timeout));
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(TerminalError::Timeout)), "{result:?}");
    assert!(elapsed >= timeout, "gave up early: {elapsed:?}");
    // The abort is answered at once by the simulator; the margin covers a
    // loaded machine, far below the abort_timeout + ack retries worst case.
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );

    let transactions = sim.wait_for(Duration::from_secs(5), |t| {
        t.last().is_some_and(|t| t.abort_received)
    });
    assert_eq!(
        transactions.last(),
        Some(&SimTransaction {
            amount: 1000,
            currency_numeric: 978,
            outcome: SimOutcome::NoAnswer,
            abort_received: true,
        })
    );

    // The line is clean afterwards: the next payment goes through.
    sim.set_scenario(Scenario::Approve);
    assert!(
        terminal
            .authorize(&request(1000, Duration::from_secs(15)))
            .is_ok()
    );
}

#[test]
fn garbage_is_a_protocol_error_in_bounded_time() {
    let sim = TerminalSim::pty(Scenario::Garbage).unwrap();
    let mut terminal = serial_driver(&sim);
    let started = Instant::now();
    let result = terminal.authorize(&request(1000, Duration::from_secs(30)));
    assert!(
        matches!(result, Err(TerminalError::Protocol(_))),
        "{result:?}"
    );
    // Bounded by the ack timeout (2 s), nowhere near the 30 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn garbage_over_tcp_is_a_protocol_error() {
    let sim = TerminalSim::tcp("127.0.0.1:0", Scenario::Garbage).unwrap();
    let mut terminal = tcp_driver(&sim);
    let started = Instant::now();
    let result = terminal.authorize(&request(1000, Duration::from_secs(30)));
    assert!(
        matches!(result, Err(TerminalError::Protocol(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn amount_outside_the_bcd_range_is_refused_before_sending() {
    let sim = TerminalSim::pty(Scenario::Approve).unwrap();
    let mut terminal = serial_driver(&sim);
    for amount in [0, -5, 1_000_000_000_000] {
        let result = terminal.authorize(&request(amount, Duration::from_secs(5)));
        assert!(
            matches!(result, Err(TerminalError::Protocol(_))),
            "{amount}: {result:?}"
        );
    }
    assert!(sim.transactions().is_empty());
}

/// Starts a payment on its own thread, waits until the simulator is in the
/// middle of it, drops the simulator, and expects a prompt Io or Timeout.
fn vanishing_terminal(sim: TerminalSim, mut terminal: ZvtTerminal) {
    let (done, outcome) = mpsc::channel();
    let payment = std::thread::spawn(move || {
        let result = terminal.authorize(&request(1000, Duration::from_secs(60)));
        let _ = done.send(result);
    });
    let seen = sim.wait_for(Duration::from_secs(10), |t| !t.is_empty());
    assert_eq!(seen.len(), 1, "the payment never reached the terminal");
    drop(sim);
    let result = outcome
        .recv_timeout(Duration::from_secs(15))
        .expect("the driver hung after the terminal vanished");
    assert!(
        matches!(result, Err(TerminalError::Io(_) | TerminalError::Timeout)),
        "{result:?}"
    );
    payment.join().unwrap();
}

#[test]
fn pty_that_vanishes_mid_payment_is_io_or_timeout() {
    let sim = TerminalSim::pty(Scenario::Timeout).unwrap();
    let terminal = serial_driver(&sim);
    vanishing_terminal(sim, terminal);
}

#[test]
fn tcp_terminal_that_vanishes_mid_payment_is_io_or_timeout() {
    let sim = TerminalSim::tcp("127.0.0.1:0", Scenario::Timeout).unwrap();
    let terminal = tcp_driver(&sim);
    vanishing_terminal(sim, terminal);
}

#[test]
fn unreachable_tcp_terminal_is_io() {
    // Bind and drop a listener to get a port nobody listens on.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let result = ZvtTerminal::tcp_with_config(&addr.to_string(), PASSWORD, config());
    assert!(
        matches!(result, Err(TerminalError::Io(_))),
        "{:?}",
        result.err()
    );
}

/// A terminal played by hand on the master side of a pty, to send exactly
/// the broken frames a test needs.
struct HandPlayedPt {
    master: TTYPort,
    _slave: TTYPort,
    path: String,
    decoder: FrameDecoder,
    events: VecDeque<LineEvent>,
}

impl HandPlayedPt {
    fn new() -> Self {
        let (master, slave) = TTYPort::pair().unwrap();
        let path = slave.name().unwrap();
        Self {
            master,
            _slave: slave,
            path,
            decoder: FrameDecoder::new(),
            events: VecDeque::new(),
        }
    }

    /// The next line event from the driver, waiting at most five seconds.
    fn next_event(&mut self) -> LineEvent {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 256];
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the driver sent nothing");
            self.master.set_timeout(left).unwrap();
            match self.master.read(&mut buf) {
                Ok(n) => {
                    let mut events = Vec::new();
                    self.decoder.feed(&buf[..n], &mut events);
                    self.events.extend(events);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("pty read failed: {e}"),
            }
        }
    }

    fn expect_frame(&mut self) -> Vec<u8> {
        match self.next_event() {
            LineEvent::Frame(apdu) => apdu,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    fn expect(&mut self, expected: LineEvent) {
        assert_eq!(self.next_event(), expected);
    }

    fn write(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    fn send_broken(&mut self, apdu: &[u8]) {
        let mut frame = encode_frame(apdu);
        let last = frame.len() - 1;
        frame[last] ^= 0x5A;
        self.write(&frame);
    }
}

#[test]
fn nak_and_repetition_recover_a_broken_exchange() {
    let mut pt = HandPlayedPt::new();
    let path = pt.path.clone();
    let driver = std::thread::spawn(move || {
        let mut terminal =
            ZvtTerminal::serial_with_config(&path, 9600, PASSWORD, config()).unwrap();
        terminal.register()
    });

    // The driver repeats its frame after our NAK.
    let registration = pt.expect_frame();
    assert_eq!(&registration[..3], &[0x06, 0x00, 0x04]);
    pt.write(&[NAK]);
    assert_eq!(pt.expect_frame(), registration);
    pt.write(&[ACK]);

    // The driver NAKs our broken answer and takes the repetition.
    pt.send_broken(&[0x80, 0x00, 0x00]);
    pt.expect(LineEvent::Nak);
    pt.write(&encode_frame(&[0x80, 0x00, 0x00]));
    pt.expect(LineEvent::Ack);

    // Completion with the terminal id; the driver acknowledges it.
    pt.write(&encode_frame(&[
        0x06, 0x0F, 0x05, 0x29, 0x52, 0x50, 0x00, 0x38,
    ]));
    pt.expect(LineEvent::Ack);
    assert_eq!(pt.expect_frame(), vec![0x80, 0x00, 0x00]);
    pt.write(&[ACK]);

    driver
        .join()
        .unwrap()
        .expect("registration succeeds after repetitions");
}

#[test]
fn a_mute_port_times_out_within_the_deadline() {
    let pt = HandPlayedPt::new();
    let mut terminal = ZvtTerminal::serial_with_config(&pt.path, 9600, PASSWORD, config()).unwrap();
    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    let result = terminal.authorize(&request(1000, timeout));
    assert!(matches!(result, Err(TerminalError::Timeout)), "{result:?}");
    assert!(
        started.elapsed() < timeout + Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn three_broken_frames_are_a_protocol_error() {
    let mut pt = HandPlayedPt::new();
    let path = pt.path.clone();
    let driver = std::thread::spawn(move || {
        let mut terminal =
            ZvtTerminal::serial_with_config(&path, 9600, PASSWORD, config()).unwrap();
        terminal.register()
    });
    pt.expect_frame();
    pt.write(&[ACK]);
    for _ in 0..3 {
        pt.send_broken(&[0x80, 0x00, 0x00]);
        pt.expect(LineEvent::Nak);
    }
    let result = driver.join().unwrap();
    assert!(
        matches!(result, Err(TerminalError::Protocol(_))),
        "{result:?}"
    );
}

#[test]
fn truncated_frame_is_naked_after_the_inter_byte_timeout() {
    let mut pt = HandPlayedPt::new();
    let path = pt.path.clone();
    let driver = std::thread::spawn(move || {
        let mut terminal =
            ZvtTerminal::serial_with_config(&path, 9600, PASSWORD, config()).unwrap();
        terminal.register()
    });
    pt.expect_frame();
    pt.write(&[ACK]);
    let frame = encode_frame(&[0x80, 0x00, 0x00]);
    pt.write(&frame[..4]);
    pt.expect(LineEvent::Nak);
    pt.write(&frame);
    pt.expect(LineEvent::Ack);
    pt.write(&encode_frame(&[0x06, 0x1E, 0x01, 0x6B]));
    pt.expect(LineEvent::Ack);
    assert_eq!(pt.expect_frame(), vec![0x80, 0x00, 0x00]);
    pt.write(&[ACK]);
    match driver.join().unwrap() {
        Err(TerminalError::Declined {
            code: 0x6B,
            message,
        }) => {
            assert_eq!(message, "function deactivated (PT not registered)");
        }
        other => panic!("expected the PT's refusal, got {other:?}"),
    }
}

#[test]
fn the_serial_port_is_exclusive_and_released_on_drop() {
    let sim = TerminalSim::pty(Scenario::Approve).unwrap();
    let path = sim.device_path().unwrap();
    let first = serial_driver(&sim);
    let second = ZvtTerminal::serial_with_config(&path, 9600, PASSWORD, config());
    assert!(
        matches!(second, Err(TerminalError::Io(_))),
        "{:?}",
        second.err()
    );
    drop(first);
    let mut again = serial_driver(&sim);
    assert!(
        again
            .authorize(&request(100, Duration::from_secs(15)))
            .is_ok()
    );
}

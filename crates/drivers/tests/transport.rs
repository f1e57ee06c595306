//! Transports over real byte streams: TCP listeners on 127.0.0.1 port 0 and
//! pseudo-terminal pairs standing in for serial printers. Each test checks
//! the exact bytes that arrive, or that a dead or stalled peer turns into the
//! right error within the deadline.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use drivers::escpos_status::Status;
use drivers::render::{KitchenDoc, KitchenItem, PaperWidth, render_kitchen};
use drivers::transport::{Transport, TransportError, query_status, send};
use serialport::{SerialPort, TTYPort};

/// The longest any test waits for something that should happen.
const WAIT: Duration = Duration::from_secs(10);

/// How long a test lets a stalled or silent peer hold us up.
const SHORT: Duration = Duration::from_millis(300);

/// Slack allowed past a deadline on a busy 2-core machine.
const SLACK: Duration = Duration::from_secs(3);

/// A kitchen ticket followed by every byte value: shows that nothing is
/// translated on the way (no CR added to LF, no XON/XOFF eaten).
fn job() -> Vec<u8> {
    let doc = KitchenDoc {
        station: "Grill".into(),
        ticket: "S-0042".into(),
        channel: "kiosk".into(),
        placed_at: "12:04".into(),
        items: vec![KitchenItem {
            qty: 2,
            name: "Burger".into(),
            modifiers: vec!["Extra cheese".into()],
            note: None,
        }],
        order_note: None,
        reprint: false,
        pickup_at: None,
    };
    let mut bytes = render_kitchen(&doc, PaperWidth::Mm80).unwrap();
    bytes.extend(0..=255u8);
    bytes
}

fn tcp(port: u16) -> Transport {
    Transport::Tcp {
        host: "127.0.0.1".into(),
        port,
    }
}

fn serial(port: &TTYPort) -> Transport {
    Transport::Serial {
        path: port.name().expect("a pty slave has a name"),
        baud: 19200,
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// ------------------------------------------------------------------- tcp

#[test]
fn tcp_send_delivers_the_exact_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let printer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        got // dropping the stream closes it: the job is done
    });
    let bytes = job();
    send(&tcp(port), &bytes, WAIT).unwrap();
    // The job, then the status question whose answer (or this close) shows it was taken.
    let mut want = bytes;
    want.extend_from_slice(&[0x10, 0x04, 0x01]);
    assert_eq!(printer.join().unwrap(), want);
}

/// A printer that answers status but keeps the connection open until the host
/// closes it (many do): its answer after the job is the evidence, not a close.
#[test]
fn tcp_send_is_done_when_the_printer_answers_the_status_question_after_the_job() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let bytes = job();
    let len = bytes.len();
    let printer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = vec![0u8; len + 3];
        stream.read_exact(&mut got).unwrap();
        stream.write_all(&[0x12]).unwrap(); // online
        // Never closes first: holds the connection until the test is over.
        let _ = done_rx.recv_timeout(WAIT);
        got
    });
    // The printer never closes: waiting for its close would end in Timeout.
    let r = send(&tcp(port), &bytes, SHORT);
    assert_eq!(r, Ok(()));
    done_tx.send(()).unwrap();
    let got = printer.join().unwrap();
    assert_eq!(&got[..len], bytes.as_slice());
    assert_eq!(&got[len..], [0x10, 0x04, 0x01]);
}

#[test]
fn tcp_refused_is_unreachable() {
    let r = send(&tcp(closed_port()), b"x", WAIT);
    assert!(matches!(r, Err(TransportError::Unreachable(_))), "{r:?}");
}

/// A printer that accepts the connection but never reads nor closes.
fn stalled_printer() -> (u16, mpsc::Sender<()>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Hold the connection open until the test is over.
        let _ = done_rx.recv_timeout(WAIT);
        drop(stream);
    });
    (port, done_tx, handle)
}

#[test]
fn tcp_stalled_peer_times_out_waiting_for_the_close() {
    let (port, done, printer) = stalled_printer();
    let start = Instant::now();
    let r = send(&tcp(port), &job(), SHORT);
    assert_eq!(r, Err(TransportError::Timeout));
    assert!(
        start.elapsed() < SHORT + SLACK,
        "took {:?}",
        start.elapsed()
    );
    done.send(()).unwrap();
    printer.join().unwrap();
}

#[test]
fn tcp_stalled_peer_times_out_mid_write() {
    let (port, done, printer) = stalled_printer();
    // Far more than the kernel buffers on both ends hold.
    let big = vec![b'x'; 64 << 20];
    let start = Instant::now();
    let r = send(&tcp(port), &big, SHORT);
    assert_eq!(r, Err(TransportError::Timeout));
    assert!(
        start.elapsed() < SHORT + SLACK,
        "took {:?}",
        start.elapsed()
    );
    done.send(()).unwrap();
    printer.join().unwrap();
}

/// A printer on TCP that answers each `DLE EOT n` with the next of `answers`
/// (`None`: read the question, never answer). Returns what it was asked, all
/// on one connection.
fn tcp_status_printer(answers: Vec<Option<u8>>) -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut asked = Vec::new();
        for answer in answers {
            let mut question = [0u8; 3];
            stream.read_exact(&mut question).unwrap();
            asked.extend_from_slice(&question);
            match answer {
                Some(byte) => stream.write_all(&[byte]).unwrap(),
                None => break,
            }
        }
        // Wait for the client to hang up, so a second connection would show.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        asked.extend(rest);
        asked
    });
    (port, handle)
}

const ALL_FOUR: [u8; 12] = [
    0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x03, 0x10, 0x04, 0x04,
];

#[test]
fn tcp_status_asks_four_questions_on_one_connection() {
    // Ready, ready, no error, paper near end.
    let (port, printer) = tcp_status_printer(vec![Some(0x12), Some(0x12), Some(0x12), Some(0x1E)]);
    let status = query_status(&tcp(port), WAIT).unwrap();
    assert_eq!(
        status,
        Status {
            online: true,
            paper_near_end: true,
            ..Status::default()
        }
    );
    assert_eq!(printer.join().unwrap(), ALL_FOUR);
}

#[test]
fn tcp_status_with_cover_open_is_offline() {
    let (port, printer) = tcp_status_printer(vec![Some(0x12), Some(0x16), Some(0x12), Some(0x12)]);
    let status = query_status(&tcp(port), WAIT).unwrap();
    assert!(!status.online && status.cover_open && !status.paper_out);
    printer.join().unwrap();
}

#[test]
fn tcp_status_garbage_is_a_bad_reply() {
    let (port, printer) = tcp_status_printer(vec![Some(0xFF)]);
    let r = query_status(&tcp(port), WAIT);
    assert!(matches!(r, Err(TransportError::BadReply(_))), "{r:?}");
    printer.join().unwrap();
}

#[test]
fn tcp_status_silence_times_out() {
    let (port, printer) = tcp_status_printer(vec![None]);
    let start = Instant::now();
    assert_eq!(
        query_status(&tcp(port), SHORT),
        Err(TransportError::Timeout)
    );
    assert!(
        start.elapsed() < SHORT + SLACK,
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(printer.join().unwrap(), [0x10, 0x04, 0x01]);
}

#[test]
fn tcp_status_refused_is_unreachable() {
    let r = query_status(&tcp(closed_port()), WAIT);
    assert!(matches!(r, Err(TransportError::Unreachable(_))), "{r:?}");
}

// ---------------------------------------------------------------- serial

#[test]
fn serial_send_delivers_the_exact_bytes() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    master.set_timeout(WAIT).unwrap();
    let bytes = job();
    let expected = bytes.len();
    let printer = thread::spawn(move || {
        let mut got = vec![0u8; expected];
        // Hand the master back: closing it before the sender's final flush (tcdrain) would
        // make that flush fail, as with a printer unplugged mid-job.
        master.read_exact(&mut got).map(|()| (got, master))
    });
    send(&serial(&slave), &bytes, WAIT).unwrap();
    let (got, _master) = printer.join().unwrap().unwrap();
    assert_eq!(got, bytes);
}

#[test]
fn serial_port_vanishing_mid_job_is_an_error_not_a_hang() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    master.set_timeout(WAIT).unwrap();
    let transport = serial(&slave);
    let (tx, rx) = mpsc::channel();
    let sender = thread::spawn(move || {
        // Much more than the pty buffers, with a generous deadline.
        let r = send(&transport, &vec![b'x'; 8 << 20], Duration::from_secs(60));
        let _ = tx.send(r);
    });
    // Once the first bytes are through, pull the plug.
    let mut first = [0u8; 64];
    let n = master.read(&mut first).unwrap();
    assert!(n > 0);
    drop(master);
    let r = rx
        .recv_timeout(WAIT)
        .expect("send hung after the port went away");
    assert!(
        matches!(
            r,
            Err(TransportError::Io(_) | TransportError::Unreachable(_))
        ),
        "{r:?}"
    );
    sender.join().unwrap();
    drop(slave);
}

/// A serial printer behind a pty master answering like [`tcp_status_printer`].
/// The master comes back with the questions: closing it earlier would hang up
/// the line under the client.
fn pty_status_printer(
    mut master: TTYPort,
    answers: Vec<Option<u8>>,
) -> JoinHandle<(Vec<u8>, TTYPort)> {
    thread::spawn(move || {
        master.set_timeout(WAIT).unwrap();
        let mut asked = Vec::new();
        for answer in answers {
            let mut question = [0u8; 3];
            master.read_exact(&mut question).unwrap();
            asked.extend_from_slice(&question);
            match answer {
                Some(byte) => master.write_all(&[byte]).unwrap(),
                None => break,
            }
        }
        (asked, master)
    })
}

#[test]
fn serial_status_over_a_pty() {
    let (master, slave) = TTYPort::pair().unwrap();
    let printer = pty_status_printer(master, vec![Some(0x12), Some(0x12), Some(0x12), Some(0x72)]);
    let status = query_status(&serial(&slave), WAIT).unwrap();
    assert!(!status.online && status.paper_out);
    assert_eq!(printer.join().unwrap().0, ALL_FOUR);
}

#[test]
fn serial_status_garbage_is_a_bad_reply() {
    let (master, slave) = TTYPort::pair().unwrap();
    let printer = pty_status_printer(master, vec![Some(0x00)]);
    let r = query_status(&serial(&slave), WAIT);
    assert!(matches!(r, Err(TransportError::BadReply(_))), "{r:?}");
    printer.join().unwrap();
}

#[test]
fn serial_status_silence_times_out() {
    let (master, slave) = TTYPort::pair().unwrap();
    let printer = pty_status_printer(master, vec![None]);
    let start = Instant::now();
    assert_eq!(
        query_status(&serial(&slave), SHORT),
        Err(TransportError::Timeout)
    );
    assert!(
        start.elapsed() < SHORT + SLACK,
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(printer.join().unwrap().0, [0x10, 0x04, 0x01]);
}

#[test]
fn serial_bad_settings() {
    let r = send(
        &Transport::Serial {
            path: "/dev/ttyUSB0".into(),
            baud: 0,
        },
        b"x",
        WAIT,
    );
    assert!(matches!(r, Err(TransportError::Invalid(_))), "{r:?}");
    let r = send(
        &Transport::Serial {
            path: "/dev/no-such-printer".into(),
            baud: 9600,
        },
        b"x",
        WAIT,
    );
    assert!(matches!(r, Err(TransportError::Unreachable(_))), "{r:?}");
}

// ------------------------------------------------------------ file, usb

#[test]
fn file_send_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printer.bin");
    let t = Transport::File {
        path: path.to_str().unwrap().to_owned(),
    };
    send(&t, b"first ", WAIT).unwrap();
    send(&t, b"second", WAIT).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"first second");
    let r = query_status(&t, WAIT);
    assert!(matches!(r, Err(TransportError::Unsupported(_))), "{r:?}");
}

#[test]
fn file_in_a_missing_folder_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let t = Transport::File {
        path: dir
            .path()
            .join("nope/printer.bin")
            .to_str()
            .unwrap()
            .to_owned(),
    };
    let r = send(&t, b"x", WAIT);
    assert!(matches!(r, Err(TransportError::Unreachable(_))), "{r:?}");
}

#[cfg(not(feature = "usb"))]
#[test]
fn usb_without_the_feature_is_unsupported() {
    let t = Transport::Usb {
        vendor_id: 0x04b8,
        product_id: 0x0202,
    };
    let r = send(&t, b"x", WAIT);
    assert!(matches!(r, Err(TransportError::Unsupported(_))), "{r:?}");
}

#[test]
fn validate_rejects_impossible_settings() {
    let bad = [
        Transport::Serial {
            path: "/dev/ttyS0".into(),
            baud: 96000,
        },
        Transport::Serial {
            path: "".into(),
            baud: 9600,
        },
        Transport::Tcp {
            host: "printer".into(),
            port: 0,
        },
        Transport::Tcp {
            host: " ".into(),
            port: 9100,
        },
        Transport::File {
            path: "/tmp/a\0b".into(),
        },
        Transport::Usb {
            vendor_id: 0,
            product_id: 1,
        },
    ];
    for t in bad {
        assert!(
            matches!(t.validate(), Err(TransportError::Invalid(_))),
            "{t:?}"
        );
    }
    let good = [
        Transport::Serial {
            path: "/dev/ttyUSB0".into(),
            baud: 115200,
        },
        Transport::Tcp {
            host: "192.168.1.50".into(),
            port: 9100,
        },
        Transport::File {
            path: "/dev/usb/lp0".into(),
        },
        Transport::Usb {
            vendor_id: 0x04b8,
            product_id: 0x0202,
        },
    ];
    for t in good {
        assert_eq!(t.validate(), Ok(()), "{t:?}");
    }
}

#[test]
fn serial_reader_that_never_reads_times_out() {
    let (master, slave) = TTYPort::pair().unwrap();
    let start = Instant::now();
    let r = send(&serial(&slave), &vec![b'x'; 8 << 20], SHORT);
    assert_eq!(r, Err(TransportError::Timeout));
    assert!(
        start.elapsed() < SHORT + SLACK,
        "took {:?}",
        start.elapsed()
    );
    drop(master);
}

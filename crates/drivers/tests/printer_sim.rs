//! The virtual printer over real byte streams: TCP on 127.0.0.1 and a
//! pseudo-terminal pair, plus the `virtual-printer` binary itself.

use drivers::escpos_status::{Status, StatusKind, parse, request};
use drivers::printer_sim::{Job, SimOptions, VirtualPrinter};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn ticket(number: &str) -> Vec<u8> {
    let mut b = b"\x1b@\x1ba\x01\x1bE\x01KITCHEN\x1bE\x00\n\x1d!\x11".to_vec();
    b.extend(number.as_bytes());
    b.extend(b"\n\x1d!\x00\x1ba\x00Table 4\n1x Soup\n\x1dV\x42\x00");
    b
}

fn opts(name: &str, dir: Option<&std::path::Path>) -> SimOptions {
    SimOptions {
        out_dir: dir.map(|d| d.to_path_buf()),
        name: name.to_string(),
        columns: 48,
        ..SimOptions::default()
    }
}

fn tcp_printer(dir: Option<&std::path::Path>) -> VirtualPrinter {
    VirtualPrinter::tcp("127.0.0.1:0", opts("test", dir)).expect("printer starts")
}

fn connect(p: &VirtualPrinter) -> TcpStream {
    let s = TcpStream::connect(p.addr().expect("a TCP printer")).expect("connects");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn job(p: &VirtualPrinter) -> Job {
    p.wait_job(WAIT).expect("a job within the deadline")
}

#[test]
fn tcp_job_is_decoded_and_written_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let printer = tcp_printer(Some(dir.path()));
    let bytes = ticket("S-0042");
    let mut client = connect(&printer);
    client.write_all(&bytes).unwrap();
    let sent_at = Instant::now();
    // The cut ends the job while the connection is still open.
    let job = job(&printer);
    assert_eq!(job.number, 1);
    assert_eq!(job.raw, bytes);
    assert!(job.page.cut);
    assert!(job.received_at >= sent_at - Duration::from_secs(1));
    assert_eq!(
        job.page.text_lines(),
        ["KITCHEN", "S-0042", "Table 4", "1x Soup"]
    );
    let txt = job.txt_path.expect("a text file");
    assert_eq!(txt, dir.path().join("0001-test.txt"));
    assert_eq!(std::fs::read_to_string(&txt).unwrap(), job.page.to_text());
    let png = std::fs::read(job.png_path.expect("a picture")).unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!(img.width(), 576);
    drop(client);
    printer.stop();
}

#[test]
fn closing_the_connection_ends_a_job_without_a_cut() {
    let printer = tcp_printer(None);
    let mut client = connect(&printer);
    client.write_all(b"\x1b@hello\nworld").unwrap();
    drop(client);
    let job = job(&printer);
    assert!(!job.page.cut);
    assert_eq!(job.page.text_lines(), ["hello", "world"]);
    assert_eq!(job.txt_path, None);
}

#[test]
fn concurrent_connections_each_print_their_job() {
    let printer = tcp_printer(None);
    let addr = printer.addr().unwrap();
    let clients: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(&ticket(&format!("S-{i}"))).unwrap();
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let mut numbers = Vec::new();
    let mut tickets = Vec::new();
    for _ in 0..4 {
        let j = job(&printer);
        numbers.push(j.number);
        tickets.push(j.page.text_lines()[1].clone());
    }
    numbers.sort_unstable();
    tickets.sort_unstable();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(tickets, ["S-0", "S-1", "S-2", "S-3"]);
}

fn ask(stream: &mut (impl Read + Write), kind: StatusKind) -> Status {
    stream.write_all(&request(kind)).unwrap();
    let mut reply = [0u8; 1];
    stream.read_exact(&mut reply).unwrap();
    parse(kind, &reply).expect("a valid status reply")
}

#[test]
fn status_requests_are_answered_from_set_status() {
    let printer = tcp_printer(None);
    let mut client = connect(&printer);
    let ready = ask(&mut client, StatusKind::Paper);
    assert!(ready.online && !ready.paper_out);
    printer.set_status(Status {
        paper_out: true,
        ..Status::default()
    });
    let paper = ask(&mut client, StatusKind::Paper);
    assert!(paper.paper_out && !paper.online);
    assert!(ask(&mut client, StatusKind::Offline).paper_out);
    assert!(!ask(&mut client, StatusKind::Printer).online);
    printer.set_status(Status {
        online: true,
        cover_open: true,
        ..Status::default()
    });
    assert!(ask(&mut client, StatusKind::Offline).cover_open);
    // Status polls alone make no job: the next job is the first.
    drop(client);
    let mut client = connect(&printer);
    client.write_all(&ticket("S-1")).unwrap();
    let first = job(&printer);
    assert_eq!((first.number, first.raw), (1, ticket("S-1")));
}

#[test]
fn drawer_kicks_are_counted() {
    let printer = tcp_printer(None);
    let mut client = connect(&printer);
    client.write_all(&[0x1B, 0x70, 0x00, 0x19, 0xFA]).unwrap();
    drop(client);
    let job = job(&printer);
    assert_eq!(job.drawer_kicks, 1);
    assert!(job.page.lines.is_empty());
    let mut client = connect(&printer);
    let mut bytes = ticket("S-1");
    bytes.extend([0x1B, 0x70, 0x00, 0x19, 0xFA]);
    client.write_all(&bytes).unwrap();
    drop(client);
    // The kick after the cut belongs to the next (empty) job.
    assert_eq!(job_kicks(&printer), [0, 1]);
    assert_eq!(printer.drawer_kicks(), 2);
}

fn job_kicks(p: &VirtualPrinter) -> Vec<u32> {
    (0..2).map(|_| job(p).drawer_kicks).collect()
}

#[test]
fn unplugged_tcp_printer_refuses_connections() {
    let printer = tcp_printer(None);
    let mut open = connect(&printer);
    printer.set_accepting(false).unwrap();
    let refused = TcpStream::connect(printer.addr().unwrap()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    // The connection that was open is closed too.
    let mut buf = [0u8; 1];
    assert!(matches!(open.read(&mut buf), Ok(0) | Err(_)));
    printer.set_accepting(true).unwrap();
    let mut client = connect(&printer);
    client.write_all(&ticket("S-9")).unwrap();
    assert_eq!(job(&printer).page.text_lines()[1], "S-9");
}

fn open_pty(path: &str) -> serialport::TTYPort {
    serialport::new(path, 115_200)
        .timeout(WAIT)
        .open_native()
        .expect("the pty slave opens")
}

#[test]
fn pty_job_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let printer = VirtualPrinter::pty(opts("bar", Some(dir.path()))).unwrap();
    let path = printer.device_path().expect("a device path");
    let mut port = open_pty(&path);
    printer.set_status(Status {
        paper_out: true,
        ..Status::default()
    });
    assert!(ask(&mut port, StatusKind::Paper).paper_out);
    port.write_all(&ticket("S-7")).unwrap();
    let job = job(&printer);
    assert_eq!(job.page.text_lines()[1], "S-7");
    assert!(dir.path().join("0001-bar.png").exists());
    // Without a cut, the job ends when the line goes quiet.
    port.write_all(b"no cut\n").unwrap();
    let job = self::job(&printer);
    assert!(!job.page.cut);
    assert_eq!(job.page.text_lines(), ["no cut"]);
}

#[test]
fn unplugged_pty_vanishes_for_the_writer() {
    let printer = VirtualPrinter::pty(SimOptions::default()).unwrap();
    let path = printer.device_path().unwrap();
    let mut port = open_pty(&path);
    port.write_all(b"before\n").unwrap();
    printer.set_accepting(false).unwrap();
    assert_eq!(printer.device_path(), None);
    let err = port.write_all(b"after\n").and_then(|()| port.flush());
    assert!(err.is_err(), "writing to an unplugged pty must fail");
    assert!(!std::path::Path::new(&path).exists());
    // The content before the unplug was still printed.
    assert_eq!(job(&printer).page.text_lines(), ["before"]);
    // Plugging back in gives a new device.
    printer.set_accepting(true).unwrap();
    let mut port = open_pty(&printer.device_path().unwrap());
    port.write_all(&ticket("S-8")).unwrap();
    assert_eq!(job(&printer).page.text_lines()[1], "S-8");
}

/// The binary as a newcomer runs it: start, read where it listens, print, see the file.
#[test]
fn the_binary_prints_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_virtual-printer"))
        .args(["--tcp", "127.0.0.1:0", "--name", "kitchen-grill", "--out"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(WAIT).expect("a start line");
    let addr = first
        .strip_prefix("virtual printer kitchen-grill listening on ")
        .unwrap_or_else(|| panic!("unexpected start line {first:?}"))
        .to_string();
    let mut client = TcpStream::connect(&addr).unwrap();
    client.write_all(&ticket("S-0042")).unwrap();
    drop(client);
    let printed = lines.recv_timeout(WAIT).expect("a printed line");
    let png = dir.path().join("0001-kitchen-grill.png");
    assert_eq!(
        printed,
        format!("printed job 1 (4 lines) -> {}", png.display())
    );
    assert!(image::load_from_memory(&std::fs::read(&png).unwrap()).is_ok());
    child.kill().unwrap();
    child.wait().unwrap();
}

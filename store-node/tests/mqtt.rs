//! The MQTT service against outside clients: `mosquitto_pub` / `mosquitto_sub`
//! (Debian package `mosquitto-clients`) and a raw TCP client, on 127.0.0.1
//! port 0 (never 1883: a system broker may listen there).
//!
//! Every wait has a deadline; nothing waits by sleeping.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store_node::mqtt::{DeviceDirectory, DeviceSignal, Mqtt, MqttConfig, TlsListener};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{broadcast, mpsc};
use tokio::time::timeout;

const DEADLINE: Duration = Duration::from_secs(10);

const KDS: (&str, &str) = ("kds-1", "kds-secret");
const PRINTER: (&str, &str) = ("printer-1", "printer-secret");
const KIOSK: (&str, &str) = ("kiosk-1", "kiosk-secret");

/// The device registry of the tests: device id → password.
struct Passwords(HashMap<String, String>);

impl DeviceDirectory for Passwords {
    fn verify(&self, username: &str, password: &[u8]) -> Option<String> {
        let known = self.0.get(username)?;
        (known.as_bytes() == password).then(|| username.to_owned())
    }
}

fn directory() -> Arc<Passwords> {
    Arc::new(Passwords(
        [KDS, PRINTER, KIOSK]
            .iter()
            .map(|(d, p)| (d.to_string(), p.to_string()))
            .collect(),
    ))
}

fn config(max_payload: usize) -> MqttConfig {
    MqttConfig {
        enabled: true,
        bind: Some("127.0.0.1:0".into()),
        tls: None,
        max_payload,
        max_publish_rate: 1000,
    }
}

async fn start(max_payload: usize) -> (Mqtt, SocketAddr) {
    let mqtt = Mqtt::start(&config(max_payload), "demo", directory())
        .await
        .expect("the MQTT service starts");
    let addr = mqtt.plain_addr().expect("a plain listener");
    (mqtt, addr)
}

fn mosquitto(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `mosquitto_sub` with line-buffered output: on a pipe it would otherwise
/// hold its lines until it exits.
fn mosquitto_sub() -> Command {
    let mut cmd = Command::new("stdbuf");
    cmd.args(["-oL", "mosquitto_sub"])
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `mosquitto_pub` to `addr` as `(device, password)`, plus `extra` arguments.
fn publisher(addr: SocketAddr, login: Option<(&str, &str)>, extra: &[&str]) -> Command {
    let mut cmd = mosquitto("mosquitto_pub");
    cmd.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()]);
    if let Some((device, password)) = login {
        cmd.args(["-i", device, "-u", device, "-P", password]);
    }
    cmd.args(extra);
    cmd
}

async fn run(mut cmd: Command) -> Output {
    let child = cmd
        .spawn()
        .expect("mosquitto clients are installed (apt-get install -y mosquitto-clients)");
    timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("the client finished in time")
        .expect("the client ran")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running `mosquitto_sub -d -v`, its output read line by line.
struct Sub {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Sub {
    fn spawn(addr: SocketAddr, (device, password): (&str, &str), filter: &str) -> Sub {
        let mut child = mosquitto_sub()
            .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
            .args(["-i", device, "-u", device, "-P", password])
            .args(["-q", "1", "-d", "-v", "-t", filter])
            .spawn()
            .expect("mosquitto clients are installed (apt-get install -y mosquitto-clients)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Sub { child, lines }
    }

    /// Waits until the broker has acknowledged the subscription.
    async fn subscribed(&mut self) {
        timeout(DEADLINE, async {
            while let Some(line) = self.lines.recv().await {
                if line.starts_with("Subscribed (mid") {
                    return;
                }
            }
            panic!("mosquitto_sub ended before subscribing");
        })
        .await
        .expect("subscribed in time");
    }

    /// The next received message as `topic payload` (skipping debug lines).
    async fn next_message(&mut self) -> String {
        timeout(DEADLINE, async {
            while let Some(line) = self.lines.recv().await {
                if !line.starts_with("Client ") && !line.starts_with("Subscribed") {
                    return line;
                }
            }
            panic!("mosquitto_sub ended before a message");
        })
        .await
        .expect("a message in time")
    }

    /// Output lines so far, without waiting.
    fn seen(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = self.lines.try_recv() {
            out.push(line);
        }
        out
    }
}

/// The next signal matching `want`, within the deadline.
async fn signal(
    rx: &mut broadcast::Receiver<DeviceSignal>,
    what: &str,
    want: impl Fn(&DeviceSignal) -> bool,
) -> DeviceSignal {
    timeout(DEADLINE, async {
        loop {
            match rx.recv().await {
                Ok(s) if want(&s) => return s,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("signals closed"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} signal within {DEADLINE:?}"))
}

fn connected(device: &'static str) -> impl Fn(&DeviceSignal) -> bool {
    move |s| matches!(s, DeviceSignal::Connected { device: d } if d == device)
}

fn disconnected(device: &'static str) -> impl Fn(&DeviceSignal) -> bool {
    move |s| matches!(s, DeviceSignal::Disconnected { device: d, .. } if d == device)
}

fn violation_by(device: &'static str) -> impl Fn(&DeviceSignal) -> bool {
    move |s| matches!(s, DeviceSignal::Violation { device: Some(d), .. } if d == device)
}

/// An MQTT 3.1.1 CONNECT with user name and password.
fn connect_packet(client_id: &str, (user, password): (&str, &str), keep_alive: u16) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u16).to_be_bytes());
        out.extend(s.as_bytes());
    }
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0b1100_0010];
    body.extend(keep_alive.to_be_bytes());
    string(&mut body, client_id);
    string(&mut body, user);
    string(&mut body, password);
    let mut packet = vec![0x10];
    let mut len = body.len();
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        packet.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    packet.extend(body);
    packet
}

/// A raw client: connects and returns the socket after reading the 4-byte CONNACK.
async fn raw_connect(
    addr: SocketAddr,
    client_id: &str,
    login: (&str, &str),
    keep_alive: u16,
) -> (TcpStream, [u8; 4]) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(&connect_packet(client_id, login, keep_alive))
        .await
        .expect("sends CONNECT");
    let mut connack = [0u8; 4];
    timeout(DEADLINE, stream.read_exact(&mut connack))
        .await
        .expect("CONNACK in time")
        .expect("reads CONNACK");
    (stream, connack)
}

/// Reads until the peer closes; returns how long that took.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("not closed within {within:?}"));
    started.elapsed()
}

#[tokio::test]
async fn device_publishes_to_its_topic_and_hears_broadcasts() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();

    let mut printer = Sub::spawn(addr, PRINTER, "store/demo/broadcast/#");
    printer.subscribed().await;
    assert_eq!(mqtt.online(), vec![PRINTER.0.to_owned()]);

    let out = run(publisher(
        addr,
        Some(KDS),
        &["-t", "store/demo/devices/kds-1/status", "-m", "alive"],
    ))
    .await;
    assert!(
        out.status.success(),
        "mosquitto_pub failed: {}",
        stderr(&out)
    );
    let message = signal(&mut signals, "message", |s| {
        matches!(s, DeviceSignal::Message { .. })
    })
    .await;
    let DeviceSignal::Message {
        device,
        subtopic,
        payload,
    } = message
    else {
        unreachable!()
    };
    assert_eq!((device.as_str(), subtopic.as_str()), ("kds-1", "status"));
    assert_eq!(payload, b"alive");
    signal(&mut signals, "kds-1 disconnected", disconnected("kds-1")).await;
    assert!(mqtt.last_seen("kds-1").is_some());

    mqtt.publish(
        "store/demo/broadcast/orders",
        b"order 42 ready".to_vec(),
        false,
    )
    .await
    .expect("the node publishes");
    assert_eq!(
        printer.next_message().await,
        "store/demo/broadcast/orders order 42 ready"
    );

    // The node may not publish a device's heartbeat, nor to a wildcard.
    assert!(
        mqtt.publish("store/demo/devices/kds-1/status", vec![1], false)
            .await
            .is_err()
    );
    assert!(
        mqtt.publish("store/demo/broadcast/#", vec![1], false)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn node_messages_reach_a_device_topic_and_retained_ones_late_subscribers() {
    let (mqtt, addr) = start(64 * 1024).await;
    mqtt.publish(
        "store/demo/devices/printer-1/config",
        b"paper=80mm".to_vec(),
        true,
    )
    .await
    .expect("the node publishes");
    let mut printer = Sub::spawn(addr, PRINTER, "store/demo/devices/printer-1/#");
    printer.subscribed().await;
    assert_eq!(
        printer.next_message().await,
        "store/demo/devices/printer-1/config paper=80mm"
    );
}

#[tokio::test]
async fn wrong_password_is_not_authorised() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();
    let out = run(publisher(
        addr,
        Some((KDS.0, "wrong")),
        &["-t", "store/demo/devices/kds-1/status", "-m", "x"],
    ))
    .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("Connection Refused") && err.contains("not authorised"),
        "{err}"
    );
    let s = signal(&mut signals, "violation", |s| {
        matches!(s, DeviceSignal::Violation { .. })
    })
    .await;
    assert!(
        matches!(s, DeviceSignal::Violation { device: None, .. }),
        "{s:?}"
    );
    assert!(mqtt.online().is_empty());

    // An unknown device is refused the same way.
    let out = run(publisher(
        addr,
        Some(("ghost", "x")),
        &["-t", "store/demo/devices/ghost/status", "-m", "x"],
    ))
    .await;
    assert!(stderr(&out).contains("not authorised"), "{}", stderr(&out));
}

#[tokio::test]
async fn missing_credentials_are_refused() {
    let (_mqtt, addr) = start(64 * 1024).await;
    let out = run(publisher(
        addr,
        None,
        &[
            "-i",
            "kds-1",
            "-t",
            "store/demo/devices/kds-1/status",
            "-m",
            "x",
        ],
    ))
    .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("Connection Refused"), "{err}");

    // A user name that cannot be a device id.
    let out = run(publisher(
        addr,
        Some(("a+b", "x")),
        &["-t", "store/demo/devices/x/status", "-m", "x"],
    ))
    .await;
    assert!(
        stderr(&out).contains("Connection Refused"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn client_id_must_be_the_user_name() {
    let (mqtt, addr) = start(64 * 1024).await;
    let out = run(publisher(
        addr,
        None,
        &[
            "-i",
            PRINTER.0,
            "-u",
            KDS.0,
            "-P",
            KDS.1,
            "-t",
            "store/demo/devices/kds-1/status",
            "-m",
            "x",
        ],
    ))
    .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("Connection Refused"), "{err}");
    assert!(mqtt.online().is_empty());
}

#[tokio::test]
async fn only_mqtt_3_1_1_is_accepted() {
    let (_mqtt, addr) = start(64 * 1024).await;
    let out = run(publisher(
        addr,
        Some(KDS),
        &[
            "-V",
            "mqttv31",
            "-t",
            "store/demo/devices/kds-1/status",
            "-m",
            "x",
        ],
    ))
    .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("unacceptable protocol version"), "{err}");
}

#[tokio::test]
async fn publishing_into_another_device_closes_the_connection() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();
    let mut printer = Sub::spawn(addr, PRINTER, "store/demo/devices/printer-1/#");
    printer.subscribed().await;

    // The forged job: the proxy must cut the connection before forwarding it.
    let _ = run(publisher(
        addr,
        Some(KDS),
        &[
            "-q",
            "1",
            "-t",
            "store/demo/devices/printer-1/jobs",
            "-m",
            "forged",
        ],
    ))
    .await;
    let v = signal(&mut signals, "violation", violation_by("kds-1")).await;
    let DeviceSignal::Violation { reason, .. } = v else {
        unreachable!()
    };
    assert!(
        reason.contains("store/demo/devices/printer-1/jobs"),
        "{reason}"
    );
    let DeviceSignal::Disconnected { reason, .. } =
        signal(&mut signals, "kds-1 disconnected", disconnected("kds-1")).await
    else {
        unreachable!()
    };
    assert!(reason.starts_with("violation"), "{reason}");

    // A marker on the same topic after the violation: the printer's first message must be it.
    mqtt.publish(
        "store/demo/devices/printer-1/jobs",
        b"marker".to_vec(),
        false,
    )
    .await
    .expect("the node publishes");
    assert_eq!(
        printer.next_message().await,
        "store/demo/devices/printer-1/jobs marker"
    );
    assert!(!printer.seen().iter().any(|l| l.contains("forged")));

    // A last will aimed at another device is refused at CONNECT.
    let out = run(publisher(
        addr,
        Some(KDS),
        &[
            "--will-topic",
            "store/demo/devices/printer-1/status",
            "--will-payload",
            "x",
            "-t",
            "store/demo/devices/kds-1/status",
            "-m",
            "x",
        ],
    ))
    .await;
    assert!(stderr(&out).contains("not authorised"), "{}", stderr(&out));
}

#[tokio::test]
async fn subscribing_outside_own_topics_is_refused() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();
    for filter in [
        "store/demo/devices/printer-1/#",
        "store/demo/#",
        "store/+/devices/#",
        "#",
        "store/demo/devices/+/status",
    ] {
        let mut sub = Sub::spawn(addr, KDS, filter);
        let v = signal(&mut signals, "violation", |s| {
            matches!(s, DeviceSignal::Violation { device: Some(d), reason, .. }
                if d == "kds-1" && reason.contains(&format!("{filter:?}")))
        })
        .await;
        assert!(matches!(v, DeviceSignal::Violation { .. }));
        assert!(
            !sub.seen().iter().any(|l| l.starts_with("Subscribed")),
            "{filter} was acknowledged"
        );
        let _ = sub.child.kill().await;
    }
}

#[tokio::test]
async fn oversized_payloads_are_refused() {
    let (mqtt, addr) = start(1024).await;
    let mut signals = mqtt.signals();
    let dir = tempfile::tempdir().expect("a temp dir");
    // Just over the payload limit (the packet limit has headroom), and far over it.
    for size in [1500usize, 100_000] {
        let path = dir.path().join(format!("payload-{size}"));
        std::fs::write(&path, vec![b'x'; size]).expect("writes the payload");
        let mut cmd = publisher(
            addr,
            Some(KDS),
            &["-q", "1", "-t", "store/demo/devices/kds-1/big", "-s"],
        );
        cmd.stdin(std::fs::File::open(&path).expect("opens the payload"));
        let out = run(cmd).await;
        let DeviceSignal::Violation { reason, .. } =
            signal(&mut signals, "violation", violation_by("kds-1")).await
        else {
            unreachable!()
        };
        assert!(reason.contains("bytes"), "{reason}");
        assert!(
            !out.status.success(),
            "mosquitto_pub of {size} bytes succeeded"
        );
    }
    // At the limit it passes.
    let path = dir.path().join("payload-ok");
    std::fs::write(&path, vec![b'x'; 1024]).expect("writes the payload");
    let mut cmd = publisher(
        addr,
        Some(KDS),
        &["-q", "1", "-t", "store/demo/devices/kds-1/big", "-s"],
    );
    cmd.stdin(std::fs::File::open(&path).expect("opens the payload"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn a_killed_subscriber_is_reported_disconnected() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();
    let mut printer = Sub::spawn(addr, PRINTER, "store/demo/devices/printer-1/#");
    printer.subscribed().await;
    signal(&mut signals, "printer connected", connected("printer-1")).await;

    printer.child.start_kill().expect("SIGKILL");
    signal(
        &mut signals,
        "printer disconnected",
        disconnected("printer-1"),
    )
    .await;
    assert!(mqtt.online().is_empty());
}

#[tokio::test]
async fn an_idle_client_is_disconnected() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();
    let (mut stream, connack) = raw_connect(addr, KIOSK.0, KIOSK, 1).await;
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
    let took = until_closed(&mut stream, Duration::from_secs(5)).await;
    // 1.5 × keep-alive 1 s, counted from CONNECT.
    assert!(took >= Duration::from_millis(1000), "closed after {took:?}");
    let DeviceSignal::Disconnected { reason, .. } =
        signal(&mut signals, "kiosk disconnected", disconnected("kiosk-1")).await
    else {
        unreachable!()
    };
    assert!(reason.contains("nothing received"), "{reason}");
}

#[tokio::test]
async fn keep_alive_zero_is_accepted_and_pings_pass() {
    let (_mqtt, addr) = start(64 * 1024).await;
    let (mut stream, connack) = raw_connect(addr, KIOSK.0, KIOSK, 0).await;
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
    stream.write_all(&[0xC0, 0x00]).await.expect("PINGREQ");
    let mut pong = [0u8; 2];
    timeout(DEADLINE, stream.read_exact(&mut pong))
        .await
        .expect("PINGRESP in time")
        .expect("reads PINGRESP");
    assert_eq!(pong, [0xD0, 0x00]);
}

/// One host on the LAN opening 1,000 sockets that send nothing once held every
/// connection slot for the CONNECT window, and registered screens got no CONNACK.
#[tokio::test]
async fn silent_sockets_do_not_lock_registered_devices_out() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();
    let mut silent = Vec::with_capacity(1000);
    for _ in 0..1000 {
        silent.push(TcpStream::connect(addr).await.expect("connects"));
    }
    // A registered screen (same address: the test's host) is answered at once...
    let (_kds, connack) = raw_connect(addr, KDS.0, KDS, 30).await;
    assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK accepted");
    signal(&mut signals, "connected", connected(KDS.0)).await;
    // ...and so is a real client, while the silent sockets are still open on their side.
    let mut sub = Sub::spawn(addr, PRINTER, "store/demo/devices/printer-1/#");
    sub.subscribed().await;
    let out = run(publisher(
        addr,
        Some(KIOSK),
        &[
            "-q",
            "1",
            "-t",
            "store/demo/devices/kiosk-1/status",
            "-m",
            "up",
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The oldest silent sockets made room for them: they are closed.
    until_closed(&mut silent[0], DEADLINE).await;
    // Authenticated sessions do not count against the silent ones' budget: both stay.
    assert!(
        mqtt.online().contains(&KDS.0.to_owned()),
        "{:?}",
        mqtt.online()
    );
    assert!(
        mqtt.online().contains(&PRINTER.0.to_owned()),
        "{:?}",
        mqtt.online()
    );
}

#[tokio::test]
async fn a_second_connection_takes_over() {
    let (mqtt, addr) = start(64 * 1024).await;
    let mut signals = mqtt.signals();
    let (mut first, ack) = raw_connect(addr, KIOSK.0, KIOSK, 30).await;
    assert_eq!(ack[3], 0);
    signal(&mut signals, "first connected", connected("kiosk-1")).await;
    let (_second, ack) = raw_connect(addr, KIOSK.0, KIOSK, 30).await;
    assert_eq!(ack[3], 0);
    let DeviceSignal::Disconnected { reason, .. } =
        signal(&mut signals, "first disconnected", disconnected("kiosk-1")).await
    else {
        unreachable!()
    };
    assert!(reason.contains("taken over"), "{reason}");
    signal(&mut signals, "second connected", connected("kiosk-1")).await;
    until_closed(&mut first, DEADLINE).await;
    assert_eq!(mqtt.online(), vec!["kiosk-1".to_owned()]);

    // The node can end it, e.g. after rotating its credentials.
    mqtt.disconnect("kiosk-1");
    let DeviceSignal::Disconnected { reason, .. } =
        signal(&mut signals, "kicked", disconnected("kiosk-1")).await
    else {
        unreachable!()
    };
    assert_eq!(reason, "disconnected by the node");
    assert!(mqtt.online().is_empty());
}

#[tokio::test]
async fn tls_listener_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("a certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).expect("writes the cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("writes the key");
    let cfg = MqttConfig {
        bind: None,
        tls: Some(TlsListener {
            bind: "127.0.0.1:0".into(),
            cert_path: cert_path.clone(),
            key_path,
        }),
        ..config(64 * 1024)
    };
    let mqtt = Mqtt::start(&cfg, "demo", directory())
        .await
        .expect("starts with TLS");
    assert!(mqtt.plain_addr().is_none());
    let addr = mqtt.tls_addr().expect("a TLS listener");
    let mut signals = mqtt.signals();

    let cafile = cert_path.to_str().expect("a UTF-8 path");
    let out = run(publisher(
        addr,
        Some(KDS),
        &[
            "--cafile",
            cafile,
            "-t",
            "store/demo/devices/kds-1/status",
            "-m",
            "over tls",
        ],
    ))
    .await;
    assert!(
        out.status.success(),
        "mosquitto_pub over TLS failed: {}",
        stderr(&out)
    );
    let DeviceSignal::Message { payload, .. } = signal(&mut signals, "message", |s| {
        matches!(s, DeviceSignal::Message { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(payload, b"over tls");

    // Without trusting the certificate the client refuses the server.
    let out = run(publisher(
        addr,
        Some(KDS),
        &[
            "--cafile",
            "/etc/ssl/certs/ca-certificates.crt",
            "-t",
            "store/demo/devices/kds-1/status",
            "-m",
            "x",
        ],
    ))
    .await;
    assert!(!out.status.success());
}

#[tokio::test]
async fn bad_settings_fail_to_start_and_disabled_does_nothing() {
    assert!(
        Mqtt::start(&config(1024), "bad/store", directory())
            .await
            .is_err()
    );
    assert!(Mqtt::start(&config(0), "demo", directory()).await.is_err());
    let cfg = MqttConfig {
        tls: Some(TlsListener {
            bind: "127.0.0.1:0".into(),
            cert_path: "/nonexistent/cert.pem".into(),
            key_path: "/nonexistent/key.pem".into(),
        }),
        ..config(1024)
    };
    assert!(Mqtt::start(&cfg, "demo", directory()).await.is_err());

    let off = MqttConfig {
        enabled: false,
        ..config(1024)
    };
    let mqtt = Mqtt::start(&off, "demo", directory())
        .await
        .expect("starts disabled");
    assert!(mqtt.plain_addr().is_none() && mqtt.tls_addr().is_none());
    assert!(
        mqtt.publish("store/demo/broadcast/x", vec![], false)
            .await
            .is_err()
    );
}

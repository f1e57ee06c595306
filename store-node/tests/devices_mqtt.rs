//! Devices on MQTT end to end, with outside clients (`mosquitto_sub`,
//! `mosquitto_pub`) and credentials issued by the registry API: order updates
//! reach a KDS screen, its bump reaches the order, presence shows in the API
//! and on the event stream, and rotated or removed credentials stop working.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::timeout;

const DEADLINE: Duration = Duration::from_secs(10);

struct Creds {
    host: String,
    port: u16,
    user: String,
    password: String,
}

impl Creds {
    fn args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            self.host.clone(),
            "-p".into(),
            self.port.to_string(),
            "-i".into(),
            self.user.clone(),
            "-u".into(),
            self.user.clone(),
            "-P".into(),
            self.password.clone(),
        ]
    }
}

/// `mosquitto_sub -d -v` with its stdout read line by line (line-buffered through stdbuf).
struct Sub {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Sub {
    fn spawn(c: &Creds, filter: &str) -> Sub {
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(c.args())
            .args(["-q", "1", "-d", "-v", "-t", filter])
            .kill_on_drop(true)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto-clients is installed");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut r = BufReader::new(out).lines();
            while let Ok(Some(l)) = r.next_line().await {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Sub { child, lines }
    }

    /// The next line for which `pick` says yes, within the deadline.
    async fn line(&mut self, pick: impl Fn(&str) -> bool) -> String {
        timeout(DEADLINE, async {
            while let Some(l) = self.lines.recv().await {
                if pick(&l) {
                    return l;
                }
            }
            panic!("mosquitto_sub ended");
        })
        .await
        .expect("the line arrived within the deadline")
    }
}

async fn publish(c: &Creds, topic: &str, payload: &str) -> std::process::Output {
    let child = Command::new("mosquitto_pub")
        .args(c.args())
        .args(["-q", "1", "-t", topic, "-m", payload])
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto-clients is installed");
    timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("mosquitto_pub finished")
        .unwrap()
}

fn creds(node: &TestNode, registered: &Value) -> Creds {
    let m = &registered["mqtt"];
    let addr = node.node.state.mqtt.as_ref().unwrap().plain_addr().unwrap();
    assert_eq!(m["port"].as_u64(), Some(addr.port() as u64));
    Creds {
        host: addr.ip().to_string(),
        port: addr.port(),
        user: m["username"].as_str().unwrap().into(),
        password: m["password"].as_str().unwrap().into(),
    }
}

async fn next_notice(ws: &mut Ws, kind: &str, device: &str) -> Value {
    loop {
        let m = next_json(ws).await;
        if m["type"] == kind && m["data"]["id"] == device {
            return m;
        }
    }
}

#[tokio::test]
async fn a_kds_screen_on_mqtt_follows_orders_bumps_its_station_and_is_seen_going_away() {
    let node = spawn_app().await;
    let mgr = node.manager().await;
    let (s, reg) = node
        .post(
            &mgr,
            "/api/v1/devices",
            Some("kds"),
            &json!({
                "id": "kds-grill", "kind": "kds_screen", "name": "Grill screen", "station": "grill",
                "transport": {"type": "mqtt"}
            }),
        )
        .await;
    assert_eq!(s, 201, "{reg}");
    let c = creds(&node, &reg);
    let store = "store-1";
    assert_eq!(
        reg["mqtt"]["subscribe"][1],
        format!("store/{store}/broadcast/#")
    );

    let mut ws = connect_events(&node, &mgr, 0).await;
    until_caught_up(&mut ws).await;
    let mut sub = Sub::spawn(&c, &format!("store/{store}/broadcast/#"));
    sub.line(|l| l.contains("Subscribed (mid")).await;
    let online = next_notice(&mut ws, "device.status", "kds-grill").await;
    assert_eq!(online["data"]["health"]["mqtt_connected"], true, "{online}");
    let (_, dev) = node.get(&mgr, "/api/v1/devices/kds-grill").await;
    assert_eq!(dev["health"]["state"], "online", "{dev}");
    // The state change is also a fact in the log (synced to the hub), with the device's kind and name.
    let logged = loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "device.health" && m["data"]["id"] == "kds-grill" {
            break m;
        }
    };
    assert!(logged["cursor"].as_i64().is_some(), "{logged}");
    assert_eq!(logged["data"]["kind"], "kds_screen");
    assert_eq!(logged["data"]["health"]["state"], "online");

    // An order placed at the counter reaches the screen.
    let cashier = node.cashier().await;
    let order = node.place(&cashier, "mqtt-1").await;
    let id = order["id"].as_str().unwrap();
    let line = sub
        .line(|l| l.starts_with(&format!("store/{store}/broadcast/orders")) && l.contains(id))
        .await;
    assert!(line.contains("order.created"), "{line}");

    // The screen loses power: offline within 10 s (here: as soon as its socket closes).
    sub.child.start_kill().unwrap();
    let gone = timeout(DEADLINE, next_notice(&mut ws, "device.status", "kds-grill"))
        .await
        .expect("offline within 10 s");
    assert_eq!(gone["data"]["health"]["state"], "offline", "{gone}");
    assert_eq!(gone["data"]["health"]["mqtt_connected"], false);

    // Back on, the screen bumps its station (one connection per device id, so a
    // publishing client is the screen); the order records it as the screen.
    let bump = format!("store/{store}/devices/kds-grill/bump");
    let out = publish(
        &c,
        &bump,
        &json!({"order_id": id, "station": "grill"}).to_string(),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "order.changed" && m["data"]["station_done"] == "grill" {
            break m;
        }
    };
    assert_eq!(changed["data"]["by"], "device:kds-grill");
    // A bump for another station is refused and the order does not change.
    let out = publish(
        &c,
        &bump,
        &json!({"order_id": id, "station": "bar"}).to_string(),
    )
    .await;
    assert!(out.status.success());
    loop {
        let m = next_notice(&mut ws, "device.status", "kds-grill").await;
        if m["data"]["health"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("bump refused"))
        {
            break;
        }
    }
    let (_, o) = node.get(&cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(o["stations_done"], json!(["grill"]));
}

#[tokio::test]
async fn rotated_and_removed_credentials_stop_working() {
    let node = spawn_app().await;
    let mgr = node.manager().await;
    let (_, reg) = node
        .post(&mgr, "/api/v1/devices", Some("kiosk"), &json!({
            "id": "kiosk-1", "kind": "kiosk", "name": "Kiosk by the door", "transport": {"type": "mqtt"}
        }))
        .await;
    let old = creds(&node, &reg);
    let topic = "store/store-1/devices/kiosk-1/status";
    assert!(publish(&old, topic, "online").await.status.success());
    // Someone else's topic: the connection is closed and nothing is delivered.
    let out = publish(&old, "store/store-1/devices/other/status", "online").await;
    assert!(!out.status.success() || !String::from_utf8_lossy(&out.stderr).is_empty());

    let (s, fresh) = node
        .post(
            &mgr,
            "/api/v1/devices/kiosk-1/credentials",
            Some("rot-1"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 201, "{fresh}");
    let out = publish(&old, topic, "online").await;
    assert!(!out.status.success(), "the old password is refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not authori"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = Creds {
        password: fresh["password"].as_str().unwrap().into(),
        ..old
    };
    assert!(publish(&new, topic, "online").await.status.success());

    let r = node
        .http
        .delete(node.url("/api/v1/devices/kiosk-1"))
        .bearer_auth(&mgr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = publish(&new, topic, "online").await;
    assert!(!out.status.success(), "a removed device cannot sign in");
}

/// A replaced screen takes its old id (its MQTT user name) again, with fresh credentials.
#[tokio::test]
async fn a_removed_device_can_be_registered_again_under_its_id_with_new_credentials() {
    let node = spawn_app().await;
    let mgr = node.manager().await;
    let screen = json!({
        "id": "kds-x", "kind": "kds_screen", "name": "Grill screen", "station": "grill",
        "transport": {"type": "mqtt"}
    });
    let (s, reg) = node
        .post(&mgr, "/api/v1/devices", Some("kds-x-1"), &screen)
        .await;
    assert_eq!(s, 201, "{reg}");
    let old = creds(&node, &reg);
    let topic = "store/store-1/devices/kds-x/status";
    // The old screen is connected when it is removed.
    let mut sub = Sub::spawn(&old, "store/store-1/broadcast/#");
    sub.line(|l| l.contains("Subscribed (mid")).await;
    let r = node
        .http
        .delete(node.url("/api/v1/devices/kds-x"))
        .bearer_auth(&mgr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ended = timeout(DEADLINE, sub.child.wait())
        .await
        .expect("the removed screen's connection is cut");
    assert!(ended.is_ok());

    // Its replacement registers under the same id.
    let (s, again) = node
        .post(&mgr, "/api/v1/devices", Some("kds-x-2"), &screen)
        .await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["device"]["active"], true, "{again}");
    let new = creds(&node, &again);
    assert_eq!(new.user, "kds-x");
    assert_ne!(new.password, old.password, "fresh credentials");
    let out = publish(&old, topic, "online").await;
    assert!(!out.status.success(), "the old secret is refused");
    assert!(publish(&new, topic, "online").await.status.success());
    let (_, dev) = node.get(&mgr, "/api/v1/devices/kds-x").await;
    assert_eq!(dev["active"], true, "{dev}");

    // While it is registered, the id is taken.
    let (s, b) = node
        .post(&mgr, "/api/v1/devices", Some("kds-x-3"), &screen)
        .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["code"], "device_exists");
}

#[tokio::test]
async fn a_broker_that_cannot_start_does_not_stop_the_node() {
    // Something else owns the port (here: our own listener; on many boxes a system mosquitto).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let node = spawn_with(move |c| c.mqtt.bind = Some(format!("127.0.0.1:{port}"))).await;
    let r = node.http.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "orders and the KDS still work");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["mqtt"]["listening"], false, "{body}");
    assert!(
        body["mqtt"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    let cashier = node.cashier().await;
    node.place(&cashier, "no-broker").await;
}

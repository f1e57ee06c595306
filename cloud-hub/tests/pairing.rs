//! Pairing codes and node-key enrollment (issue 16, `docs/enrollment.md`), through the real HTTP
//! API and the real sync WebSocket, on a `ManualClock` so "expired by 1 s" is exact. Each runs on
//! SQLite and PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, Peer, TestDb, TestHub, WAIT, both, code, s};
use domain::clock::{Clock, ManualClock, SystemClock};
use node_identity::{NodeKey, PairingCode};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const STORE: &str = "s1";
const OTHER: &str = "s2";
const TTL: Duration = Duration::from_secs(600);

async fn hub_on(db: &TestDb, clock: &Arc<ManualClock>) -> TestHub {
    let clock = clock.clone();
    let hub = TestHub::start_with(db, move |c| {
        c.clock = clock;
        c.auth.trust_forwarded_for = true;
    })
    .await;
    hub.create_store(STORE).await;
    hub.create_store(OTHER).await;
    hub
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(SystemClock.now()))
}

/// Makes a pairing code for `store` as the admin; returns the answer.
async fn make_code(hub: &TestHub, store: &str, label: &str) -> Value {
    let (st, b) = hub
        .call(
            "POST",
            &format!("/api/v1/stores/{store}/pairing-codes"),
            Some(&json!({ "label": label })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    b
}

/// Enrolls `key` with `code` from the client address `ip`.
async fn enroll_from(
    hub: &TestHub,
    ip: &str,
    key: &NodeKey,
    code: &str,
    store_id: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let proof = match PairingCode::parse(code) {
        Ok(c) => key.sign_enrollment(&c),
        Err(_) => "x".into(),
    };
    let mut body = json!({
        "code": code, "public_key": key.public_key().to_base64(),
        "label": "kitchen-box", "proof": proof,
    });
    if let Some(s) = store_id {
        body["store_id"] = json!(s);
    }
    hub.request(
        None,
        "POST",
        "/api/v1/nodes/enroll",
        Some(&body),
        &[("x-forwarded-for", ip)],
    )
    .await
}

async fn enroll(hub: &TestHub, key: &NodeKey, code: &str) -> (u16, Value) {
    let (st, b, _) = enroll_from(hub, "10.0.0.1", key, code, None).await;
    (st, b)
}

async fn codes(hub: &TestHub, store: &str) -> Vec<Value> {
    let (st, b) = hub
        .call(
            "GET",
            &format!("/api/v1/stores/{store}/pairing-codes"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    b["codes"].as_array().unwrap().clone()
}

async fn enrolled(hub: &TestHub, store: &str) -> Vec<Value> {
    let (st, b) = hub
        .call("GET", &format!("/api/v1/stores/{store}/nodes"), None)
        .await;
    assert_eq!(st, 200, "{b}");
    b["enrolled"].as_array().unwrap().clone()
}

async fn codes_expire_work_once_and_stay_with_their_store(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let hub = hub_on(&db, &clock).await;
    let key = NodeKey::generate().unwrap();

    // Shown as XXXX-XXXX from the alphabet without look-alikes.
    let first = make_code(&hub, STORE, "front till").await;
    let shown = s(&first, "code");
    assert_eq!(shown.len(), 9, "{shown}");
    assert_eq!(&shown[4..5], "-");
    assert_eq!(PairingCode::parse(&shown).unwrap().to_string(), shown);
    assert_eq!(
        first["expires_at_ms"].as_i64().unwrap(),
        clock.now().as_i64() + 600_000
    );

    // Expired by 1 s: refused with the installer's message.
    clock.advance(TTL + Duration::from_secs(1));
    let (st, b) = enroll(&hub, &key, &shown).await;
    assert_eq!((st, code(&b)), (401, "invalid_code"), "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("Devices"),
        "{b}"
    );

    // One second before it expires: enrolled (typed in lower case without the dash).
    let second = make_code(&hub, STORE, "kitchen box").await;
    clock.advance(TTL - Duration::from_secs(1));
    let typed = s(&second, "code").replace('-', "").to_lowercase();
    let (st, node) = enroll(&hub, &key, &typed).await;
    assert_eq!(st, 201, "{node}");
    assert_eq!(s(&node, "store_id"), STORE);
    assert_eq!(s(&node, "store_name"), "Store s1");
    assert_eq!(s(&node, "ticket_prefix"), "S");
    assert!(s(&node, "node_id").starts_with("nd_"));

    // The same key again (an answer lost in a power cut), even after expiry: 200, the same node.
    clock.advance(Duration::from_secs(5));
    let (st, again) = enroll(&hub, &key, &typed).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again, node);
    // Another key with the used code: refused.
    let (st, b) = enroll(&hub, &NodeKey::generate().unwrap(), &typed).await;
    assert_eq!((st, code(&b)), (401, "invalid_code"), "{b}");

    // Wrong store: 409, and the code still works for its own store.
    let third = make_code(&hub, STORE, "").await;
    let other_key = NodeKey::generate().unwrap();
    let (st, b, _) = enroll_from(
        &hub,
        "10.0.0.1",
        &other_key,
        &s(&third, "code"),
        Some(OTHER),
    )
    .await;
    assert_eq!((st, code(&b)), (409, "wrong_store"), "{b}");
    let (st, b, _) = enroll_from(
        &hub,
        "10.0.0.1",
        &other_key,
        &s(&third, "code"),
        Some(STORE),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(s(&b, "ticket_prefix"), "T", "the second node of the store");

    // Malformed: 422 bad_code.
    for bad in ["K7QM-3XP0", "K7QM", "K7QM-3XPDX", "K7QM_3XPD"] {
        let (st, b) = enroll(&hub, &key, bad).await;
        assert_eq!((st, code(&b)), (422, "bad_code"), "{bad}: {b}");
    }
    // A proof by another key: 401 bad_proof.
    let fourth = make_code(&hub, STORE, "spare").await;
    let c4 = s(&fourth, "code");
    let mut body = json!({
        "code": c4, "public_key": NodeKey::generate().unwrap().public_key().to_base64(),
        "proof": key.sign_enrollment(&PairingCode::parse(&c4).unwrap()),
    });
    let (st, b, _) = hub
        .request(
            None,
            "POST",
            "/api/v1/nodes/enroll",
            Some(&body),
            &[("x-forwarded-for", "10.0.0.9")],
        )
        .await;
    assert_eq!((st, code(&b)), (401, "bad_proof"), "{b}");

    // Listed unused with who made it; revoked, it is refused.
    let listed = codes(&hub, STORE).await;
    let ids: Vec<&str> = listed
        .iter()
        .map(|c| c["code_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&s(&fourth, "code_id").as_str()), "{listed:?}");
    assert!(
        !ids.contains(&s(&second, "code_id").as_str()),
        "a used code is not listed"
    );
    assert!(
        listed.iter().all(|c| c.get("code").is_none()),
        "never the code itself"
    );
    assert_eq!(listed[0]["created_by_name"], "Platform admin");
    let (st, b) = hub
        .call(
            "POST",
            &format!(
                "/api/v1/stores/{STORE}/pairing-codes/{}/revoke",
                s(&fourth, "code_id")
            ),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert!(b["revoked_at_ms"].is_i64(), "{b}");
    let fresh = NodeKey::generate().unwrap();
    body["public_key"] = json!(fresh.public_key().to_base64());
    body["proof"] = json!(fresh.sign_enrollment(&PairingCode::parse(&c4).unwrap()));
    let (st, b, _) = hub
        .request(
            None,
            "POST",
            "/api/v1/nodes/enroll",
            Some(&body),
            &[("x-forwarded-for", "10.0.0.9")],
        )
        .await;
    assert_eq!((st, code(&b)), (401, "invalid_code"), "{b}");

    // A code of another store's tenant is not found through this store.
    let (st, _) = hub
        .call(
            "POST",
            &format!(
                "/api/v1/stores/{OTHER}/pairing-codes/{}/revoke",
                s(&third, "code_id")
            ),
            None,
        )
        .await;
    assert_eq!(st, 404);

    // The enrolled list says when and by whom.
    let nodes = enrolled(&hub, STORE).await;
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert_eq!(nodes[0]["node_id"], node["node_id"]);
    assert_eq!(nodes[0]["enrolled_by_name"], "Platform admin");
    assert_eq!(nodes[0]["enrolled_at_ms"], node["enrolled_at_ms"]);
    assert_eq!(nodes[0]["label"], "kitchen-box");
    assert_eq!(nodes[0]["online"], false);
    hub.stop().await;
}
both!(codes_expire_work_once_and_stay_with_their_store);

async fn guessing_is_rate_limited_per_address(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let hub = hub_on(&db, &clock).await;
    let key = NodeKey::generate().unwrap();
    let right = s(&make_code(&hub, STORE, "box").await, "code");
    // Malformed codes are not guesses.
    for _ in 0..20 {
        let (st, _, _) = enroll_from(&hub, "10.0.0.1", &key, "0000-0000", None).await;
        assert_eq!(st, 422);
    }
    let mut guesses = 0;
    let throttled = loop {
        let guess = PairingCode::generate().unwrap().to_string();
        let (st, b, headers) = enroll_from(&hub, "10.0.0.1", &key, &guess, None).await;
        guesses += 1;
        if st == 429 {
            break (b, headers);
        }
        assert_eq!((st, code(&b)), (401, "invalid_code"), "{b}");
        assert!(guesses <= 20, "no limit after {guesses} guesses");
    };
    assert_eq!(guesses, 11, "ten failures, then refused");
    assert_eq!(code(&throttled.0), "too_many_attempts");
    assert!(throttled.1.get("retry-after").is_some());
    // Refused without looking, even with the right code, from that address...
    let (st, b, _) = enroll_from(&hub, "10.0.0.1", &key, &right, None).await;
    assert_eq!((st, code(&b)), (429, "too_many_attempts"), "{b}");
    // ...while another address enrolls with it.
    let (st, b, _) = enroll_from(&hub, "10.0.0.2", &key, &right, None).await;
    assert_eq!(st, 201, "{b}");
    hub.stop().await;
}
both!(guessing_is_rate_limited_per_address);

/// Opens the sync socket with a raw `Authorization` value; Err((status, body)) when refused.
async fn connect_signed(hub: &TestHub, authorization: &str) -> Result<common::Ws, (u16, Value)> {
    let mut req = hub.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", authorization.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            let status = r.status().as_u16();
            let body = r
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((status, body))
        }
        Err(e) => panic!("connect failed: {e}"),
    }
}

/// The refusal of a connection that must be refused.
async fn refused(hub: &TestHub, authorization: &str) -> (u16, Value) {
    match connect_signed(hub, authorization).await {
        Ok(_) => panic!("accepted: {authorization}"),
        Err(e) => e,
    }
}

async fn an_enrolled_node_syncs_with_its_key_and_is_cut_when_revoked(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let hub = hub_on(&db, &clock).await;
    let key = NodeKey::generate().unwrap();
    let c = s(&make_code(&hub, STORE, "box").await, "code");
    let (st, node) = enroll(&hub, &key, &c).await;
    assert_eq!(st, 201, "{node}");
    let node_id = s(&node, "node_id");

    // Signed with the hub's time: connects, and an order goes through.
    let auth = key
        .sync_auth(&node_id, clock.now().as_i64())
        .unwrap()
        .to_string();
    let ws = connect_signed(&hub, &auth)
        .await
        .expect("signed connection accepted");
    let mut peer = Peer::new(STORE, "node-a");
    peer.ws = Some(ws);
    let frames = peer.session.start(&peer.log, &mut peer.docs).unwrap();
    peer.send_frames(frames).await;
    peer.record_order("00000000-0000-7000-8000-000000000001", "S-0001", 1250);
    peer.flush().await;
    peer.wait_acked(1).await;
    assert_eq!(hub.event_count(STORE).await, 1);
    common::eventually("the node shows online", async || {
        enrolled(&hub, STORE).await[0]["online"] == true
    })
    .await;
    // The Overview's "store server online" counts a key-authenticated node as a token one.
    let (st, b) = hub
        .call("GET", &format!("/api/v1/stores/{STORE}/nodes"), None)
        .await;
    assert_eq!((st, &b["connected"]), (200, &json!(true)), "{b}");
    common::eventually("the Overview shows the store server online", async || {
        let (st, b) = hub.call("GET", "/api/v1/orgs/default/overview", None).await;
        st == 200
            && b["stores"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|s| s["store_id"] == STORE && s["node"]["online"] == true)
            })
    })
    .await;

    // The same header again (a replay): refused.
    let (st, b) = refused(&hub, &auth).await;
    assert_eq!((st, code(&b)), (401, "replayed"), "{b}");
    // A signature by another key: refused.
    let forged = NodeKey::generate()
        .unwrap()
        .sync_auth(&node_id, clock.now().as_i64())
        .unwrap()
        .to_string();
    let (st, b) = refused(&hub, &forged).await;
    assert_eq!((st, code(&b)), (401, "bad_signature"), "{b}");
    // A clock more than 5 minutes off: refused with the hub's time.
    let late = key
        .sync_auth(&node_id, clock.now().as_i64() - 5 * 60_000 - 1)
        .unwrap()
        .to_string();
    let (st, b) = refused(&hub, &late).await;
    assert_eq!((st, code(&b)), (401, "clock_skew"), "{b}");
    assert_eq!(b["hub_time_ms"].as_i64(), Some(clock.now().as_i64()));
    // Garbage: refused.
    let (st, b) = refused(&hub, "EdgeNode node_id=x").await;
    assert_eq!((st, code(&b)), (401, "bad_authorization"), "{b}");

    // Revoked while connected: closed at once (4401), refused after.
    let (st, b) = hub
        .call(
            "POST",
            &format!("/api/v1/stores/{STORE}/nodes/{node_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["closed_connections"], 1, "{b}");
    assert!(b["node"]["revoked_at_ms"].is_i64(), "{b}");
    let deadline = Instant::now() + WAIT;
    let closed = tokio::time::timeout_at(deadline, peer.wait_closed())
        .await
        .unwrap();
    assert_eq!(closed.map(|c| c.0), Some(4401));
    let again = key
        .sync_auth(&node_id, clock.now().as_i64())
        .unwrap()
        .to_string();
    let (st, b) = refused(&hub, &again).await;
    assert_eq!((st, code(&b)), (401, "node_revoked"), "{b}");
    let nodes = enrolled(&hub, STORE).await;
    assert!(nodes[0]["revoked_at_ms"].is_i64(), "{nodes:?}");
    hub.stop().await;
}
both!(an_enrolled_node_syncs_with_its_key_and_is_cut_when_revoked);

/// Two enrollments racing with one code make one node (the code's hash is UNIQUE).
async fn racing_enrollments_make_one_node(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let hub = Arc::new(hub_on(&db, &clock).await);
    let c = s(&make_code(&hub, STORE, "box").await, "code");
    let keys: Vec<NodeKey> = (0..6).map(|_| NodeKey::generate().unwrap()).collect();
    let mut tasks = Vec::new();
    for (i, k) in keys.into_iter().enumerate() {
        let (hub, c) = (hub.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            enroll_from(&hub, &format!("10.0.1.{i}"), &k, &c, None)
                .await
                .0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![201, 401, 401, 401, 401, 401]);
    assert_eq!(enrolled(&hub, STORE).await.len(), 1);
    Arc::try_unwrap(hub).ok().unwrap().stop().await;
}
both!(racing_enrollments_make_one_node);

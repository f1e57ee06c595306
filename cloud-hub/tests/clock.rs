//! The hub on a `ManualClock`: time moves only when the test moves it, so
//! token lifetimes, the node grace period and the expiry of stored idempotent
//! answers are tested without waiting for them (issue 12, "time as a port").
//! Each runs on SQLite and PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, Peer, TestDb, TestHub, both, code, demo_menu, eventually};
use domain::clock::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

const PASSWORD: &str = "plum-kettle-73-orbit";
const STORE: &str = "s1";

/// A hub whose clock starts at the real now and then stands still.
async fn hub_on(db: &TestDb, clock: &Arc<ManualClock>, grace_secs: u64) -> TestHub {
    let clock = clock.clone();
    TestHub::start_with(db, move |c| {
        c.clock = clock;
        c.node_grace_secs = grace_secs;
    })
    .await
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(SystemClock.now()))
}

/// Signs a customer up; returns the body (access and refresh tokens).
async fn sign_up(hub: &TestHub, email: &str) -> Value {
    let (s, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/signup",
            Some(&json!({ "email": email, "password": PASSWORD, "name": "Robin" })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b
}

async fn me(hub: &TestHub, token: &str) -> (u16, Value) {
    hub.call_as(Some(token), "GET", "/api/v1/auth/me", None)
        .await
}

async fn refresh(hub: &TestHub, refresh_token: &str) -> (u16, Value) {
    hub.call_as(
        None,
        "POST",
        "/api/v1/auth/refresh",
        Some(&json!({ "refresh_token": refresh_token })),
    )
    .await
}

async fn access_and_refresh_tokens_expire_by_the_hubs_clock(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let hub = hub_on(&db, &clock, 60).await;
    let pair = sign_up(&hub, "robin@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(me(&hub, access).await.0, 200);

    // An access token lives 15 minutes: valid to its last second, refused after.
    clock.advance(Duration::from_secs(900));
    assert_eq!(me(&hub, access).await.0, 200, "valid until its exp");
    clock.advance(Duration::from_secs(2));
    let (s, b) = me(&hub, access).await;
    assert_eq!((s, code(&b)), (401, "token_expired"), "{b}");

    // The refresh token still trades for a fresh pair, which works now.
    let (s, fresh) = refresh(&hub, pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{fresh}");
    assert_eq!(
        me(&hub, fresh["access_token"].as_str().unwrap()).await.0,
        200
    );

    // A refresh token lives 30 days from its rotation; after that the session is over.
    clock.advance(Duration::from_secs(30 * 24 * 3600 + 1));
    let (s, b) = refresh(&hub, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!((s, code(&b)), (401, "invalid_refresh_token"), "{b}");
    hub.stop().await;
}
both!(access_and_refresh_tokens_expire_by_the_hubs_clock);

async fn ordering(hub: &TestHub) -> Value {
    let (s, b) = hub
        .call_as(None, "GET", &format!("/api/v1/public/stores/{STORE}"), None)
        .await;
    assert_eq!(s, 200, "{b}");
    b["ordering"].clone()
}

async fn a_store_pauses_exactly_when_the_grace_period_ends(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let grace = Duration::from_secs(120);
    let hub = hub_on(&db, &clock, grace.as_secs()).await;
    hub.create_store(STORE).await;
    let menu = serde_json::to_value(demo_menu()).unwrap();
    let (s, b) = hub
        .call("PUT", &format!("/api/v1/stores/{STORE}/menu"), Some(&menu))
        .await;
    assert_eq!(s, 200, "{b}");
    let token = hub.create_token(STORE, "node-1").await;
    assert_eq!(
        ordering(&hub).await["reason"],
        "store_offline",
        "a store whose node never connected takes no orders"
    );

    let mut node = Peer::new(STORE, "node-1");
    node.connect(&hub.ws_url(), &token).await.unwrap();
    node.pump_until("the catalog at the node", |p| {
        p.docs.contains_key(&sync::doc::DocKind::Catalog)
    })
    .await;
    assert_eq!(ordering(&hub).await["accepting"], true);
    node.disconnect().await;
    // The replica records the closed link (stamped with the standing clock's now).
    let presence = &hub.running.hub().db;
    eventually("the closed link on record", async || {
        let rows = presence.store_presence(STORE).await.unwrap();
        !rows.is_empty() && rows.iter().all(|r| r.connections == 0)
    })
    .await;

    // Away for the whole grace period: still taking orders. One second more: paused.
    clock.advance(grace);
    assert_eq!(
        ordering(&hub).await["accepting"],
        true,
        "within the grace period"
    );
    clock.advance(Duration::from_secs(1));
    let o = ordering(&hub).await;
    assert_eq!(
        (o["accepting"].as_bool(), o["reason"].as_str()),
        (Some(false), Some("store_offline")),
        "{o}"
    );

    // Back: taking orders again at once.
    node.connect(&hub.ws_url(), &token).await.unwrap();
    eventually("ordering to resume with the node back", async || {
        ordering(&hub).await["accepting"] == true
    })
    .await;
    node.disconnect().await;
    hub.stop().await;
}
both!(a_store_pauses_exactly_when_the_grace_period_ends);

async fn stored_answers_and_sessions_are_swept_when_they_expire(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let hub = hub_on(&db, &clock, 60).await;
    let create = |id: &'static str| {
        let hub = &hub;
        async move {
            let (s, b, _) = hub
                .request(
                    Some(common::ADMIN),
                    "POST",
                    "/api/v1/admin/stores",
                    Some(&json!({ "id": id, "name": "Corner" })),
                    &[("idempotency-key", "open-a-store")],
                )
                .await;
            (s, b)
        }
    };
    assert_eq!(create("s2").await.0, 201);
    let (s, b) = create("s3").await;
    assert_eq!(
        (s, code(&b)),
        (422, "idempotency_key_reused"),
        "within a day the key stands for its first request: {b}"
    );
    sign_up(&hub, "robin@example.com").await;

    // A sweep now deletes nothing that is still in use.
    let hubref = hub.running.hub();
    let swept = cloud_hub::housekeeping::sweep(hubref, hubref.now_ms())
        .await
        .unwrap();
    assert_eq!(swept, cloud_hub::housekeeping::Swept::default());

    // A day later the stored answer goes; 30 days later the session's refresh token.
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    let swept = cloud_hub::housekeeping::sweep(hubref, hubref.now_ms())
        .await
        .unwrap();
    assert!(swept.idempotent_answers >= 1, "{swept:?}");
    assert_eq!(swept.refresh_tokens, 0, "{swept:?}");
    let (s, b) = create("s3").await;
    assert_eq!(s, 201, "an expired key is a new request: {b}");
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    let swept = cloud_hub::housekeeping::sweep(hubref, hubref.now_ms())
        .await
        .unwrap();
    assert_eq!(swept.refresh_tokens, 1, "{swept:?}");
    hub.stop().await;
}
both!(stored_answers_and_sessions_are_swept_when_they_expire);

/// Every "what time is it" of the hub goes through its clock (`Hub::now_ms`,
/// `AuthState::now_ms`): no source file but the listed ones reads the wall
/// clock itself. (`Instant` is allowed: it paces work and limits rates, it
/// does not say what time it is.) Unit-test modules are not scanned.
#[test]
fn the_hub_reads_the_wall_clock_only_through_its_clock() {
    // File, and why it may read the wall clock.
    let allowed: &[(&str, &str)] = &[
        ("time.rs", "defines the port and the system clock"),
        ("main.rs", "the binary gives the hub the system clock"),
        (
            "lib.rs",
            "chooses the production clock, and the command-line tools (add-admin, keys) run without a hub",
        ),
    ];
    let mut forbidden = test_support::WALL_CLOCK_READS.to_vec();
    forbidden.extend(["system_clock", "system_now_ms"]);
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (scanned, offenders) = test_support::wall_clock_reads(&src, &forbidden, |file, _| {
        allowed.iter().any(|(f, _)| *f == file)
    });
    assert!(scanned > 20, "the scan sees the hub's sources ({scanned})");
    assert!(
        offenders.is_empty(),
        "read the time through the hub's clock (Hub::now_ms, AuthState::now_ms):\n{}",
        offenders.join("\n")
    );
}

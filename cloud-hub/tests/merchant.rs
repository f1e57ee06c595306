//! The merchant API over real HTTP on both databases: sold-out toggles reach a
//! connected node's catalog, staff management (who works at a store, role
//! changes, removal ending sessions, withdrawn invitations, the last owner
//! kept), and the order list's filters and its projection.

mod common;

use common::{Backend, Peer, TestDb, TestHub, both, code, demo_menu, s};
use serde_json::{Value, json};
use sync::catalog::read_menu;
use sync::doc::DocKind;

const GOOD: &str = "plum-kettle-73-orbit";

/// An organisation made with the admin token, its owner signed in; returns (org id, owner token).
async fn org_with_owner(hub: &TestHub, name: &str, owner: &str) -> (String, String) {
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/orgs",
            Some(&json!({ "name": name, "owner_email": owner })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let org = s(&b, "id");
    let token = accept(hub, &s(&b["invitation"], "token")).await;
    (org, s(&token, "access_token"))
}

/// Accepts an invitation as a new account; returns the answer (tokens, user_id).
async fn accept(hub: &TestHub, token: &str) -> Value {
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": token, "name": "Staff", "password": GOOD })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    b
}

async fn invite(hub: &TestHub, by: &str, org: &str, body: Value) -> Value {
    let (st, b) = hub
        .call_as(
            Some(by),
            "POST",
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&body),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    b
}

/// Invites `m@a.example` as an organisation-wide manager; returns their access token.
async fn manager_of(hub: &TestHub, owner: &str, org: &str) -> String {
    let inv = invite(
        hub,
        owner,
        org,
        json!({ "email": "m@a.example", "role": "manager" }),
    )
    .await;
    s(&accept(hub, &s(&inv, "token")).await, "access_token")
}

async fn new_store(hub: &TestHub, id: &str, org: &str) {
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores",
            Some(&json!({ "id": id, "name": id, "org_id": org })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
}

/// A replayed write authenticates like a new one: after sign-out, resending
/// the same node-token request with the same key is 401, not the stored 201
/// with the node token's secret.
async fn replays_need_a_live_session(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, owner) = org_with_owner(&hub, "Harbor Group", "owner@a.example").await;
    new_store(&hub, "a1", &org).await;
    let body = json!({ "label": "back office box" });
    let key = [("idempotency-key", "enrol-1")];
    let (st, first, _) = hub
        .request(
            Some(&owner),
            "POST",
            "/api/v1/stores/a1/node-tokens",
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(st, 201, "{first}");
    let (st, again, h) = hub
        .request(
            Some(&owner),
            "POST",
            "/api/v1/stores/a1/node-tokens",
            Some(&body),
            &key,
        )
        .await;
    assert_eq!((st, &again), (201, &first));
    assert_eq!(h["idempotent-replayed"], "true");
    let (st, b) = hub
        .call_as(Some(&owner), "POST", "/api/v1/auth/logout", None)
        .await;
    assert_eq!(st, 204, "{b}");
    let (st, b, h) = hub
        .request(
            Some(&owner),
            "POST",
            "/api/v1/stores/a1/node-tokens",
            Some(&body),
            &key,
        )
        .await;
    assert_eq!((st, code(&b)), (401, "token_revoked"), "{b}");
    assert!(b.get("token").is_none() && !h.contains_key("idempotent-replayed"));
    hub.stop().await;
}
both!(replays_need_a_live_session);

/// An invitation never lowers a role: a manager invites the sole owner's email
/// as a cashier, the owner accepts, and stays the owner (before, the
/// organisation was left without one and nobody could repair it).
async fn an_invitation_never_demotes_the_owner(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, owner) = org_with_owner(&hub, "Harbor Group", "owner@a.example").await;
    new_store(&hub, "a1", &org).await;
    let manager = manager_of(&hub, &owner, &org).await;
    // Managers invite only counter and kitchen staff.
    let (st, _) = hub
        .call_as(
            Some(&manager),
            "POST",
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&json!({ "email": "x@a.example", "role": "manager" })),
        )
        .await;
    assert_eq!(st, 403);
    let inv = invite(
        &hub,
        &manager,
        &org,
        json!({ "email": "owner@a.example", "role": "cashier" }),
    )
    .await;
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": s(&inv, "token") })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["membership"]["role"], "owner", "{b}");
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "POST",
            "/api/v1/stores/a1/node-tokens",
            Some(&json!({ "label": "box" })),
        )
        .await;
    assert_eq!(st, 201, "still the owner: {b}");
    hub.stop().await;
}
both!(an_invitation_never_demotes_the_owner);

/// An installer sets up the store's box with a node token the owner issues at
/// the hub (no platform admin needed); the owner revokes it when the box is
/// lost or replaced. Managers cannot; another organisation's owner sees no store.
async fn owners_enrol_and_revoke_nodes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, owner) = org_with_owner(&hub, "Harbor Group", "owner@a.example").await;
    new_store(&hub, "a1", &org).await;
    let (_, other_owner) = org_with_owner(&hub, "Other Group", "owner@b.example").await;
    let manager = manager_of(&hub, &owner, &org).await;
    let enrol = async |who: &str| {
        hub.call_as(
            Some(who),
            "POST",
            "/api/v1/stores/a1/node-tokens",
            Some(&json!({ "label": "back office box" })),
        )
        .await
    };
    assert_eq!(enrol(&manager).await.0, 403);
    assert_eq!(enrol(&other_owner).await.0, 404);
    let (st, issued) = enrol(&owner).await;
    assert_eq!(st, 201, "{issued}");
    assert_eq!(issued["store_id"], "a1");

    // The box syncs with it, and the owner sees it connected.
    let mut peer = Peer::new("a1", "node-1");
    peer.connect(&hub.ws_url(), &s(&issued, "token"))
        .await
        .unwrap();
    peer.pump_until("the hub's hello", |p| p.session.acked().is_some())
        .await;
    let (st, nodes) = hub
        .call_as(Some(&owner), "GET", "/api/v1/stores/a1/nodes", None)
        .await;
    assert_eq!(st, 200, "{nodes}");
    assert_eq!(nodes["nodes"][0]["label"], "back office box");

    // Revoked by its hash: the open connection closes (4401).
    let revoke = json!({ "token_sha256": s(&issued, "token_sha256") });
    let (st, b) = hub
        .call_as(
            Some(&manager),
            "POST",
            "/api/v1/stores/a1/node-tokens/revoke",
            Some(&revoke),
        )
        .await;
    assert_eq!(st, 403, "{b}");
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "POST",
            "/api/v1/stores/a1/node-tokens/revoke",
            Some(&revoke),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["closed_connections"], 1);
    let (close, reason) = peer.wait_closed().await.unwrap();
    assert_eq!(close, 4401, "{reason}");
    let (st, nodes) = hub
        .call_as(Some(&owner), "GET", "/api/v1/stores/a1/nodes", None)
        .await;
    assert_eq!(st, 200, "{nodes}");
    assert_eq!(nodes["nodes"][0]["revoked"], true);
    hub.stop().await;
}
both!(owners_enrol_and_revoke_nodes);

async fn sold_out_toggles_reach_the_node(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, owner) = org_with_owner(&hub, "Harbor Group", "owner@a.example").await;
    new_store(&hub, "a1", &org).await;
    let manager = manager_of(&hub, &owner, &org).await;
    let menu = demo_menu();
    let item = menu.items[0].id.to_string();
    let modifier = menu.modifier_groups[0].modifiers[0].id.to_string();
    let item_path = format!("/api/v1/stores/a1/menu/items/{item}/sold-out");
    let modifier_path = format!("/api/v1/stores/a1/menu/modifiers/{modifier}/sold-out");

    // Customers see the menu as it stands now (the hub keeps a projection
    // per document version: every change below must show at once).
    let public_sold_out = async || {
        let (st, b) = hub
            .call_as(None, "GET", "/api/v1/public/stores/a1/menu", None)
            .await;
        if st == 404 {
            return None;
        }
        assert_eq!(st, 200, "{b}");
        Some((
            b["menu"]["items"][0]["sold_out"] == true,
            b["menu"]["modifier_groups"][0]["modifiers"][0]["sold_out"] == true,
        ))
    };

    // No menu yet.
    assert_eq!(public_sold_out().await, None);
    let (st, b) = hub
        .call_as(
            Some(&manager),
            "PUT",
            &item_path,
            Some(&json!({ "sold_out": true })),
        )
        .await;
    assert_eq!((st, code(&b)), (404, "no_menu"));

    let (st, _) = hub
        .call(
            "PUT",
            "/api/v1/stores/a1/menu",
            Some(&serde_json::to_value(&menu).unwrap()),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(public_sold_out().await, Some((false, false)));
    let token = hub.create_token("a1", "till").await;
    let mut peer = Peer::new("a1", "node-1");
    peer.connect(&hub.ws_url(), &token).await.unwrap();
    peer.pump_until("the menu reaches the node", |p| {
        p.docs
            .get(&DocKind::Catalog)
            .and_then(|d| read_menu(d).ok())
            .is_some_and(|m| m == menu)
    })
    .await;

    // The manager marks an item and a modifier sold out; the node's catalog follows.
    let (st, b) = hub
        .call_as(
            Some(&manager),
            "PUT",
            &item_path,
            Some(&json!({ "sold_out": true })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["menu"]["items"][0]["sold_out"], true);
    let (st, b) = hub
        .call_as(
            Some(&manager),
            "PUT",
            &modifier_path,
            Some(&json!({ "sold_out": true })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        b["menu"]["modifier_groups"][0]["modifiers"][0]["sold_out"],
        true
    );
    assert_eq!(public_sold_out().await, Some((true, true)));
    let mut want = menu.clone();
    want.items[0].sold_out = true;
    want.modifier_groups[0].modifiers[0].sold_out = true;
    peer.pump_until("the sold-out flags reach the node", |p| {
        p.docs
            .get(&DocKind::Catalog)
            .and_then(|d| read_menu(d).ok())
            .is_some_and(|m| m == want)
    })
    .await;
    // And back.
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "PUT",
            &item_path,
            Some(&json!({ "sold_out": false })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(public_sold_out().await, Some((false, true)));
    want.items[0].sold_out = false;
    peer.pump_until("available again at the node", |p| {
        p.docs
            .get(&DocKind::Catalog)
            .and_then(|d| read_menu(d).ok())
            .is_some_and(|m| m == want)
    })
    .await;

    // Bad input: unknown ids, a body of the wrong shape.
    for (path, want_code) in [
        ("/api/v1/stores/a1/menu/items/nope/sold-out", "unknown_item"),
        (
            "/api/v1/stores/a1/menu/modifiers/nope/sold-out",
            "unknown_modifier",
        ),
    ] {
        let (st, b) = hub
            .call_as(
                Some(&manager),
                "PUT",
                path,
                Some(&json!({ "sold_out": true })),
            )
            .await;
        assert_eq!((st, code(&b)), (404, want_code));
    }
    for body in [
        json!({}),
        json!({ "sold_out": "yes" }),
        json!({ "sold_out": true, "x": 1 }),
    ] {
        let (st, b) = hub
            .call_as(Some(&manager), "PUT", &item_path, Some(&body))
            .await;
        assert_eq!((st, code(&b)), (422, "invalid_body"), "{body}");
    }
    peer.disconnect().await;
    hub.stop().await;
}
both!(sold_out_toggles_reach_the_node);

async fn staff_management(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (org, owner) = org_with_owner(&hub, "Harbor Group", "owner@a.example").await;
    new_store(&hub, "a1", &org).await;
    new_store(&hub, "a2", &org).await;
    let (other_org, other_owner) = org_with_owner(&hub, "Hill Foods", "owner@b.example").await;

    let inv = invite(
        &hub,
        &owner,
        &org,
        json!({ "email": "m@a.example", "role": "manager" }),
    )
    .await;
    let manager = accept(&hub, &s(&inv, "token")).await;
    let manager_id = s(&manager, "user_id");
    let inv = invite(
        &hub,
        &owner,
        &org,
        json!({ "email": "k@a.example", "role": "kitchen", "store_id": "a1" }),
    )
    .await;
    let kitchen = accept(&hub, &s(&inv, "token")).await;
    let kitchen_id = s(&kitchen, "user_id");
    let pending = invite(
        &hub,
        &owner,
        &org,
        json!({ "email": "p@a.example", "role": "cashier", "store_id": "a1" }),
    )
    .await;

    // Who works at a1: the owner and manager (organisation-wide), the a1 kitchen; p@ is invited.
    let (st, b) = hub
        .call_as(Some(&owner), "GET", "/api/v1/stores/a1/members", None)
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["org_id"], json!(org));
    let members: Vec<(String, String, Value)> = b["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (s(m, "email"), s(m, "role"), m["store_id"].clone()))
        .collect();
    assert_eq!(
        members,
        vec![
            ("k@a.example".into(), "kitchen".into(), json!("a1")),
            ("m@a.example".into(), "manager".into(), Value::Null),
            ("owner@a.example".into(), "owner".into(), Value::Null),
        ]
    );
    let invited: Vec<String> = b["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(i, "email"))
        .collect();
    assert_eq!(invited, vec!["p@a.example".to_owned()]);
    assert!(
        b["invitations"][0].get("token").is_none(),
        "tokens are never listed"
    );
    // a2 has no kitchen and no pending cashier.
    let (_, b) = hub
        .call_as(Some(&owner), "GET", "/api/v1/stores/a2/members", None)
        .await;
    assert_eq!(b["members"].as_array().unwrap().len(), 2, "{b}");
    assert_eq!(b["invitations"], json!([]));
    // Managers do not manage staff; another tenant sees nothing.
    let (st, _) = hub
        .call_as(
            Some(&s(&manager, "access_token")),
            "GET",
            "/api/v1/stores/a1/members",
            None,
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = hub
        .call_as(Some(&other_owner), "GET", "/api/v1/stores/a1/members", None)
        .await;
    assert_eq!(st, 404);

    // Role changes: the kitchen member's a1 membership becomes cashier.
    let member_path = |user: &str| format!("/api/v1/orgs/{org}/members/{user}");
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "PUT",
            &member_path(&kitchen_id),
            Some(&json!({ "role": "cashier", "store_id": "a1" })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        (b["role"].as_str(), b["store_id"].as_str()),
        (Some("cashier"), Some("a1"))
    );
    let (_, me) = hub
        .call_as(
            Some(&s(&kitchen, "access_token")),
            "GET",
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(me["memberships"][0]["role"], "cashier");
    // No such membership (the kitchen member has none organisation-wide), a bad role.
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "PUT",
            &member_path(&kitchen_id),
            Some(&json!({ "role": "manager" })),
        )
        .await;
    assert_eq!((st, code(&b)), (404, "not_found"));
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "PUT",
            &member_path(&kitchen_id),
            Some(&json!({ "role": "admin", "store_id": "a1" })),
        )
        .await;
    assert_eq!((st, code(&b)), (422, "invalid_role"));
    // Another organisation's owner cannot touch org A's members: it does not exist for them.
    let (st, b) = hub
        .call_as(
            Some(&other_owner),
            "PUT",
            &member_path(&kitchen_id),
            Some(&json!({ "role": "kitchen", "store_id": "a1" })),
        )
        .await;
    assert_eq!((st, code(&b)), (404, "not_found"));

    // The last owner is kept: not demoted, not removed.
    let owner_id = {
        let (_, me) = hub
            .call_as(Some(&owner), "GET", "/api/v1/auth/me", None)
            .await;
        s(&me, "id")
    };
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "PUT",
            &member_path(&owner_id),
            Some(&json!({ "role": "manager" })),
        )
        .await;
    assert_eq!((st, code(&b)), (409, "last_owner"));
    // Found by fuzzing: an empty or foreign store id named the organisation-wide
    // membership and slipped past the last-owner check.
    for store in ["", "b1", "nope"] {
        let (st, b) = hub
            .call_as(
                Some(&owner),
                "PUT",
                &member_path(&owner_id),
                Some(&json!({ "role": "kitchen", "store_id": store })),
            )
            .await;
        assert_eq!((st, code(&b)), (404, "not_found"), "store_id {store:?}");
    }
    let (st, b) = hub
        .call_as(Some(&owner), "DELETE", &member_path(&owner_id), None)
        .await;
    assert_eq!((st, code(&b)), (409, "last_owner"));
    // With a second owner, the first may step down.
    let (st, _) = hub
        .call_as(
            Some(&owner),
            "PUT",
            &member_path(&manager_id),
            Some(&json!({ "role": "owner" })),
        )
        .await;
    assert_eq!(st, 200);
    let (st, b) = hub
        .call_as(
            Some(&owner),
            "PUT",
            &member_path(&owner_id),
            Some(&json!({ "role": "manager" })),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // Now a manager, the former owner may no longer manage staff.
    let (st, _) = hub
        .call_as(Some(&owner), "DELETE", &member_path(&kitchen_id), None)
        .await;
    assert_eq!(st, 403);

    // Removal ends the member's sessions at once.
    let new_owner = s(&manager, "access_token");
    let (st, _) = hub
        .call_as(Some(&new_owner), "DELETE", &member_path(&kitchen_id), None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = hub
        .call_as(
            Some(&s(&kitchen, "access_token")),
            "GET",
            "/api/v1/auth/me",
            None,
        )
        .await;
    assert_eq!(st, 401);
    let (st, _) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/refresh",
            Some(&json!({ "refresh_token": s(&kitchen, "refresh_token") })),
        )
        .await;
    assert_eq!(st, 401);
    let (st, b) = hub
        .call_as(Some(&new_owner), "DELETE", &member_path(&kitchen_id), None)
        .await;
    assert_eq!((st, code(&b)), (404, "not_found"));

    // Withdrawn invitations stop working; accepted ones cannot be withdrawn.
    let inv_path = |id: &str| format!("/api/v1/orgs/{org}/invitations/{id}");
    let (st, _) = hub
        .call_as(
            Some(&new_owner),
            "DELETE",
            &inv_path(&s(&pending, "id")),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (st, b) = hub
        .call_as(
            None,
            "POST",
            "/api/v1/auth/accept-invitation",
            Some(&json!({ "token": s(&pending, "token"), "name": "P", "password": GOOD })),
        )
        .await;
    assert_eq!((st, code(&b)), (404, "not_found"));
    let (st, b) = hub
        .call_as(Some(&new_owner), "DELETE", &inv_path(&s(&inv, "id")), None)
        .await;
    assert_eq!((st, code(&b)), (409, "invitation_used"));
    let (st, b) = hub
        .call_as(Some(&new_owner), "DELETE", &inv_path("nope"), None)
        .await;
    assert_eq!((st, code(&b)), (404, "not_found"));
    // An invitation of another organisation is not found through this one.
    let foreign = invite(
        &hub,
        &other_owner,
        &other_org,
        json!({ "email": "x@b.example", "role": "kitchen" }),
    )
    .await;
    let (st, _) = hub
        .call_as(
            Some(&new_owner),
            "DELETE",
            &inv_path(&s(&foreign, "id")),
            None,
        )
        .await;
    assert_eq!(st, 404);
    hub.stop().await;
}
both!(staff_management);

async fn orders_are_filtered(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    hub.create_store("s1").await;
    let token = hub.create_token("s1", "till").await;
    let mut peer = Peer::new("s1", "node-1");
    // Five orders (id, status, channel, created_ms), recorded out of time order.
    let orders = [
        ("o3", "accepted", "kiosk", 3_000),
        ("o1", "completed", "pos", 1_000),
        ("o5", "ready", "online", 5_000),
        ("o2", "placed", "online", 2_000),
        ("o4", "placed", "pos", 4_000),
    ];
    for (id, status, channel, created) in orders {
        let order = json!({ "id": id, "ticket": id, "status": status, "channel": channel, "created_ms": created });
        peer.log.record(
            "s1",
            "node-1",
            "order.created",
            Some(id),
            json!({ "order": order }),
        );
    }
    peer.connect(&hub.ws_url(), &token).await.unwrap();
    peer.wait_acked(5).await;

    let ids = |b: &Value| -> Vec<String> {
        b["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| s(o, "id"))
            .collect()
    };
    for (query, want) in [
        ("", vec!["o1", "o2", "o3", "o4", "o5"]),
        ("?status=placed", vec!["o2", "o4"]),
        ("?status=placed,ready&channel=online", vec!["o2", "o5"]),
        ("?channel=pos,kiosk", vec!["o1", "o3", "o4"]),
        ("?since_ms=2000&until_ms=4000", vec!["o2", "o3"]),
        ("?limit=2", vec!["o4", "o5"]),
        ("?status=&channel=", vec!["o1", "o2", "o3", "o4", "o5"]),
    ] {
        let (st, b) = hub
            .call("GET", &format!("/api/v1/stores/s1/orders{query}"), None)
            .await;
        assert_eq!(st, 200, "{query}: {b}");
        assert_eq!(ids(&b), want, "{query}");
        assert_eq!(b["events"], 5);
    }
    for query in [
        "?status=eaten",
        "?channel=fax",
        "?limit=0",
        "?limit=501",
        "?limit=-1",
        "?since_ms=-5",
        "?until_ms=soon",
        "?colour=red",
    ] {
        let (st, b) = hub
            .call("GET", &format!("/api/v1/stores/s1/orders{query}"), None)
            .await;
        assert_eq!((st, code(&b)), (400, "invalid_query"), "{query}: {b}");
    }
    peer.disconnect().await;
    hub.stop().await;
}
both!(orders_are_filtered);

/// Runs `sql` on the test's database directly, as an older hub would have left it.
async fn raw_sql(db: &TestDb, backend: Backend, sql: &str) {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// The order list reads the hub's projection of the orders. A store whose log
/// holds orders the projection lacks (logged before it took every order fact;
/// migration 0005 lists such stores) has its log projected again, once, before
/// its orders are listed.
async fn orders_of_an_older_log_are_listed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    hub.create_store("s1").await;
    let token = hub.create_token("s1", "till").await;
    let mut peer = Peer::new("s1", "node-1");
    for (id, created) in [("o2", 2_000), ("o1", 1_000)] {
        let order = json!({ "id": id, "ticket": id, "status": "placed", "channel": "pos", "created_ms": created });
        peer.log.record(
            "s1",
            "node-1",
            "order.created",
            Some(id),
            json!({ "order": order }),
        );
    }
    let ready = json!({ "id": "o1", "ticket": "o1", "status": "ready", "channel": "pos", "created_ms": 1_000 });
    peer.log.record(
        "s1",
        "node-1",
        "order.changed",
        Some("o1"),
        json!({ "transition": "ready", "order": ready }),
    );
    // An order whose view gives no time: listed first, and passes no time filter.
    let untimed = json!({ "id": "o0", "ticket": "o0", "status": "placed" });
    peer.log.record(
        "s1",
        "node-1",
        "order.created",
        Some("o0"),
        json!({ "order": untimed }),
    );
    peer.connect(&hub.ws_url(), &token).await.unwrap();
    peer.wait_acked(4).await;
    peer.disconnect().await;
    let listed = hub.orders("s1").await;
    hub.stop().await;

    raw_sql(
        &db,
        backend,
        "DELETE FROM orders; INSERT INTO order_replays (store_id) VALUES ('s1');",
    )
    .await;
    let hub = TestHub::start(&db).await;
    assert_eq!(hub.orders("s1").await, listed);
    let b = hub.orders("s1").await;
    let got: Vec<(&str, &str)> = b["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("o0", "placed"), ("o1", "ready"), ("o2", "placed")]);
    assert_eq!(b["events"], 4);
    let (st, b) = hub
        .call("GET", "/api/v1/stores/s1/orders?until_ms=5000", None)
        .await;
    assert_eq!(st, 200);
    let ids: Vec<&str> = b["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["o1", "o2"]);
    hub.stop().await;
}
both!(orders_of_an_older_log_are_listed);

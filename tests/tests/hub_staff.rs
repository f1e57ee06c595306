//! Staff signed in at the hub work at the store's tills, also while the hub is
//! down. A real `cloud-hub` and a real `store-node`: an owner sets up an
//! organisation with two stores and invites a cashier for this store and a
//! cook for the other one. The node learns the hub's keys over sync; the
//! cashier's hub access token then signs them in at the node and places a POS
//! order, the cook's is refused (no role here), as are a customer's and a
//! tampered one. Sessions that end at the hub end at the till too, through
//! sync: a sign-out on a second device, then a password change (which ends
//! every other session). With the hub stopped and the node restarted, the
//! cashier's current token still works (the node checks it against the keys
//! it stored) and the ended sessions' tokens are still refused.

mod common;

use common::{ADMIN, Api, eventually, hub_command, node_command, spawn};

use reqwest::Method;
use serde_json::{Value, json};

const STORE: &str = "harbor";
const PASSWORD: &str = "plum-kettle-73-orbit";

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_owned()
}

/// Accepts an invitation as a new account; returns its access token.
async fn accept(api: &Api, hub: &str, invitation: &str, name: &str) -> String {
    let (st, b) = api
        .call(
            Method::POST,
            &format!("{hub}/api/v1/auth/accept-invitation"),
            None,
            Some(json!({ "token": invitation, "name": name, "password": PASSWORD })),
            None,
        )
        .await;
    assert_eq!(st, 201, "{b}");
    s(&b, "access_token")
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or_default()
}

/// Who the node says the bearer of `token` is.
async fn me(api: &Api, node: &str, token: &str) -> (u16, Value) {
    let url = format!("{node}/api/v1/auth/me");
    api.call(Method::GET, &url, Some(token), None, None).await
}

/// A takeaway order of fries at the node's POS.
async fn place(api: &Api, node: &str, token: &str, key: &str) -> (u16, Value) {
    let order = json!({
        "channel": "pos",
        "fulfillment": "takeaway",
        "lines": [{ "item_id": "shoestring-fries", "quantity": 1 }]
    });
    let url = format!("{node}/api/v1/orders");
    api.call(Method::POST, &url, Some(token), Some(order), Some(key))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_staff_sign_in_at_the_till_even_with_the_hub_down() {
    let api = Api {
        http: reqwest::Client::new(),
    };
    let hub_dir = test_support::temp_dir();
    let hub = spawn(hub_command(&common::sqlite_url(hub_dir.path())));
    let h = hub.base.clone();

    // An organisation with two stores; its owner invites a cashier here and a cook elsewhere.
    let (st, org) = api
        .call(
            Method::POST,
            &format!("{h}/api/v1/admin/orgs"),
            Some(ADMIN),
            Some(json!({ "name": "Harbor Group", "owner_email": "olive@example.com" })),
            None,
        )
        .await;
    assert_eq!(st, 201, "{org}");
    let org_id = s(&org, "id");
    for id in [STORE, "hill"] {
        let (st, b) = api
            .call(
                Method::POST,
                &format!("{h}/api/v1/admin/stores"),
                Some(ADMIN),
                Some(json!({ "id": id, "name": id, "org_id": org_id })),
                None,
            )
            .await;
        assert_eq!(st, 201, "{b}");
    }
    let owner = accept(&api, &h, &s(&org["invitation"], "token"), "Olive").await;
    let mut staff = vec![];
    for (email, role, store, name) in [
        ("cass@example.com", "cashier", STORE, "Cass"),
        ("kit@example.com", "kitchen", "hill", "Kit"),
    ] {
        let (st, inv) = api
            .call(
                Method::POST,
                &format!("{h}/api/v1/orgs/{org_id}/invitations"),
                Some(&owner),
                Some(json!({ "email": email, "role": role, "store_id": store })),
                Some(&format!("invite-{email}")),
            )
            .await;
        assert_eq!(st, 201, "{inv}");
        staff.push(accept(&api, &h, &s(&inv, "token"), name).await);
    }
    let (cashier, cook) = (staff[0].clone(), staff[1].clone());
    let (st, customer) = api
        .call(
            Method::POST,
            &format!("{h}/api/v1/auth/signup"),
            None,
            Some(json!({ "email": "robin@example.com", "password": PASSWORD, "name": "Robin" })),
            None,
        )
        .await;
    assert_eq!(st, 201, "{customer}");
    let customer = s(&customer, "access_token");

    // The owner enrols the store's node.
    let (st, node_token) = api
        .call(
            Method::POST,
            &format!("{h}/api/v1/stores/{STORE}/node-tokens"),
            Some(&owner),
            Some(json!({ "label": "counter" })),
            Some("enrol-counter"),
        )
        .await;
    assert_eq!(st, 201, "{node_token}");
    let node_dir = test_support::temp_dir();
    let start_node = || {
        spawn(node_command(
            node_dir.path(),
            STORE,
            &h,
            node_token["token"].as_str().unwrap(),
        ))
    };
    let node = start_node();

    // Once the node has the hub's keys, the cashier's hub token signs them in there.
    eventually("the node to accept the cashier's hub token", async || {
        me(&api, &node.base, &cashier).await.0 == 200
    })
    .await;
    let (_, who) = me(&api, &node.base, &cashier).await;
    assert_eq!(
        (who["name"].as_str(), who["role"].as_str()),
        (Some("Cass"), Some("cashier")),
        "{who}"
    );
    assert!(s(&who, "id").starts_with("hub:"), "{who}");
    let (st, order) = place(&api, &node.base, &cashier, "till-1").await;
    assert_eq!(st, 201, "{order}");

    // The cook works at the other store; a customer at none; a forged token is no token.
    let mut spliced: Vec<&str> = cashier.split('.').collect();
    spliced[1] = customer.split('.').nth(1).unwrap();
    let spliced = spliced.join(".");
    for (who, token, want) in [
        ("the cook", cook.as_str(), (403, "forbidden")),
        ("a customer", customer.as_str(), (403, "forbidden")),
        ("a spliced token", spliced.as_str(), (401, "bad_token")),
        ("a JWT-shaped nothing", "a.b.c", (401, "bad_token")),
    ] {
        let (st, b) = me(&api, &node.base, token).await;
        assert_eq!((st, code(&b)), want, "{who}: {b}");
        let (st, b) = place(&api, &node.base, token, "refused").await;
        assert_eq!((st, code(&b)), want, "{who} ordering: {b}");
    }

    // The cashier also signed in on a tablet, then signs out there: the till refuses that
    // session's still-unexpired token as soon as sync brings the news; the first one still works.
    let tablet = sign_in(&api, &h, "cass@example.com").await;
    assert_eq!(me(&api, &node.base, &tablet).await.0, 200);
    let url = format!("{h}/api/v1/auth/logout");
    let (st, b) = api
        .call(Method::POST, &url, Some(&tablet), None, Some("bye"))
        .await;
    assert_eq!(st, 204, "{b}");
    eventually("the node to refuse the signed-out session", async || {
        me(&api, &node.base, &tablet).await.0 == 401
    })
    .await;
    let (_, b) = place(&api, &node.base, &tablet, "after-logout").await;
    assert_eq!(code(&b), "token_revoked", "{b}");
    assert_eq!(me(&api, &node.base, &cashier).await.0, 200);

    // A password change ends every other session: the old token stops working at the till,
    // the new session's works.
    let url = format!("{h}/api/v1/auth/password");
    let new_password =
        json!({ "current_password": PASSWORD, "new_password": "quince-lantern-58-delta" });
    let (st, pair) = api
        .call(
            Method::POST,
            &url,
            Some(&cashier),
            Some(new_password),
            Some("pw"),
        )
        .await;
    assert_eq!(st, 200, "{pair}");
    let (old, cashier) = (cashier, s(&pair, "access_token"));
    eventually(
        "the node to refuse the session the password change ended",
        async || me(&api, &node.base, &old).await.0 == 401,
    )
    .await;
    assert_eq!(me(&api, &node.base, &cashier).await.0, 200);

    // The hub goes away and the node restarts: the keys it stored still check the token,
    // and the sessions it was told ended stay ended.
    drop(hub);
    drop(node);
    let node = start_node();
    let (st, who) = me(&api, &node.base, &cashier).await;
    assert_eq!((st, who["name"].as_str()), (200, Some("Cass")), "{who}");
    let (st, order) = place(&api, &node.base, &cashier, "till-2").await;
    assert_eq!(st, 201, "{order}");
    assert_eq!(me(&api, &node.base, &cook).await.0, 403);
    for (which, token) in [("signed out", &tablet), ("password changed", &old)] {
        let (st, b) = me(&api, &node.base, token).await;
        assert_eq!((st, code(&b)), (401, "token_revoked"), "{which}: {b}");
    }
}

/// Signs in at the hub with the shared test password; returns the access token.
async fn sign_in(api: &Api, hub: &str, email: &str) -> String {
    let url = format!("{hub}/api/v1/auth/login");
    let body = json!({ "email": email, "password": PASSWORD });
    let (st, b) = api.call(Method::POST, &url, None, Some(body), None).await;
    assert_eq!(st, 200, "{b}");
    s(&b, "access_token")
}

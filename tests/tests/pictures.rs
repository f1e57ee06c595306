//! A menu picture from the merchant to the kiosk, across processes: uploaded to
//! a real hub, put on the menu there, it reaches the store node through sync
//! (the node fetches the picture the synced menu names) and the node serves it
//! at the same path as the hub. Then the hub is stopped: the node still serves
//! it, also after a restart of its own with the hub still down.

mod common;

use common::{ADMIN, Api, eventually, hub_command, node_command, spawn, sqlite_url};

use reqwest::Method;
use serde_json::json;

/// A real 2 x 2 red PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xFD, 0xD4, 0x9A,
    0x73, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x38, 0xA1, 0x21, 0x07,
    0x44, 0x0C, 0x10, 0x0A, 0x00, 0x20, 0x3E, 0x04, 0x39, 0xA5, 0x35, 0x35, 0xC9, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// GET `url`: the status, the Content-Type and the bytes (None when nothing answers).
async fn get_bytes(http: &reqwest::Client, url: &str) -> Option<(u16, String, Vec<u8>)> {
    let r = http.get(url).send().await.ok()?;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Some((status, ct, r.bytes().await.ok()?.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_uploaded_at_the_hub_is_served_by_the_node_with_the_hub_down() {
    let api = Api {
        http: reqwest::Client::new(),
    };
    let hub_dir = test_support::temp_dir();
    let mut hub = spawn(hub_command(&sqlite_url(hub_dir.path())));
    let (st, b) = api
        .call(
            Method::POST,
            &format!("{}/api/v1/admin/stores", hub.base),
            Some(ADMIN),
            Some(json!({"id": "store-1", "name": "Harbor Street Kitchen"})),
            None,
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, t) = api
        .call(
            Method::POST,
            &format!("{}/api/v1/admin/stores/store-1/node-tokens", hub.base),
            Some(ADMIN),
            Some(json!({"label": "counter"})),
            None,
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let token = t["token"].as_str().unwrap().to_owned();
    let node_dir = test_support::temp_dir();
    let node = spawn(node_command(node_dir.path(), "store-1", &hub.base, &token));

    // The node's demo menu reaches the hub.
    let menu_url = format!("{}/api/v1/stores/store-1/menu", hub.base);
    eventually("the node's menu at the hub", async || {
        api.call(Method::GET, &menu_url, Some(ADMIN), None, None)
            .await
            .0
            == 200
    })
    .await;

    // The merchant uploads a picture and puts it on the fries.
    let r = api
        .http
        .post(format!("{}/api/v1/stores/store-1/images", hub.base))
        .bearer_auth(ADMIN)
        .header("content-type", "image/png")
        .header("idempotency-key", "fries-picture")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let stored: serde_json::Value = r.json().await.unwrap();
    let url = stored["url"].as_str().unwrap().to_owned();
    let (_, view) = api
        .call(Method::GET, &menu_url, Some(ADMIN), None, None)
        .await;
    let mut menu = view["menu"].clone();
    for item in menu["items"].as_array_mut().unwrap() {
        if item["id"] == "shoestring-fries" {
            item["image"] = json!(url);
        }
    }
    let (st, b) = api
        .call(
            Method::PUT,
            &menu_url,
            Some(ADMIN),
            Some(menu),
            Some("fries-with-picture"),
        )
        .await;
    assert_eq!(st, 200, "{b}");

    // The node learns the menu through sync, fetches the picture and serves it.
    let cashier = api.login(&node.base, "cashier", "3000").await;
    eventually("the node's menu to name the picture", async || {
        let m = api
            .get(&format!("{}/api/v1/menu", node.base), &cashier)
            .await;
        m["menu"]["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["image"] == json!(url)))
    })
    .await;
    let at_node = format!("{}{url}", node.base);
    eventually("the node to serve the picture", async || {
        get_bytes(&api.http, &at_node)
            .await
            .is_some_and(|(st, _, _)| st == 200)
    })
    .await;
    assert_eq!(
        get_bytes(&api.http, &at_node).await,
        Some((200, "image/png".to_owned(), PNG.to_vec()))
    );

    // The hub goes away; the node keeps serving the picture, also after it restarts.
    hub.proc.kill();
    assert!(
        get_bytes(&api.http, &format!("{}{url}", hub.base))
            .await
            .is_none(),
        "the hub is down"
    );
    assert_eq!(
        get_bytes(&api.http, &at_node).await,
        Some((200, "image/png".to_owned(), PNG.to_vec()))
    );
    drop(node);
    let node = spawn(node_command(node_dir.path(), "store-1", &hub.base, &token));
    let at_node = format!("{}{url}", node.base);
    assert_eq!(
        get_bytes(&api.http, &at_node).await,
        Some((200, "image/png".to_owned(), PNG.to_vec()))
    );
    // A picture the node never had is a JSON 404, not a hang on the missing hub.
    let other = url.replace(&url[url.len() - 68..url.len() - 4], &"0".repeat(64));
    let (st, b) = api
        .call(
            Method::GET,
            &format!("{}{other}", node.base),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (404, Some("unknown_image"))
    );
}

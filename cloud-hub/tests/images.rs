//! Menu pictures over real HTTP on both databases: a merchant uploads one
//! (checked by kind and size, named by its hash, the same answer for a retry
//! with the same `Idempotency-Key` and the same URL for the same bytes);
//! anyone fetches it (cacheable, ETag, 304), nobody fetches what is not
//! there; who may upload; and its URL goes on the menu by the usual menu edit,
//! where the customer menu shows it.

mod common;

use common::{ADMIN, Backend, TestDb, TestHub, both, code, s};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const GOOD: &str = "plum-kettle-73-orbit";

/// A real 2 x 2 red PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xFD, 0xD4, 0x9A,
    0x73, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x38, 0xA1, 0x21, 0x07,
    0x44, 0x0C, 0x10, 0x0A, 0x00, 0x20, 0x3E, 0x04, 0x39, 0xA5, 0x35, 0x35, 0xC9, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];
const MAX: usize = 2 * 1024 * 1024;

/// The PNG padded with zero bytes to `len` (its header still reads 2 x 2).
fn png_of_len(len: usize) -> Vec<u8> {
    let mut b = PNG.to_vec();
    b.resize(len, 0);
    b
}

/// The PNG claiming `width` x `height` pixels.
fn png_of_size(width: u32, height: u32) -> Vec<u8> {
    let mut b = PNG.to_vec();
    b[16..20].copy_from_slice(&width.to_be_bytes());
    b[20..24].copy_from_slice(&height.to_be_bytes());
    b
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// POSTs raw bytes as a picture; returns status, JSON body (Null when none) and headers.
async fn upload(
    hub: &TestHub,
    token: Option<&str>,
    store: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
    key: Option<&str>,
) -> (u16, Value, HeaderMap) {
    let mut req = hub
        .http
        .post(format!("{}/api/v1/stores/{store}/images", hub.base))
        .body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}

/// GETs a path with extra headers; returns status, headers and the raw body.
async fn fetch(hub: &TestHub, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = hub.http.get(format!("{}{path}", hub.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// An organisation with store `s1`, its owner and an organisation-wide cashier; (owner, cashier) tokens.
async fn shop(hub: &TestHub) -> (String, String) {
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/orgs",
            Some(&json!({ "name": "Pictures Inc", "owner_email": "o@pictures.example" })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let org = s(&b, "id");
    let accept = async |token: String| {
        let (st, b) = hub
            .call_as(
                None,
                "POST",
                "/api/v1/auth/accept-invitation",
                Some(&json!({ "token": token, "name": "Staff", "password": GOOD })),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        s(&b, "access_token")
    };
    let owner = accept(s(&b["invitation"], "token")).await;
    let (st, b) = hub
        .call(
            "POST",
            "/api/v1/admin/stores",
            Some(&json!({ "id": "s1", "name": "Store One", "org_id": org })),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, inv) = hub
        .call_as(
            Some(&owner),
            "POST",
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(&json!({ "email": "c@pictures.example", "role": "cashier" })),
        )
        .await;
    assert_eq!(st, 201, "{inv}");
    let cashier = accept(s(&inv, "token")).await;
    (owner, cashier)
}

async fn upload_serve_and_limits(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub = TestHub::start(&db).await;
    let (owner, cashier) = shop(&hub).await;
    let png = Some("image/png");

    // Uploaded: named by its hash, with its size and dimensions.
    let (st, first, _) = upload(&hub, Some(&owner), "s1", png, PNG.to_vec(), Some("pic-1")).await;
    assert_eq!(st, 201, "{first}");
    let hash = sha(PNG);
    let url = format!("/api/v1/public/images/{hash}.png");
    assert_eq!(
        first,
        json!({ "url": url, "sha256": hash, "bytes": PNG.len(), "content_type": "image/png", "width": 2, "height": 2 })
    );
    // A retry with the key is the first answer, replayed; the same bytes again are the same picture.
    let (st, again, h) = upload(&hub, Some(&owner), "s1", png, PNG.to_vec(), Some("pic-1")).await;
    assert_eq!((st, &again), (201, &first));
    assert_eq!(h["idempotent-replayed"], "true");
    let (st, same, h) = upload(&hub, Some(&owner), "s1", png, PNG.to_vec(), Some("pic-2")).await;
    assert_eq!((st, &same), (201, &first));
    assert!(h.get("idempotent-replayed").is_none());
    // The key with other bytes is refused, as for any write.
    let (st, b, _) = upload(
        &hub,
        Some(&owner),
        "s1",
        png,
        png_of_len(100),
        Some("pic-1"),
    )
    .await;
    assert_eq!((st, code(&b)), (422, "idempotency_key_reused"));

    // Served to anyone, cacheable for good, with its hash as the ETag.
    let (st, h, body) = fetch(&hub, &url, &[]).await;
    assert_eq!(st, 200);
    assert_eq!(body, PNG);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(h["etag"], format!("\"{hash}\"").as_str());
    assert_eq!(h["x-content-type-options"], "nosniff");
    let etag = format!("\"{hash}\"");
    let (st, h, body) = fetch(&hub, &url, &[("if-none-match", &etag)]).await;
    assert_eq!((st, body.len()), (304, 0));
    assert_eq!(h["etag"], etag.as_str());
    // Unknown names are a JSON 404: another hash, another extension of this one, no name at all.
    for path in [
        format!("/api/v1/public/images/{}.png", sha(b"nothing")),
        format!("/api/v1/public/images/{hash}.jpg"),
        format!("/api/v1/public/images/{hash}"),
        "/api/v1/public/images/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/api/v1/public/images/x".to_owned(),
    ] {
        let (st, b) = hub.call_as(None, "GET", &path, None).await;
        assert_eq!((st, code(&b)), (404, "unknown_image"), "{path}");
    }

    // Kinds: only JPEG, PNG and WebP, and the bytes must be what the type says.
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    for (ct, bytes) in [
        (None, PNG.to_vec()),
        (Some("application/json"), b"{}".to_vec()),
        (Some("image/svg+xml"), svg.clone()),
        (Some("image/png"), svg),
        (Some("image/jpeg"), PNG.to_vec()),
        (Some("image/webp"), PNG.to_vec()),
        (Some("image/png"), vec![]),
        (Some("image/png"), PNG[..20].to_vec()),
    ] {
        let (st, b, _) = upload(&hub, Some(&owner), "s1", ct, bytes, None).await;
        assert_eq!((st, code(&b)), (415, "unsupported_image"), "{ct:?}: {b}");
    }
    // Size: 2 MiB is taken, a byte more is 413 (with a key or without), never a 5xx.
    let (st, b, _) = upload(&hub, Some(&owner), "s1", png, png_of_len(MAX), None).await;
    assert_eq!((st, b["bytes"].as_u64()), (201, Some(MAX as u64)), "{b}");
    for key in [None, Some("big-1")] {
        let (st, b, h) = upload(&hub, Some(&owner), "s1", png, png_of_len(MAX + 1), key).await;
        assert_eq!((st, code(&b)), (413, "image_too_large"), "{key:?}: {b}");
        assert_eq!(h["connection"], "close");
    }
    let (st, b, _) = upload(&hub, Some(&owner), "s1", png, png_of_len(5 * MAX), None).await;
    assert_eq!((st, code(&b)), (413, "image_too_large"), "{b}");
    // A small file may not declare a canvas a kiosk cannot draw.
    let (st, b, _) = upload(
        &hub,
        Some(&owner),
        "s1",
        png,
        png_of_size(20_000, 20_000),
        None,
    )
    .await;
    assert_eq!((st, code(&b)), (422, "image_dimensions"), "{b}");

    // Who may upload: the menu's editors; a cashier cannot, nobody signed out can,
    // and another tenant's store does not exist for them.
    let (st, b, _) = upload(&hub, Some(&cashier), "s1", png, PNG.to_vec(), None).await;
    assert_eq!((st, code(&b)), (403, "forbidden"), "{b}");
    let (st, _, _) = upload(&hub, None, "s1", png, PNG.to_vec(), None).await;
    assert_eq!(st, 401);
    hub.create_store("elsewhere").await;
    let (st, b, _) = upload(&hub, Some(&owner), "elsewhere", png, PNG.to_vec(), None).await;
    assert_eq!((st, code(&b)), (404, "not_found"), "{b}");
    let (st, _, _) = upload(&hub, Some(ADMIN), "elsewhere", png, PNG.to_vec(), None).await;
    assert_eq!(st, 201, "a platform admin may");

    // On the menu: the URL goes in an item's `image` by the usual edit, and the customer menu has it.
    let mut menu = serde_json::to_value(common::demo_menu()).unwrap();
    menu["items"][0]["image"] = json!(url);
    let (st, b) = hub
        .call_as(Some(&owner), "PUT", "/api/v1/stores/s1/menu", Some(&menu))
        .await;
    assert_eq!(st, 200, "{b}");
    let item = menu["items"][0]["id"].clone();
    let (st, b) = hub
        .call_as(None, "GET", "/api/v1/public/stores/s1/menu", None)
        .await;
    assert_eq!(st, 200, "{b}");
    let shown = b["menu"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == item)
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(shown["image"], json!(url), "{shown}");
    // Taken off again (the dashboard sends `null`): the field is gone from the catalog.
    menu["items"][0]["image"] = Value::Null;
    let (st, b) = hub
        .call_as(Some(&owner), "PUT", "/api/v1/stores/s1/menu", Some(&menu))
        .await;
    assert_eq!(st, 200, "{b}");
    assert!(
        b["menu"]["items"][0].get("image").is_none(),
        "{}",
        b["menu"]["items"][0]
    );
    hub.stop().await;
}
both!(upload_serve_and_limits);

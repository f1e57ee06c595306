//! The link between a store node and the hub over real TLS: the hub serves
//! HTTPS itself with a certificate from a throwaway CA, the node trusts that CA
//! through `[hub] ca_file` and syncs over `wss://`, and an order placed at the
//! node reaches the hub. A node that does not trust the CA never connects and
//! says why; a plain-HTTP client gets nothing from the TLS port.

mod common;

use std::sync::Arc;

use std::time::Duration;

use api_kit::https::HttpsClient;
use common::{ADMIN, Api, eventually, hub_command, spawn, sqlite_url};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;
use test_support::tls::ThrowawayCa;

/// An HTTPS client that trusts only the CA in `ca_pem`.
fn https_client(ca_pem: &std::path::Path) -> HttpsClient {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    HttpsClient::new(Arc::new(config), Duration::from_secs(30), 16 << 20)
}

/// POST `body` as the platform admin; status and JSON.
async fn admin_post(
    hub: &HttpsClient,
    url: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = hub
        .post_json(url, &[("authorization", &format!("Bearer {ADMIN}"))], &body)
        .await
        .unwrap();
    (r.status.as_u16(), r.json())
}

fn node(
    dir: &std::path::Path,
    hub_wss: &str,
    token: &str,
    ca: Option<&std::path::Path>,
) -> std::process::Command {
    let mut cmd = test_support::node_command(&test_support::bin("store-node"), dir);
    cmd.env("STORE_NODE__STORE__ID", "tls-store")
        .env("STORE_NODE__HUB__URL", hub_wss)
        .env("STORE_NODE__HUB__TOKEN", token);
    if let Some(ca) = ca {
        cmd.env("STORE_NODE__HUB__CA_FILE", ca);
    }
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_syncs_with_a_hub_over_tls_and_refuses_an_unknown_certificate() {
    let dir = test_support::temp_dir();
    let ca = ThrowawayCa::new(dir.path()).unwrap();
    let cert = ca
        .issue(dir.path(), "hub", &["localhost", "127.0.0.1"])
        .unwrap();
    let mut hub_cmd = hub_command(&sqlite_url(dir.path()));
    hub_cmd
        .arg("--tls-cert")
        .arg(&cert.cert_pem)
        .arg("--tls-key")
        .arg(&cert.key_pem);
    let hub = spawn(hub_cmd);
    assert!(hub.base.starts_with("https://"), "{}", hub.base);
    let port = hub.base.rsplit(':').next().unwrap().to_owned();
    let https = https_client(&ca.ca_pem);

    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/health"))
        .send()
        .await;
    assert!(
        plain.as_ref().map_or(true, |r| !r.status().is_success()),
        "plain HTTP was answered: {plain:?}"
    );

    let (s, b) = admin_post(
        &https,
        &format!("{}/api/v1/admin/stores", hub.base),
        json!({"id": "tls-store", "name": "Lantern Lane Diner"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, t) = admin_post(
        &https,
        &format!("{}/api/v1/admin/stores/tls-store/node-tokens", hub.base),
        json!({"label": "counter"}),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let token = t["token"].as_str().unwrap();
    let wss = format!("wss://localhost:{port}/api/v1/sync");

    // Without the CA the node starts, but never connects, and says why.
    let lost_dir = test_support::temp_dir();
    let lost = spawn(node(lost_dir.path(), &wss, token, None));
    let plain_api = Api {
        http: reqwest::Client::new(),
    };
    let lost_cashier = plain_api.login(&lost.base, "cashier", "3000").await;
    eventually("the untrusting node reports the certificate", async || {
        let s = plain_api
            .get(&format!("{}/api/v1/sync/status", lost.base), &lost_cashier)
            .await;
        s["connected"] == false
            && s["last_error"]
                .as_str()
                .is_some_and(|e| e.to_lowercase().contains("certificate"))
    })
    .await;
    drop(lost);

    // With the CA: connected over wss://, and an order reaches the hub.
    let node_dir = test_support::temp_dir();
    let n = spawn(node(node_dir.path(), &wss, token, Some(&ca.ca_pem)));
    let cashier = plain_api.login(&n.base, "cashier", "3000").await;
    eventually("the node connected over TLS", async || {
        plain_api
            .get(&format!("{}/api/v1/sync/status", n.base), &cashier)
            .await["connected"]
            == true
    })
    .await;
    let (s, placed) = plain_api
        .call(
            reqwest::Method::POST,
            &format!("{}/api/v1/orders", n.base),
            Some(&cashier),
            Some(json!({"channel": "pos", "fulfillment": "takeaway",
                "lines": [{"item_id": "house-garden-salad", "quantity": 1, "modifiers": ["salad-dressing-ranch"]}]})),
            Some(&uuid::Uuid::now_v7().to_string()),
        )
        .await;
    assert_eq!(s, 201, "{placed}");
    let id = placed["id"].as_str().unwrap().to_owned();
    let hub_orders = format!("{}/api/v1/stores/tls-store/orders", hub.base);
    eventually("the order at the hub", async || {
        let r = https
            .get(
                &hub_orders,
                &[("authorization", &format!("Bearer {ADMIN}"))],
            )
            .await
            .unwrap();
        r.json()["orders"]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o["id"] == id.as_str()))
    })
    .await;
}

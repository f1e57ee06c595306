//! The hub starts on port 0 and reports its health over HTTP; it refuses to
//! start without a real admin token.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_health_and_json_404() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        cloud_hub::Config::new("127.0.0.1:0".parse().unwrap(), "health-admin-token-0123");
    config.database_url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
    let hub = cloud_hub::run(config).await.unwrap();
    let base = format!("http://{}", hub.addr);
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["database"], "sqlite");
    let r = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(r.status(), 404);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "not_found");
    hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn refuses_a_short_admin_token() {
    let config = cloud_hub::Config::new("127.0.0.1:0".parse().unwrap(), "short");
    assert!(cloud_hub::run(config).await.is_err());
}

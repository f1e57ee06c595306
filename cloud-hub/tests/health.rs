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

/// The customer app at `/`, the merchant dashboard at `/dashboard/`, each with its
/// `index.html` for its own paths, and `/api/...` still the JSON 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_customer_app_and_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("customer");
    let dash = dir.path().join("dashboard");
    std::fs::create_dir_all(web.join("assets")).unwrap();
    std::fs::create_dir_all(dash.join("assets")).unwrap();
    std::fs::write(web.join("index.html"), "<title>customer</title>").unwrap();
    std::fs::write(web.join("assets/app.js"), "customer-js").unwrap();
    std::fs::write(dash.join("index.html"), "<title>dashboard</title>").unwrap();
    std::fs::write(dash.join("assets/dash.js"), "dashboard-js").unwrap();
    let mut config =
        cloud_hub::Config::new("127.0.0.1:0".parse().unwrap(), "health-admin-token-0123");
    config.database_url = format!("sqlite://{}?mode=rwc", dir.path().join("hub.db").display());
    config.web_dir = Some(web);
    config.dashboard_dir = Some(dash);
    let hub = cloud_hub::run(config).await.unwrap();
    let base = format!("http://{}", hub.addr);
    let text = async |path: &str| {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    for (path, body) in [
        ("/", "<title>customer</title>"),
        ("/orders/o-1", "<title>customer</title>"),
        ("/assets/app.js", "customer-js"),
        ("/dashboard/", "<title>dashboard</title>"),
        ("/dashboard/stores/s1/menu", "<title>dashboard</title>"),
        ("/dashboard/assets/dash.js", "dashboard-js"),
    ] {
        assert_eq!(text(path).await, (200, body.to_owned()), "{path}");
    }
    for path in ["/api/v1/nope", "/api", "/api/v1/stores/s1/nope"] {
        let (status, body) = text(path).await;
        assert_eq!(status, 404, "{path}");
        let b: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(b["error"]["code"], "not_found", "{path}");
    }
    hub.shutdown().await.unwrap();
}

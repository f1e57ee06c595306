//! The hub starts on port 0 and reports its health over HTTP.

#[tokio::test]
async fn answers_health_and_json_404() {
    let hub = cloud_hub::run("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", hub.addr);
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(r.status(), 404);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "not_found");
    hub.shutdown().await.unwrap();
}

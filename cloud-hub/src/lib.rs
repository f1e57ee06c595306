//! The cloud hub: customer online ordering, Stripe payments, the merchant
//! dashboard, node enrollment and the sync endpoint. So far it starts, serves
//! `/healthz` and `/readyz`, and answers unknown routes with the same JSON
//! error shape as the store node; the rest arrives issue by issue.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::oneshot;

/// A hub that is serving.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }

    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }
}

pub fn router() -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(|| async { Json(json!({ "status": "ok" })) }))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": { "code": "not_found", "message": "route not found" } })),
            )
        })
}

/// Binds `bind` (port 0 picks a free port) and serves.
pub async fn run(bind: SocketAddr) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router())
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, "cloud hub listening");
    Ok(Running {
        addr,
        shutdown: Some(tx),
        task,
    })
}

//! A small HTTP(S) client for a store node's calls to the hub (enrollment,
//! menu pictures) and for tests of the hub's HTTPS: hyper's client over
//! hyper-rustls with a caller-given rustls configuration.
//!
//! Not reqwest: reqwest's TLS without aws-lc (`rustls-no-provider`) makes every
//! `reqwest::Client::new()` in the workspace panic unless a process-wide rustls
//! provider was installed first (features unify across the workspace), and the
//! load generators and tests build plain HTTP clients everywhere.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What went wrong with one request.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("{0:?} is not a valid URL or header")]
    Request(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Connect(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the answer: {0}")]
    Body(String),
}

/// An answer: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// A `Retry-After` given in seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.headers.get(axum::http::header::RETRY_AFTER)?;
        v.to_str()
            .ok()?
            .trim()
            .parse()
            .ok()
            .map(Duration::from_secs)
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends requests over `https://` (with the given TLS configuration) or `http://`.
#[derive(Clone)]
pub struct HttpsClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl HttpsClient {
    /// A client trusting what `tls` trusts; each request, body included, must finish within
    /// `timeout`, and an answer may hold at most `max_body` bytes.
    pub fn new(tls: Arc<rustls::ClientConfig>, timeout: Duration, max_body: usize) -> HttpsClient {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .build();
        HttpsClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            max_body,
        }
    }

    /// `method url` with `headers` and an optional body; the whole answer.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, HttpsError> {
        let mut req = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            let name =
                HeaderName::try_from(*name).map_err(|_| HttpsError::Request((*name).into()))?;
            let value =
                HeaderValue::try_from(*value).map_err(|_| HttpsError::Request(name.to_string()))?;
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| HttpsError::Request(url.to_owned()))?;
        let max = self.max_body;
        let exchange = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| HttpsError::Connect(describe(&e)))?;
            let status = res.status();
            let headers = res.headers().clone();
            let body = Limited::new(res.into_body(), max)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpsError::TooLarge(max)
                    } else {
                        HttpsError::Body(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpsError::Timeout(self.timeout))?
    }

    /// GET `url` with `headers`.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, HttpsError> {
        self.send(Method::GET, url, headers, None).await
    }

    /// POST `body` as JSON to `url` with `headers`.
    pub async fn post_json<T: serde::Serialize>(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &T,
    ) -> Result<Answer, HttpsError> {
        let json = serde_json::to_vec(body).map_err(|e| HttpsError::Request(e.to_string()))?;
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send(Method::POST, url, &all, Some(json)).await
    }
}

/// The error and its causes on one line: "client error (Connect): invalid peer certificate: UnknownIssuer".
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

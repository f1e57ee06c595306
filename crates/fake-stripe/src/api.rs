//! The `/v1` API: authentication, injected faults, idempotency keys, then one synchronous
//! dispatch over the [`Store`](crate::model::Store).
//!
//! Parameters arrive as Stripe sends them, `application/x-www-form-urlencoded` bodies (and
//! query strings) with bracketed keys (`line_items[0][price_data][unit_amount]=1250`). They are
//! decoded with `serde_qs` in form-encoding mode, the crate async-stripe encodes them with; that
//! mode also reads brackets sent percent-encoded (`line_items%5B0%5D…`), as curl and Stripe's
//! other libraries send them.
//!
//! Idempotency follows Stripe: a POST's result is saved under its `Idempotency-Key` once the
//! endpoint has run (a success or a refusal of the object's state, not a rejected parameter nor
//! an injected 500/503 that ran nothing); the same key with the same parameters replays it with
//! `Idempotent-Replayed: true`, with other parameters (or another endpoint) it is a 400
//! `idempotency_error`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::App;
use crate::error::ApiError;
use crate::model::{CaptureMethod, LineItem, NewSession, Store, page};

/// An API fault, set with `POST /_fake/faults` under `"api"`: for requests whose method (any
/// when absent) and path prefix match, the next `times` answers are one of: `status` (500 or
/// 503, before anything runs), `after_commit` (the work is done and saved, the answer is a
/// 500: a lost response), or `delay_ms` (the work is done, the answer waits).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFault {
    pub method: Option<String>,
    pub path_prefix: String,
    #[serde(default = "one")]
    pub times: u32,
    pub status: Option<u16>,
    #[serde(default)]
    pub after_commit: bool,
    pub delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

/// A saved idempotent result.
pub struct Saved {
    method: Method,
    path: String,
    params: Value,
    status: StatusCode,
    body: Value,
}

/// The API's state besides the account: saved results and faults.
#[derive(Default)]
pub struct ApiState {
    pub idempotency: HashMap<String, Saved>,
    pub faults: Vec<ApiFault>,
    pub latency: Duration,
}

impl ApiState {
    /// The first matching fault, with one use taken from it.
    fn take_fault(&mut self, method: &Method, path: &str) -> Option<ApiFault> {
        let at = self.faults.iter().position(|f| {
            f.times > 0
                && path.starts_with(&f.path_prefix)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
        })?;
        let f = &mut self.faults[at];
        f.times -= 1;
        let taken = f.clone();
        if f.times == 0 {
            self.faults.remove(at);
        }
        Some(taken)
    }
}

const QS: serde_qs::Config = serde_qs::Config::new().max_depth(8).use_form_encoding(true);

fn params<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    QS.deserialize_bytes(raw).map_err(|e| {
        ApiError::param(
            "parameter_invalid",
            format!("Invalid parameters: {e}"),
            "body",
        )
    })
}

fn json_response(status: StatusCode, body: &Value, replayed: bool) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    let h = r.headers_mut();
    h.insert(
        "request-id",
        HeaderValue::from_str(&crate::model::new_id("req_", 14)).expect("ascii"),
    );
    h.insert(
        "stripe-version",
        HeaderValue::from_static(crate::model::API_VERSION),
    );
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status, &e.body(), false)
}

fn check_auth(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".into(),
        ));
    };
    let given = auth
        .to_str()
        .ok()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if given != app.secret_key {
        let tail: String = given
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: sk_test_****{tail}"
        )));
    }
    Ok(())
}

/// Every `/v1/…` request.
pub async fn v1(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = check_auth(&app, &headers) {
        return error_response(&e);
    }
    let path = uri.path().to_owned();
    let (latency, fault) = {
        let mut api = app.api.lock().expect("not poisoned");
        (api.latency, api.take_fault(&method, &path))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = fault.as_ref().and_then(|f| f.status) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error_response(&ApiError::server(status));
    }
    let raw: &[u8] = if method == Method::GET {
        uri.query().unwrap_or("").as_bytes()
    } else {
        &body
    };
    let key = (method == Method::POST)
        .then(|| headers.get("idempotency-key"))
        .flatten()
        .and_then(|k| k.to_str().ok())
        .map(str::to_owned);
    let normalised: Value = QS
        .deserialize_bytes(raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw).into_owned()));

    let (status, body, replayed) = app.with_both(|store, api| {
        if let Some(key) = &key
            && let Some(saved) = api.idempotency.get(key)
        {
            if saved.method == method && saved.path == path && saved.params == normalised {
                return (saved.status, saved.body.clone(), true);
            }
            let e = ApiError::idempotency(key);
            return (e.status, e.body(), false);
        }
        let (status, body, save) = match dispatch(store, &app.base_url, &method, &path, raw) {
            Ok(v) => (StatusCode::OK, v, true),
            Err(e) => (e.status, e.body(), !e.before_execution),
        };
        if let (Some(key), true) = (&key, save) {
            api.idempotency.insert(
                key.clone(),
                Saved {
                    method: method.clone(),
                    path: path.clone(),
                    params: normalised.clone(),
                    status,
                    body: body.clone(),
                },
            );
        }
        (status, body, false)
    });

    if let Some(ms) = fault.as_ref().and_then(|f| f.delay_ms) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fault.as_ref().is_some_and(|f| f.after_commit) {
        return error_response(&ApiError::server(StatusCode::INTERNAL_SERVER_ERROR));
    }
    json_response(status, &body, replayed)
}

#[derive(Deserialize)]
struct ProductDataParams {
    name: Option<String>,
}

#[derive(Deserialize)]
struct PriceDataParams {
    currency: Option<String>,
    unit_amount: Option<i64>,
    product_data: Option<ProductDataParams>,
}

#[derive(Deserialize)]
struct LineItemParams {
    price: Option<String>,
    price_data: Option<PriceDataParams>,
    quantity: Option<i64>,
}

#[derive(Deserialize, Default)]
struct PaymentIntentDataParams {
    capture_method: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct CreateSessionParams {
    mode: Option<String>,
    #[serde(default)]
    line_items: Vec<LineItemParams>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    client_reference_id: Option<String>,
    success_url: Option<String>,
    cancel_url: Option<String>,
    expires_at: Option<i64>,
    customer_email: Option<String>,
    #[serde(default)]
    payment_intent_data: PaymentIntentDataParams,
}

#[derive(Deserialize)]
struct CaptureParams {
    amount_to_capture: Option<i64>,
}

#[derive(Deserialize)]
struct CancelParams {
    cancellation_reason: Option<String>,
}

#[derive(Deserialize)]
struct RefundParams {
    payment_intent: Option<String>,
    charge: Option<String>,
    amount: Option<i64>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    reason: Option<String>,
}

/// `created[gte]=…` and friends, or `created=…` for one second.
#[derive(Default)]
struct CreatedRange {
    gt: Option<i64>,
    gte: Option<i64>,
    lt: Option<i64>,
    lte: Option<i64>,
}

impl CreatedRange {
    /// Read from the decoded `created` parameter (a string or a map of strings).
    fn parse(v: Option<&Value>) -> Result<Self, ApiError> {
        let int = |v: &Value, name: &str| -> Result<Option<i64>, ApiError> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) => s.parse().map(Some).map_err(|_| {
                    ApiError::param("parameter_invalid_integer", "Invalid integer".into(), name)
                }),
                Value::Number(n) => Ok(n.as_i64()),
                _ => Err(ApiError::param(
                    "parameter_invalid_integer",
                    "Invalid integer".into(),
                    name,
                )),
            }
        };
        Ok(match v {
            None => Self::default(),
            Some(Value::Object(m)) => {
                let get = |k: &str| int(m.get(k).unwrap_or(&Value::Null), &format!("created[{k}]"));
                Self {
                    gt: get("gt")?,
                    gte: get("gte")?,
                    lt: get("lt")?,
                    lte: get("lte")?,
                }
            }
            Some(v) => {
                let at = int(v, "created")?;
                Self {
                    gte: at,
                    lte: at,
                    ..Self::default()
                }
            }
        })
    }

    fn contains(&self, t: i64) -> bool {
        self.gt.is_none_or(|v| t > v)
            && self.gte.is_none_or(|v| t >= v)
            && self.lt.is_none_or(|v| t < v)
            && self.lte.is_none_or(|v| t <= v)
    }
}

#[derive(Deserialize)]
struct ListParams {
    limit: Option<usize>,
    starting_after: Option<String>,
    #[serde(rename = "type")]
    type_: Option<String>,
    types: Option<Vec<String>>,
    created: Option<Value>,
}

impl ListParams {
    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(10),
            Some(n @ 1..=100) => Ok(n),
            Some(_) => Err(ApiError::param(
                "parameter_invalid_integer",
                "This value must be between 1 and 100.".into(),
                "limit",
            )),
        }
    }
}

#[derive(Deserialize)]
struct SearchParams {
    query: Option<String>,
    limit: Option<usize>,
}

fn list(url: &str, p: crate::model::Page) -> Value {
    json!({"object": "list", "data": p.data, "has_more": p.has_more, "url": url})
}

fn new_session(p: CreateSessionParams, now: i64) -> Result<NewSession, ApiError> {
    match p.mode.as_deref() {
        Some("payment") => {}
        Some(_) => {
            return Err(ApiError::param(
                "parameter_invalid_empty",
                "The fake supports only mode=payment.".into(),
                "mode",
            ));
        }
        None => return Err(ApiError::missing("mode")),
    }
    if p.line_items.is_empty() {
        return Err(ApiError::missing("line_items"));
    }
    let mut currency: Option<String> = None;
    let mut line_items = vec![];
    for (n, li) in p.line_items.into_iter().enumerate() {
        if li.price.is_some() {
            return Err(ApiError::param(
                "resource_missing",
                "The fake has no Prices: use price_data.".into(),
                &format!("line_items[{n}][price]"),
            ));
        }
        let pd = li
            .price_data
            .ok_or_else(|| ApiError::missing(&format!("line_items[{n}][price_data]")))?;
        let c = pd
            .currency
            .ok_or_else(|| ApiError::missing(&format!("line_items[{n}][price_data][currency]")))?
            .to_lowercase();
        if currency.as_ref().is_some_and(|first| *first != c) {
            return Err(ApiError::param(
                "parameter_invalid_string",
                "All line items must have the same currency.".into(),
                &format!("line_items[{n}][price_data][currency]"),
            ));
        }
        currency = Some(c);
        let unit_amount = pd.unit_amount.ok_or_else(|| {
            ApiError::missing(&format!("line_items[{n}][price_data][unit_amount]"))
        })?;
        let name = pd.product_data.and_then(|d| d.name).ok_or_else(|| {
            ApiError::missing(&format!("line_items[{n}][price_data][product_data][name]"))
        })?;
        let quantity = li
            .quantity
            .ok_or_else(|| ApiError::missing(&format!("line_items[{n}][quantity]")))?;
        if unit_amount < 0 || quantity < 1 {
            return Err(ApiError::param(
                "parameter_invalid_integer",
                "unit_amount must be at least 0 and quantity at least 1.".into(),
                &format!("line_items[{n}]"),
            ));
        }
        line_items.push(LineItem {
            name,
            unit_amount,
            quantity,
        });
    }
    let success_url = p
        .success_url
        .ok_or_else(|| ApiError::missing("success_url"))?;
    if let Some(at) = p.expires_at
        && !(now + 1800..=now + 86400).contains(&at)
    {
        return Err(ApiError::param(
            "parameter_invalid_integer",
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.".into(),
            "expires_at",
        ));
    }
    let capture_method = match p.payment_intent_data.capture_method.as_deref() {
        None | Some("automatic") | Some("automatic_async") => CaptureMethod::Automatic,
        Some("manual") => CaptureMethod::Manual,
        Some(_) => {
            return Err(ApiError::param(
                "parameter_invalid_string",
                "Invalid capture_method.".into(),
                "payment_intent_data[capture_method]",
            ));
        }
    };
    Ok(NewSession {
        line_items,
        currency: currency.expect("at least one line item"),
        metadata: p.metadata,
        client_reference_id: p.client_reference_id,
        success_url,
        cancel_url: p.cancel_url,
        customer_email: p.customer_email,
        expires_at: p.expires_at,
        capture_method,
        pi_metadata: p.payment_intent_data.metadata,
        pi_description: p.payment_intent_data.description,
    })
}

/// A clause of a search query: `metadata['k']:'v'`, `status:'v'` or `currency:'v'`.
fn search_clause(clause: &str) -> Option<(String, String)> {
    let (field, value) = clause.split_once(':')?;
    let unquote = |s: &str| {
        let s = s.trim();
        let q = s.chars().next()?;
        (matches!(q, '\'' | '"') && s.len() >= 2 && s.ends_with(q))
            .then(|| s[1..s.len() - 1].to_owned())
    };
    let value = unquote(value)?;
    let field = field.trim();
    if let Some(inner) = field
        .strip_prefix("metadata[")
        .and_then(|f| f.strip_suffix(']'))
    {
        return Some((format!("metadata.{}", unquote(inner)?), value));
    }
    matches!(field, "status" | "currency").then(|| (field.to_owned(), value))
}

fn search_intents(store: &Store, p: SearchParams) -> Result<Value, ApiError> {
    let query = p.query.ok_or_else(|| ApiError::missing("query"))?;
    let mut clauses = vec![];
    for c in query.split(" AND ") {
        clauses.push(search_clause(c).ok_or_else(|| {
            ApiError::param(
                "parameter_invalid_string",
                format!("The fake cannot parse the search query clause `{c}`; it supports metadata['key']:'value', status:'…' and currency:'…' joined with AND."),
                "query",
            )
        })?);
    }
    let limit = p.limit.unwrap_or(10).clamp(1, 100);
    let hits: Vec<Value> = store
        .intents_in_order()
        .into_iter()
        .rev()
        .filter(|pi| {
            clauses.iter().all(|(f, v)| match f.as_str() {
                "status" => pi.status.as_str() == v,
                "currency" => pi.currency == *v,
                m => pi.metadata.get(&m["metadata.".len()..]) == Some(v),
            })
        })
        .map(|pi| pi.json())
        .collect();
    let has_more = hits.len() > limit;
    Ok(json!({
        "object": "search_result",
        "data": hits.into_iter().take(limit).collect::<Vec<_>>(),
        "has_more": has_more,
        "next_page": null,
        "total_count": null,
        "url": "/v1/payment_intents/search",
    }))
}

const CANCELLATION_REASONS: [&str; 4] = [
    "duplicate",
    "fraudulent",
    "requested_by_customer",
    "abandoned",
];
const REFUND_REASONS: [&str; 3] = ["duplicate", "fraudulent", "requested_by_customer"];

#[derive(Deserialize)]
struct ExpandParams {
    #[serde(default)]
    expand: Vec<String>,
}

/// Replaces the ids named in `expand` (`payment_intent`, `latest_charge`, `charge`, each
/// optionally under `data.` for a list) with their objects, as Stripe's `expand[]` does.
fn expand(store: &Store, mut v: Value, fields: &[String]) -> Value {
    for field in fields {
        let (in_list, name) = match field.strip_prefix("data.") {
            Some(name) => (true, name),
            None => (false, field.as_str()),
        };
        let one = |o: &mut Value| {
            let Some(id) = o.get(name).and_then(Value::as_str).map(str::to_owned) else {
                return;
            };
            let found = match name {
                "payment_intent" => store.intents.get(&id).map(|p| p.json()),
                "latest_charge" | "charge" => store.charges.get(&id).map(|c| c.json()),
                _ => None,
            };
            if let Some(obj) = found {
                o[name] = obj;
            }
        };
        match (in_list, v.get_mut("data").and_then(Value::as_array_mut)) {
            (true, Some(items)) => items.iter_mut().for_each(one),
            (false, _) => one(&mut v),
            (true, None) => {}
        }
    }
    v
}

fn dispatch(
    store: &mut Store,
    base_url: &str,
    method: &Method,
    path: &str,
    raw: &[u8],
) -> Result<Value, ApiError> {
    let fields = params::<ExpandParams>(raw)
        .map(|e| e.expand)
        .unwrap_or_default();
    let v = run(store, base_url, method, path, raw)?;
    Ok(expand(store, v, &fields))
}

fn run(
    store: &mut Store,
    base_url: &str,
    method: &Method,
    path: &str,
    raw: &[u8],
) -> Result<Value, ApiError> {
    let now = crate::now();
    let segs: Vec<&str> = path
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    match segs.as_slice() {
        ["checkout", "sessions"] if post => {
            let new = new_session(params(raw)?, now)?;
            Ok(store.create_session(now, base_url, new).json())
        }
        ["checkout", "sessions", id] if get => Ok(store.session(id)?.json()),
        ["checkout", "sessions", id, "expire"] if post => Ok(store.expire(now, id)?.json()),
        ["payment_intents", "search"] if get => search_intents(store, params(raw)?),
        ["payment_intents", id] if get => Ok(store.intent(id)?.json()),
        ["payment_intents", id, "capture"] if post => {
            let p: CaptureParams = params(raw)?;
            Ok(store.capture(now, id, p.amount_to_capture)?.json())
        }
        ["payment_intents", id, "cancel"] if post => {
            let p: CancelParams = params(raw)?;
            if let Some(r) = &p.cancellation_reason
                && !CANCELLATION_REASONS.contains(&r.as_str())
            {
                return Err(ApiError::param(
                    "parameter_invalid_string",
                    format!("Invalid cancellation_reason: must be one of {CANCELLATION_REASONS:?}"),
                    "cancellation_reason",
                ));
            }
            Ok(store.cancel(now, id, p.cancellation_reason)?.json())
        }
        ["refunds"] if post => {
            let p: RefundParams = params(raw)?;
            if let Some(r) = &p.reason
                && !REFUND_REASONS.contains(&r.as_str())
            {
                return Err(ApiError::param(
                    "parameter_invalid_string",
                    format!("Invalid reason: must be one of {REFUND_REASONS:?}"),
                    "reason",
                ));
            }
            let pi = match (p.payment_intent, p.charge) {
                (Some(pi), _) => pi,
                (None, Some(ch)) => store
                    .charges
                    .get(&ch)
                    .map(|c| c.payment_intent.clone())
                    .ok_or_else(|| ApiError::not_found("charge", &ch, "charge"))?,
                (None, None) => return Err(ApiError::missing("payment_intent")),
            };
            Ok(store
                .refund(now, &pi, p.amount, p.metadata, p.reason)?
                .json())
        }
        ["refunds", id] if get => store
            .refunds
            .get(*id)
            .map(|r| r.json())
            .ok_or_else(|| ApiError::not_found("refund", id, "refund")),
        ["events", id] if get => store
            .events
            .iter()
            .find(|e| e["id"] == *id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("event", id, "id")),
        ["events"] if get => {
            let p: ListParams = params(raw)?;
            let limit = p.limit()?;
            let created = CreatedRange::parse(p.created.as_ref())?;
            let pg = page(
                &store.events,
                |e| e["id"].as_str().unwrap_or_default(),
                Value::clone,
                |e| {
                    p.type_.as_ref().is_none_or(|t| e["type"] == *t)
                        && p.types
                            .as_ref()
                            .is_none_or(|ts| ts.iter().any(|t| e["type"] == *t))
                        && created.contains(e["created"].as_i64().unwrap_or_default())
                },
                limit,
                p.starting_after.as_deref(),
            )?;
            Ok(list("/v1/events", pg))
        }
        ["balance_transactions"] if get => {
            let p: ListParams = params(raw)?;
            let limit = p.limit()?;
            let created = CreatedRange::parse(p.created.as_ref())?;
            let pg = page(
                &store.balance_transactions,
                |t| t.id.as_str(),
                |t| t.json(),
                |t| p.type_.as_ref().is_none_or(|k| t.kind == k) && created.contains(t.created),
                limit,
                p.starting_after.as_deref(),
            )?;
            Ok(list("/v1/balance_transactions", pg))
        }
        _ => Err(ApiError::unknown_url(method.as_str(), path)),
    }
}

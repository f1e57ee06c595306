//! Stripe's error answer: `{"error":{"type","code","message","param"}}` with the status Stripe
//! gives it (400 for a bad request or a wrong state, 401 for a bad key, 402 for a card error,
//! 404 for an unknown object or URL, 500/503 for the fake's injected faults).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::model::PaymentIntent;

#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub type_: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    /// Extra fields of the error object (e.g. the PaymentIntent in a state error).
    pub extra: Option<Box<(&'static str, Value)>>,
    /// Rejected while reading the parameters, before anything ran: Stripe saves no
    /// idempotent result for these.
    pub before_execution: bool,
}

impl ApiError {
    pub fn invalid(code: Option<&'static str>, message: String, param: Option<&str>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            type_: "invalid_request_error",
            code,
            message,
            param: param.map(str::to_owned),
            extra: None,
            before_execution: false,
        }
    }

    /// A bad or missing parameter (400, saved for no idempotency key).
    pub fn param(code: &'static str, message: String, param: &str) -> Self {
        Self {
            before_execution: true,
            ..Self::invalid(Some(code), message, Some(param))
        }
    }

    pub fn missing(param: &str) -> Self {
        Self::param(
            "parameter_missing",
            format!("Missing required param: {param}."),
            param,
        )
    }

    pub fn not_found(kind: &str, id: &str, param: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: Some("resource_missing"),
            ..Self::invalid(None, format!("No such {kind}: '{id}'"), Some(param))
        }
    }

    pub fn unknown_url(method: &str, path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            before_execution: true,
            ..Self::invalid(
                None,
                format!("Unrecognized request URL ({method}: {path})."),
                None,
            )
        }
    }

    pub fn unexpected_state(message: String, pi: &PaymentIntent) -> Self {
        Self {
            extra: Some(Box::new(("payment_intent", pi.json()))),
            ..Self::invalid(Some("payment_intent_unexpected_state"), message, None)
        }
    }

    pub fn unauthorized(message: String) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            before_execution: true,
            ..Self::invalid(None, message, None)
        }
    }

    pub fn idempotency(key: &str) -> Self {
        Self {
            type_: "idempotency_error",
            before_execution: true,
            ..Self::invalid(
                None,
                format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                ),
                None,
            )
        }
    }

    /// An injected server fault.
    pub fn server(status: StatusCode) -> Self {
        Self {
            status,
            type_: "api_error",
            before_execution: true,
            ..Self::invalid(
                None,
                "An unknown error occurred (injected by fake-stripe).".into(),
                None,
            )
        }
    }

    pub fn body(&self) -> Value {
        let mut e = json!({"type": self.type_, "message": self.message});
        if let Some(code) = self.code {
            e["code"] = json!(code);
            e["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
        }
        if let Some(param) = &self.param {
            e["param"] = json!(param);
        }
        if let Some(extra) = &self.extra {
            let (k, v) = &**extra;
            e[*k] = v.clone();
        }
        json!({ "error": e })
    }
}

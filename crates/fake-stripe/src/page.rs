//! The hosted checkout page (a session's `url`): plain HTML with the line items, the total and
//! three forms — Pay, Pay with a declining card, Cancel — that POST back to the fake. No
//! script, so a test can drive it with an HTTP client and a person with any browser.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::App;
use crate::model::{Session, SessionStatus};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn money(amount: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        amount / 100,
        amount % 100,
        currency.to_uppercase()
    )
}

fn render(s: &Session, notice: Option<&str>) -> String {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Checkout (fake Stripe)</title></head><body>\n<h1>Checkout</h1>\n",
    );
    if let Some(n) = notice {
        html.push_str(&format!("<p role=\"alert\">{}</p>\n", escape(n)));
    }
    html.push_str("<table>\n");
    for li in &s.line_items {
        html.push_str(&format!(
            "<tr><td>{}</td><td>× {}</td><td>{}</td></tr>\n",
            escape(&li.name),
            li.quantity,
            money(li.unit_amount * li.quantity, &s.currency)
        ));
    }
    html.push_str(&format!(
        "</table>\n<p>Total: <strong>{}</strong></p>\n",
        money(s.amount_total, &s.currency)
    ));
    match s.status {
        SessionStatus::Open => {
            let id = escape(&s.id);
            html.push_str(&format!(
                "<form method=\"post\" action=\"/checkout/{id}/pay\"><button type=\"submit\">Pay</button></form>\n\
                 <form method=\"post\" action=\"/checkout/{id}/decline\"><button type=\"submit\">Pay with a declining card</button></form>\n\
                 <form method=\"post\" action=\"/checkout/{id}/cancel\"><button type=\"submit\">Cancel</button></form>\n"
            ));
        }
        SessionStatus::Complete => html.push_str("<p>This checkout session is complete.</p>\n"),
        SessionStatus::Expired => html.push_str("<p>This checkout session has expired.</p>\n"),
    }
    html.push_str("</body></html>\n");
    html
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><p>No such checkout session.</p>"),
    )
        .into_response()
}

fn see_other(url: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_owned())]).into_response()
}

pub async fn show(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.with_store(|st| st.session(&id).cloned()) {
        Ok(s) => Html(render(&s, None)).into_response(),
        Err(_) => not_found(),
    }
}

pub async fn pay(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.with_store(|st| st.pay(crate::now(), &id)) {
        Ok(s) => see_other(&s.success_url.replace("{CHECKOUT_SESSION_ID}", &s.id)),
        Err(_) => after_refusal(&app, &id, None),
    }
}

pub async fn decline(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.with_store(|st| st.decline(crate::now(), &id)) {
        Ok(_) => after_refusal(&app, &id, Some("Your card was declined.")),
        Err(_) => after_refusal(&app, &id, None),
    }
}

/// The customer leaves; the session stays open until it expires, as with Stripe.
pub async fn cancel(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.with_store(|st| st.session(&id).cloned()) {
        Ok(s) => match &s.cancel_url {
            Some(url) => see_other(&url.replace("{CHECKOUT_SESSION_ID}", &s.id)),
            None => Html(render(&s, Some("Payment cancelled."))).into_response(),
        },
        Err(_) => not_found(),
    }
}

/// The page again: with a notice after a decline, or saying why it can no longer be paid.
fn after_refusal(app: &App, id: &str, notice: Option<&str>) -> Response {
    match app.with_store(|st| st.session(id).cloned()) {
        Ok(s) => {
            let status = if s.status == SessionStatus::Open {
                StatusCode::OK
            } else {
                StatusCode::CONFLICT
            };
            (status, Html(render(&s, notice))).into_response()
        }
        Err(_) => not_found(),
    }
}

//! The order-list filter both servers take: the node's `GET /api/v1/orders`
//! and the hub's `GET /api/v1/stores/{id}/orders` (the same query parameters,
//! checked the same way).

use domain::order::Channel;
use domain::status::OrderStatus;
use serde::{Deserialize, Serialize};

/// The filters of an order list: the node's `GET /api/v1/orders` and the hub's
/// `GET /api/v1/stores/{id}/orders`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct OrderFilter {
    /// Comma-separated statuses, e.g. `placed,accepted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Comma-separated channels: `pos`, `kiosk`, `online`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Only orders created at or after this time (Unix ms).
    #[cfg_attr(feature = "openapi", param(minimum = 0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Only orders created before this time (Unix ms).
    #[cfg_attr(feature = "openapi", param(minimum = 0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
    /// At most this many: the newest (1 to 500, default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// An [`OrderFilter`] checked: empty lists mean any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSelection {
    pub statuses: Vec<OrderStatus>,
    pub channels: Vec<Channel>,
    /// Created at or after (Unix ms); 0 when not given.
    pub since_ms: i64,
    /// Created before (Unix ms); `i64::MAX` when not given.
    pub until_ms: i64,
    /// 1 to 500; 100 when not given.
    pub limit: u32,
}

fn parse_list<T>(
    s: Option<&str>,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    let Some(s) = s else { return Ok(vec![]) };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| parse(p).ok_or_else(|| format!("unknown {what} {p:?}")))
        .collect()
}

impl OrderFilter {
    /// The selection, or why the filter is refused (both servers answer it as
    /// 400 `invalid_query`): an unknown status or channel, a negative time or
    /// a limit outside 1 to 500.
    pub fn check(&self) -> Result<OrderSelection, String> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err("limit must be between 1 and 500".into());
        }
        let since_ms = self.since_ms.unwrap_or(0);
        let until_ms = self.until_ms.unwrap_or(i64::MAX);
        if since_ms < 0 || until_ms < 0 {
            return Err("since_ms and until_ms are Unix times in ms, not negative".into());
        }
        Ok(OrderSelection {
            statuses: parse_list(self.status.as_deref(), "status", OrderStatus::parse)?,
            channels: parse_list(self.channel.as_deref(), "channel", Channel::parse)?,
            since_ms,
            until_ms,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_a_query_string_and_back() {
        let f = OrderFilter {
            channel: Some("pos,kiosk".into()),
            since_ms: Some(1_700_000_000_000),
            ..Default::default()
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"channel": "pos,kiosk", "since_ms": 1_700_000_000_000_i64})
        );
        assert_eq!(serde_json::from_value::<OrderFilter>(json).unwrap(), f);
        let s = f.check().unwrap();
        assert_eq!(s.channels, [Channel::Pos, Channel::Kiosk]);
        assert_eq!((s.until_ms, s.limit), (i64::MAX, 100));
    }

    #[test]
    fn a_filter_refuses_what_neither_server_takes() {
        for f in [
            OrderFilter {
                limit: Some(0),
                ..Default::default()
            },
            OrderFilter {
                limit: Some(501),
                ..Default::default()
            },
            OrderFilter {
                status: Some("placed, eaten".into()),
                ..Default::default()
            },
            OrderFilter {
                channel: Some("fax".into()),
                ..Default::default()
            },
            OrderFilter {
                until_ms: Some(-1),
                ..Default::default()
            },
        ] {
            assert!(f.check().is_err(), "{f:?}");
        }
        assert!(
            serde_json::from_str::<OrderFilter>(r#"{"cursor":"x"}"#).is_err(),
            "unknown parameters are refused"
        );
    }
}

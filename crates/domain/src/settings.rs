//! A store's settings: the `store` entity of its settings document, which the
//! hub's settings routes write and serve and from which the hub reads the
//! store's public profile (name, address, time zone, opening hours, pickup
//! lead time, whether it takes online orders).
//!
//! The document merges edits from every replica, and a replica of another
//! version may write a field this build does not know, or a value of another
//! type. Reading must never stop the store and writing must never lose what
//! another replica wrote, so the serde form is the entity's JSON object as it
//! is, field for field: a known field fills its typed slot only when its value
//! reads as that type *and* writes back as the same JSON; anything else
//! (unknown fields, `null`s, values of another type or in a form this build
//! would not write) is kept as written in [`StoreSettings::other`]. A read and
//! a write therefore give back the object that was read.

use serde_json::{Map, Value};

use crate::hours::{HoursException, WeeklyHours};

/// The settings of one store. Absent fields are `None`; see the module
/// documentation for what lands in `other`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(from = "Map<String, Value>", into = "Map<String, Value>")]
pub struct StoreSettings {
    /// The name customers see (kiosk, receipts, the online store).
    pub name: Option<String>,
    /// Minutes from an online order to pickup.
    pub pickup_lead_minutes: Option<u32>,
    /// Whether the hub takes online orders for this store (absent: yes).
    pub online_ordering: Option<bool>,
    /// Whether online customers may pay at pickup instead of by card (absent: yes).
    pub pay_at_pickup: Option<bool>,
    /// The store's address as customers see it.
    pub address: Option<String>,
    /// IANA time zone of the opening hours (absent: UTC).
    pub timezone: Option<String>,
    /// Weekly opening hours (absent: no hours restriction).
    pub hours: Option<WeeklyHours>,
    /// Dated exceptions to the weekly hours.
    pub hours_exceptions: Option<Vec<HoursException>>,
    /// Extra minutes quoted for pickup per open kitchen ticket beyond
    /// `backlog_slow_at` (absent: no extra).
    pub backlog_quote_per_ticket_minutes: Option<u32>,
    /// Open kitchen tickets from which pickups are quoted later (absent: 0).
    pub backlog_slow_at: Option<u32>,
    /// Open kitchen tickets at which online ordering pauses until the kitchen
    /// catches up (absent: never).
    pub backlog_pause_at: Option<u32>,
    /// Online ordering paused by the merchant until this instant (Unix ms);
    /// absent, 0 or past: not paused.
    pub paused_until_ms: Option<i64>,
    /// What customers are told while it is paused (absent or empty: a plain sentence).
    pub pause_message: Option<String>,
    /// Every other field of the entity, as written. A typed field that is set
    /// wins over a value of the same name here.
    pub other: Map<String, Value>,
}

/// Takes `key` out of `fields` as a `T` when its value reads as one and writes back unchanged.
fn take<T: serde::de::DeserializeOwned + serde::Serialize>(
    fields: &mut Map<String, Value>,
    key: &str,
) -> Option<T> {
    let raw = fields.get(key)?;
    let typed: T = serde_json::from_value(raw.clone()).ok()?;
    if serde_json::to_value(&typed).ok()? != *raw {
        return None;
    }
    fields.remove(key);
    Some(typed)
}

/// Puts a typed field back into the object.
fn put<T: serde::Serialize>(fields: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value.and_then(|v| serde_json::to_value(v).ok()) {
        fields.insert(key.to_owned(), v);
    }
}

impl From<Map<String, Value>> for StoreSettings {
    fn from(mut fields: Map<String, Value>) -> StoreSettings {
        StoreSettings {
            name: take(&mut fields, "name"),
            pickup_lead_minutes: take(&mut fields, "pickup_lead_minutes"),
            online_ordering: take(&mut fields, "online_ordering"),
            pay_at_pickup: take(&mut fields, "pay_at_pickup"),
            address: take(&mut fields, "address"),
            timezone: take(&mut fields, "timezone"),
            hours: take(&mut fields, "hours"),
            hours_exceptions: take(&mut fields, "hours_exceptions"),
            backlog_quote_per_ticket_minutes: take(&mut fields, "backlog_quote_per_ticket_minutes"),
            backlog_slow_at: take(&mut fields, "backlog_slow_at"),
            backlog_pause_at: take(&mut fields, "backlog_pause_at"),
            paused_until_ms: take(&mut fields, "paused_until_ms"),
            pause_message: take(&mut fields, "pause_message"),
            other: fields,
        }
    }
}

impl From<StoreSettings> for Map<String, Value> {
    fn from(s: StoreSettings) -> Map<String, Value> {
        let mut fields = s.other;
        put(&mut fields, "name", s.name);
        put(&mut fields, "pickup_lead_minutes", s.pickup_lead_minutes);
        put(&mut fields, "online_ordering", s.online_ordering);
        put(&mut fields, "pay_at_pickup", s.pay_at_pickup);
        put(&mut fields, "address", s.address);
        put(&mut fields, "timezone", s.timezone);
        put(&mut fields, "hours", s.hours);
        put(&mut fields, "hours_exceptions", s.hours_exceptions);
        put(
            &mut fields,
            "backlog_quote_per_ticket_minutes",
            s.backlog_quote_per_ticket_minutes,
        );
        put(&mut fields, "backlog_slow_at", s.backlog_slow_at);
        put(&mut fields, "backlog_pause_at", s.backlog_pause_at);
        put(&mut fields, "paused_until_ms", s.paused_until_ms);
        put(&mut fields, "pause_message", s.pause_message);
        fields
    }
}

impl StoreSettings {
    /// The entity as a JSON object (what the settings document stores).
    pub fn to_fields(&self) -> Map<String, Value> {
        self.clone().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn known_fields_are_typed_and_the_object_comes_back_whole() {
        let stored = json!({
            "name": "Harbor", "pickup_lead_minutes": 20, "online_ordering": false,
            "address": "1 Quay", "timezone": "Europe/Berlin",
            "hours": { "mon": [{ "open": "09:00", "close": "17:00" }] },
            "hours_exceptions": [{ "date": "2026-12-24", "closed": true }],
            "from_a_newer_replica": [1, 2],
        });
        let s: StoreSettings = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(s.name.as_deref(), Some("Harbor"));
        assert_eq!(s.pickup_lead_minutes, Some(20));
        assert_eq!(s.online_ordering, Some(false));
        assert!(s.hours.is_some() && s.hours_exceptions.is_some());
        assert_eq!(s.other.keys().collect::<Vec<_>>(), ["from_a_newer_replica"]);
        assert_eq!(serde_json::to_value(&s).unwrap(), stored);
        // Keys come out sorted, as the object they came from.
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&stored).unwrap()
        );
    }

    #[test]
    fn values_of_another_type_are_kept_as_written() {
        let stored = json!({
            "name": 5, "pickup_lead_minutes": -1, "online_ordering": null,
            "hours": "always", "hours_exceptions": [{ "date": "2026-12-24" , "closed": false }],
        });
        let s = StoreSettings::from(object(stored.clone()));
        assert_eq!(s.name, None);
        assert_eq!(s.pickup_lead_minutes, None);
        assert_eq!(s.online_ordering, None);
        assert_eq!(s.hours, None);
        // Reads as an exception, but would be written without `closed`: kept as is.
        assert_eq!(s.hours_exceptions, None);
        assert_eq!(Value::Object(s.to_fields()), stored);
        assert_eq!(s.other["hours"], json!("always"));
    }

    #[test]
    fn a_typed_field_set_wins_over_the_value_kept() {
        let mut s = StoreSettings::from(object(json!({ "name": 5 })));
        s.name = Some("Harbor".into());
        assert_eq!(Value::Object(s.to_fields()), json!({ "name": "Harbor" }));
        assert_eq!(
            Value::Object(StoreSettings::default().to_fields()),
            json!({})
        );
    }
}

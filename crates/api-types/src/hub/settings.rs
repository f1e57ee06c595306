//! A store's settings as its merchant edits them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// 0 to 1440.
    #[cfg_attr(feature = "openapi", schema(maximum = 1440))]
    pub pickup_lead_minutes: Option<u32>,
    pub online_ordering: Option<bool>,
    /// Whether online customers may choose to pay at pickup (otherwise they pay by card).
    pub pay_at_pickup: Option<bool>,
    /// The store's address as customers see it, 1 to 200 characters.
    pub address: Option<String>,
    /// IANA time zone of the opening hours (`Europe/Berlin`); UTC when never set.
    pub timezone: Option<String>,
    /// Weekly opening hours: per weekday (`mon`..`sun`) the `{open, close}` ranges
    /// (`HH:MM`; a close at or before the open runs overnight). A day left out is closed.
    pub hours: Option<domain::hours::WeeklyHours>,
    /// Dated exceptions: `{date, closed: true}` or `{date, ranges: [...]}`; replaces the list.
    pub hours_exceptions: Option<Vec<domain::hours::HoursException>>,
}

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
    /// Extra pickup minutes quoted per open kitchen ticket beyond `backlog_slow_at`, 0 to 60.
    #[cfg_attr(feature = "openapi", schema(maximum = 60))]
    pub backlog_quote_per_ticket_minutes: Option<u32>,
    /// Open kitchen tickets from which pickups are quoted later, 0 to 1000.
    #[cfg_attr(feature = "openapi", schema(maximum = 1000))]
    pub backlog_slow_at: Option<u32>,
    /// Open kitchen tickets at which online ordering pauses (`kitchen_busy`) until
    /// the kitchen catches up, 1 to 1000 and above `backlog_slow_at`; 0: never pause.
    #[cfg_attr(feature = "openapi", schema(maximum = 1000))]
    pub backlog_pause_at: Option<u32>,
    /// Pause online ordering until this instant (Unix ms, in the next 7 days); 0 resumes now.
    pub paused_until_ms: Option<i64>,
    /// What customers see while ordering is paused (up to 200 characters); "" for a plain sentence.
    pub pause_message: Option<String>,
}

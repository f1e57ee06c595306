//! Ticket numbers: what the kitchen calls out and the customer's receipt shows.
//!
//! Each origin numbers from its own disjoint range, marked by a prefix letter:
//! `S-0457` at the store node, `W-0123` for web orders taken by the hub. So two
//! replicas that take orders while cut off from each other never hand out the
//! same ticket, and a ticket, once given, is never renumbered. Numbers run
//! 1..=9999 and then start again; the order id, not the ticket, is unique.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketNumber {
    prefix: char,
    number: u16,
}

/// Ticket numbers cycle through 1..=MAX_TICKET.
pub const MAX_TICKET: u64 = 9999;

/// The prefix of tickets the store node issues.
pub const STORE_PREFIX: char = 'S';
/// The prefix of tickets the hub issues for web orders.
pub const WEB_PREFIX: char = 'W';

impl TicketNumber {
    /// The ticket for the `seq`-th order (1-based) of an origin with `prefix`.
    pub fn nth(prefix: char, seq: u64) -> Self {
        let n = (seq.saturating_sub(1) % MAX_TICKET) + 1;
        Self {
            prefix,
            number: n as u16,
        }
    }
    pub fn number(&self) -> u16 {
        self.number
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:04}", self.prefix, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_wraps() {
        assert_eq!(TicketNumber::nth(STORE_PREFIX, 457).to_string(), "S-0457");
        assert_eq!(TicketNumber::nth(WEB_PREFIX, 9999).to_string(), "W-9999");
        assert_eq!(
            TicketNumber::nth(STORE_PREFIX, 10_000).to_string(),
            "S-0001"
        );
    }
}

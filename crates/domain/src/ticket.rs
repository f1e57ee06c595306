//! Ticket numbers: what the kitchen calls out and the customer's receipt shows.
//!
//! Each origin numbers from its own disjoint range, marked by a prefix letter:
//! `S-0457` at the store node, `W-0123` for web orders taken by the hub. So two
//! replicas that take orders while cut off from each other never hand out the
//! same ticket, and a ticket, once given, is never renumbered. Numbers run
//! 1..=9999 and then start again; the order id, not the ticket, is unique.
//!
//! A store with several nodes gives each its own letter, in the order they
//! were enrolled ([`node_prefix`]): the first keeps `S`, the second prints
//! `T-0001`, and so on. The hub puts the letter at the front of the node's
//! token ([`prefix_of_token`]), so a node knows it from its first start, even
//! offline, and nobody has to configure it.

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

/// Store nodes' prefixes, in enrollment order (`W` is the hub's). Eight, so a
/// store can replace its boxes a few times before a letter comes round again.
pub const NODE_PREFIXES: [char; 8] = ['S', 'T', 'U', 'V', 'X', 'Y', 'Z', 'R'];

/// The prefix of a store's `n`-th node (from 0).
pub fn node_prefix(n: usize) -> char {
    NODE_PREFIXES[n % NODE_PREFIXES.len()]
}

/// The prefix a node token names: tokens begin with their node's letter;
/// tokens issued before that (lowercase hex only) belong to a store's first node.
pub fn prefix_of_token(token: &str) -> char {
    token
        .chars()
        .next()
        .filter(|c| NODE_PREFIXES.contains(c))
        .unwrap_or(STORE_PREFIX)
}

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
    fn nodes_of_a_store_get_their_own_letters() {
        assert_eq!(node_prefix(0), STORE_PREFIX);
        assert_eq!(node_prefix(1), 'T');
        assert!(!NODE_PREFIXES.contains(&WEB_PREFIX));
        assert_eq!(prefix_of_token("T0c1f"), 'T');
        assert_eq!(prefix_of_token("0c1f"), STORE_PREFIX);
        assert_eq!(prefix_of_token(""), STORE_PREFIX);
    }

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

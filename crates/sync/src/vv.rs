//! Version vectors: per origin, how many of its events a replica holds.

use std::collections::BTreeMap;

/// Per origin, the highest sequence number `n` such that events `1..=n` are all held.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionVector(BTreeMap<String, u64>);

/// Events `from..=to` of `origin`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    pub origin: String,
    pub from: u64,
    pub to: u64,
}

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// New and next in line: the vector advanced.
    Advanced,
    /// Already held: nothing to do (a duplicate or a resend).
    Duplicate,
    /// Ahead of a gap: hold it back and ask for the missing range first.
    Gap { expected: u64 },
}

impl VersionVector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Events `1..=get(origin)` of `origin` are held.
    pub fn get(&self, origin: &str) -> u64 {
        self.0.get(origin).copied().unwrap_or(0)
    }

    /// Records event `seq` of `origin` if it is the next one.
    pub fn apply(&mut self, origin: &str, seq: u64) -> Applied {
        let have = self.get(origin);
        if seq <= have {
            Applied::Duplicate
        } else if seq == have + 1 {
            self.0.insert(origin.to_owned(), seq);
            Applied::Advanced
        } else {
            Applied::Gap { expected: have + 1 }
        }
    }

    /// The ranges `self` holds that `other` lacks: what to send to `other`.
    pub fn missing_in(&self, other: &VersionVector) -> Vec<Range> {
        self.0
            .iter()
            .filter_map(|(origin, &mine)| {
                let theirs = other.get(origin);
                (mine > theirs).then(|| Range {
                    origin: origin.clone(),
                    from: theirs + 1,
                    to: mine,
                })
            })
            .collect()
    }

    /// Raises the count of `origin` to at least `n` (what was sent on a connection).
    pub fn raise(&mut self, origin: &str, n: u64) {
        let e = self.0.entry(origin.to_owned()).or_insert(0);
        *e = (*e).max(n);
    }

    /// All origins and their counts.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(o, n)| (o.as_str(), *n))
    }

    /// Pointwise maximum: what two replicas hold together after a full exchange.
    pub fn merge(&mut self, other: &VersionVector) {
        for (origin, &n) in &other.0 {
            let e = self.0.entry(origin.clone()).or_insert(0);
            *e = (*e).max(n);
        }
    }

    /// `self` holds everything `other` does.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        other.0.iter().all(|(o, &n)| self.get(o) >= n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ships_only_what_the_other_side_lacks() {
        let mut a = VersionVector::new();
        let mut b = VersionVector::new();
        for s in 1..=5 {
            a.apply("node", s);
        }
        b.apply("node", 1);
        b.apply("hub", 1);
        assert_eq!(
            a.missing_in(&b),
            vec![Range {
                origin: "node".into(),
                from: 2,
                to: 5
            }]
        );
        assert_eq!(
            b.missing_in(&a),
            vec![Range {
                origin: "hub".into(),
                from: 1,
                to: 1
            }]
        );
        assert_eq!(a.apply("node", 3), Applied::Duplicate);
        assert_eq!(a.apply("node", 9), Applied::Gap { expected: 6 });
    }

    proptest! {
        /// Delivering the same events in any order, with duplicates, and filling gaps by
        /// re-requesting, ends at the same vector as in-order delivery.
        #[test]
        fn any_delivery_order_converges(n in 1u64..40, order in prop::collection::vec(0u64..40, 0..120)) {
            let mut v = VersionVector::new();
            for s in order.into_iter().map(|s| s % n + 1) {
                v.apply("o", s);
            }
            // Re-request missing ranges until complete, like the protocol does.
            let mut full = VersionVector::new();
            for s in 1..=n { full.apply("o", s); }
            for r in full.missing_in(&v) {
                for s in r.from..=r.to { prop_assert_ne!(v.apply(&r.origin, s), Applied::Gap { expected: 0 }); }
            }
            prop_assert_eq!(&v, &full);
            prop_assert!(v.dominates(&full) && full.dominates(&v));
        }
    }
}

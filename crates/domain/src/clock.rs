//! Time as the domain sees it: a `Clock` port the servers implement, and a
//! hybrid logical clock (HLC) that orders events across replicas even when
//! wall clocks drift.

/// Milliseconds since the Unix epoch, from whatever source the server trusts.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// A hybrid logical clock reading: wall time in ms plus a counter that breaks ties.
///
/// Readings are totally ordered and `tick`/`observe` never go backwards, even
/// if the machine's wall clock does.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Hlc {
    pub wall_ms: u64,
    pub logical: u32,
}

impl Hlc {
    /// The next reading for a local event.
    pub fn tick(self, now_ms: u64) -> Hlc {
        if now_ms > self.wall_ms {
            Hlc {
                wall_ms: now_ms,
                logical: 0,
            }
        } else {
            self.bump()
        }
    }

    /// The next reading after receiving an event stamped `remote`.
    pub fn observe(self, remote: Hlc, now_ms: u64) -> Hlc {
        let wall = now_ms.max(self.wall_ms).max(remote.wall_ms);
        if wall == now_ms && now_ms > self.wall_ms && now_ms > remote.wall_ms {
            return Hlc {
                wall_ms: wall,
                logical: 0,
            };
        }
        self.max(remote).with_wall(wall).bump()
    }

    fn with_wall(self, wall_ms: u64) -> Hlc {
        if wall_ms > self.wall_ms {
            Hlc {
                wall_ms,
                logical: 0,
            }
        } else {
            self
        }
    }

    fn bump(self) -> Hlc {
        match self.logical.checked_add(1) {
            Some(l) => Hlc {
                wall_ms: self.wall_ms,
                logical: l,
            },
            None => Hlc {
                wall_ms: self.wall_ms + 1,
                logical: 0,
            },
        }
    }

    /// A sortable single-string form: `0001732590000000-00000003`.
    pub fn encode(&self) -> String {
        format!("{:016}-{:08}", self.wall_ms, self.logical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards_when_the_wall_clock_does() {
        let a = Hlc::default().tick(1000);
        let b = a.tick(900);
        assert!(b > a);
        let c = b.observe(
            Hlc {
                wall_ms: 5000,
                logical: 7,
            },
            1000,
        );
        assert!(
            c > Hlc {
                wall_ms: 5000,
                logical: 7
            }
        );
        assert!(c.encode() > b.encode());
    }
}

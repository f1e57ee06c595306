//! Sign-in throttling, per client IP and per account, in memory.
//!
//! Built on `governor`'s keyed GCRA limiters rather than `tower_governor`:
//! the account key (the email in the JSON body, or the user behind a refresh
//! token) is only known inside the handler, so the checks are calls the
//! handlers make, not a tower layer. The IP limiter counts every attempt at
//! signup, login, refresh and invitation acceptance; the account limiter
//! counts every login (and password-change) attempt for that email, whether
//! it exists or not, so the answer says nothing about which emails have
//! accounts. Each replica throttles on its own.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Burst sizes and refill rates. A limiter allows `burst` attempts at once,
/// then one more every `60 / per_minute` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub ip_burst: u32,
    pub ip_per_minute: u32,
    pub account_burst: u32,
    pub account_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ip_burst: 30,
            ip_per_minute: 30,
            account_burst: 5,
            account_per_minute: 5,
        }
    }
}

/// Too many attempts: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts; try again in {} s", .retry_after.as_secs())]
pub struct Throttled {
    pub retry_after: Duration,
}

/// Keys kept before idle ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

pub struct Throttle {
    ip: DefaultKeyedRateLimiter<IpAddr>,
    account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

fn quota(burst: u32, per_minute: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl Throttle {
    pub fn new(limits: Limits) -> Throttle {
        Throttle {
            ip: DefaultKeyedRateLimiter::keyed(quota(limits.ip_burst, limits.ip_per_minute)),
            account: DefaultKeyedRateLimiter::keyed(quota(
                limits.account_burst,
                limits.account_per_minute,
            )),
            clock: DefaultClock::default(),
        }
    }

    /// Counts an attempt from `ip`.
    pub fn ip(&self, ip: IpAddr) -> Result<(), Throttled> {
        if self.ip.len() > SWEEP_ABOVE {
            self.ip.retain_recent();
        }
        self.ip.check_key(&ip).map_err(|not_until| Throttled {
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }

    /// Counts an attempt at the account `email` (lower-cased).
    pub fn account(&self, email: &str) -> Result<(), Throttled> {
        if self.account.len() > SWEEP_ABOVE {
            self.account.retain_recent();
        }
        self.account
            .check_key(&email.to_owned())
            .map_err(|not_until| Throttled {
                retry_after: not_until.wait_time_from(self.clock.now()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_with_a_wait() {
        let t = Throttle::new(Limits {
            ip_burst: 2,
            ip_per_minute: 1,
            account_burst: 1,
            account_per_minute: 1,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(t.ip(ip).is_ok());
        assert!(t.ip(ip).is_ok());
        let e = t.ip(ip).unwrap_err();
        assert!(
            e.retry_after > Duration::from_secs(50) && e.retry_after <= Duration::from_secs(60)
        );
        assert!(t.ip("127.0.0.2".parse().unwrap()).is_ok());
        assert!(t.account("a@x.io").is_ok());
        assert!(t.account("a@x.io").is_err());
        assert!(t.account("b@x.io").is_ok());
    }
}

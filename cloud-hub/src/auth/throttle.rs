//! Sign-in throttling, per client IP and per account, in memory.
//!
//! Built on `governor`'s keyed GCRA limiters rather than `tower_governor`:
//! the account key (the email in the JSON body, or the user behind a refresh
//! token) is only known inside the handler, so the checks are calls the
//! handlers make, not a tower layer. Each replica throttles on its own.
//!
//! Three budgets, so that guessing is slow but a stranger cannot lock an owner out:
//! - per IP: every attempt at signup, login, refresh and invitation acceptance;
//! - per IP *and* account: every login (and signup) for that email, whether it
//!   exists or not, so the answer says nothing about which emails have
//!   accounts. A stranger who spends it throttles only themselves (before,
//!   this budget was per account alone, and five wrong passwords a minute
//!   from anywhere kept the real owner out);
//! - per account across all IPs, slower ([`Limits::account_total_per_hour`]),
//!   which bounds a guesser with many addresses, but which a client that has
//!   signed in to the account before (its IP, remembered for
//!   [`TRUSTED_FOR`]) does not need.
//!
//! This is OWASP's "device cookie" scheme (Authentication Cheat Sheet,
//! "Account Lockout"; "Slow Down Online Guessing Attacks with Device
//! Cookies") with the IP in place of the cookie: untrusted clients are locked
//! out of an account under attack, known ones are not. An attacker behind the
//! owner's own NAT shares that trust, and still meets the per-pair budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Burst sizes and refill rates. A limiter allows `burst` attempts at once,
/// then one more every `60 / per_minute` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub ip_burst: u32,
    pub ip_per_minute: u32,
    /// Per IP and account.
    pub account_burst: u32,
    pub account_per_minute: u32,
    /// Per account from IPs that never signed in to it.
    pub account_total_burst: u32,
    pub account_total_per_hour: u32,
}

impl Default for Limits {
    /// 5 a minute per IP and account lets a person mistype; 30 an hour per
    /// account across all IPs caps a distributed guesser at 720 guesses a day,
    /// against a policy that refuses passwords guessable in 10^6 (half of that
    /// space takes about two years).
    fn default() -> Self {
        Limits {
            ip_burst: 30,
            ip_per_minute: 30,
            account_burst: 5,
            account_per_minute: 5,
            account_total_burst: 30,
            account_total_per_hour: 30,
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
/// How long an IP that signed in to an account stays trusted for it: a month
/// covers a member of staff who works weekly from the same shop or home.
const TRUSTED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

pub struct Throttle {
    ip: DefaultKeyedRateLimiter<IpAddr>,
    pair: DefaultKeyedRateLimiter<(IpAddr, String)>,
    account: DefaultKeyedRateLimiter<String>,
    /// (account, IP) that signed in, and when last.
    trusted: Mutex<HashMap<(String, IpAddr), Instant>>,
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

fn hourly_quota(burst: u32, per_hour: u32) -> Quota {
    let per_hour = NonZeroU32::new(per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_hour(per_hour).allow_burst(burst)
}

impl Throttle {
    pub fn new(limits: Limits) -> Throttle {
        Throttle {
            ip: DefaultKeyedRateLimiter::keyed(quota(limits.ip_burst, limits.ip_per_minute)),
            pair: DefaultKeyedRateLimiter::keyed(quota(
                limits.account_burst,
                limits.account_per_minute,
            )),
            account: DefaultKeyedRateLimiter::keyed(hourly_quota(
                limits.account_total_burst,
                limits.account_total_per_hour,
            )),
            trusted: Mutex::default(),
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

    fn refused(
        &self,
        not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>,
    ) -> Throttled {
        Throttled {
            retry_after: not_until.wait_time_from(self.clock.now()),
        }
    }

    /// Counts an attempt at the account `email` (lower-cased) from `ip`:
    /// against that pair's budget, and against the account's own budget
    /// unless `ip` signed in to it before.
    pub fn account(&self, ip: IpAddr, email: &str) -> Result<(), Throttled> {
        if self.pair.len() > SWEEP_ABOVE {
            self.pair.retain_recent();
        }
        if self.account.len() > SWEEP_ABOVE {
            self.account.retain_recent();
        }
        self.pair
            .check_key(&(ip, email.to_owned()))
            .map_err(|n| self.refused(n))?;
        match self.account.check_key(&email.to_owned()) {
            Ok(()) => Ok(()),
            Err(_) if self.is_trusted(ip, email) => Ok(()),
            Err(n) => Err(self.refused(n)),
        }
    }

    /// `ip` signed in to `email`: from now on the account's own budget does not stop it.
    pub fn signed_in(&self, ip: IpAddr, email: &str) {
        let mut trusted = self.trusted.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if trusted.len() >= SWEEP_ABOVE {
            trusted.retain(|_, at| now.duration_since(*at) < TRUSTED_FOR);
            // Still full: forget the longest unused (one scan per sign-in while full).
            if trusted.len() >= SWEEP_ABOVE
                && let Some(oldest) = trusted
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
            {
                trusted.remove(&oldest);
            }
        }
        trusted.insert((email.to_owned(), ip), now);
    }

    fn is_trusted(&self, ip: IpAddr, email: &str) -> bool {
        let trusted = self.trusted.lock().unwrap_or_else(|e| e.into_inner());
        trusted
            .get(&(email.to_owned(), ip))
            .is_some_and(|at| at.elapsed() < TRUSTED_FOR)
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
            account_total_burst: 2,
            account_total_per_hour: 1,
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(t.ip(ip).is_ok());
        assert!(t.ip(ip).is_ok());
        let e = t.ip(ip).unwrap_err();
        assert!(
            e.retry_after > Duration::from_secs(50) && e.retry_after <= Duration::from_secs(60)
        );
        assert!(t.ip("127.0.0.2".parse().unwrap()).is_ok());
        let (a, b, c) = (
            ip,
            "127.0.0.2".parse().unwrap(),
            "127.0.0.3".parse().unwrap(),
        );
        assert!(t.account(a, "a@x.io").is_ok());
        assert!(
            t.account(a, "a@x.io").is_err(),
            "this pair's budget is spent"
        );
        assert!(t.account(b, "a@x.io").is_ok(), "another IP has its own");
        assert!(t.account(a, "b@x.io").is_ok());
        // The account's own budget (two) is spent; only an IP that signed in before passes.
        let d: IpAddr = "127.0.0.4".parse().unwrap();
        t.signed_in(d, "a@x.io");
        assert!(t.account(c, "a@x.io").is_err());
        assert!(t.account(d, "a@x.io").is_ok());
    }
}

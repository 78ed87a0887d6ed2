//! Failed authentications, counted per client address in one-minute windows, so keys
//! cannot be guessed at speed. Only failures are counted: a valid key always gets through.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

const WINDOW_MS: i64 = 60_000;
/// Past this many tracked addresses, windows that have ended are dropped.
const PRUNE_AT: usize = 10_000;

pub struct FailureLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl FailureLimiter {
    pub fn new(per_minute: u32) -> Self {
        FailureLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Records one failure from `addr` at `now`; `Some(seconds to wait)` once the address
    /// has used up its failures for the current minute.
    pub fn fail(&self, addr: IpAddr, now: i64) -> Option<u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > PRUNE_AT {
            windows.retain(|_, (start, _)| now - *start < WINDOW_MS);
        }
        let window_start = now - now.rem_euclid(WINDOW_MS);
        let entry = windows.entry(addr).or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 > self.per_minute {
            let reset_ms = window_start + WINDOW_MS - now;
            Some(((reset_ms + 999) / 1000).max(1) as u64)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_after_the_limit_waits_for_the_next_minute() {
        let limiter = FailureLimiter::new(3);
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t = 60_000 * 29_000_000 + 20_000; // 20 s into a minute
        for _ in 0..3 {
            assert_eq!(limiter.fail(addr, t), None);
        }
        assert_eq!(limiter.fail(addr, t), Some(40));
        assert_eq!(limiter.fail(other, t), None, "addresses are counted apart");
        assert_eq!(
            limiter.fail(addr, t + 40_000),
            None,
            "a new minute, a new count"
        );
    }
}

//! Per-project rate limits: an exact fixed hourly window, shared by replicas through the
//! database or Redis, with the published headers.
//!
//! - [`Limiter`]: picks the project's limit, counts through a [`store`], and applies
//!   `ratelimit.on_store_failure` when the store fails or is slow;
//! - [`store`]: the counters — memory, database, Redis — each one atomic step per hit;
//! - [`headers`]: the `X-RateLimit-*`, `RateLimit-Policy` and `RateLimit` headers.

pub mod headers;
pub mod store;

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};

use crate::{
    auth::{Plan, Principal},
    config::{RateLimitConfig, StoreFailurePolicy},
    error::ApiError,
    telemetry::metrics::{Decision, RateLimitDecisions},
};
pub use store::{CounterStore, MemoryStore, StoreError};

/// The window every budget resets on: one hour, aligned to the epoch.
pub const WINDOW_MS: i64 = 3_600_000;

/// A project's window after one request (or a look at it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub limit: u64,
    /// Requests counted in this window, at most `limit`.
    pub used: u64,
    pub remaining: u64,
    /// When the window ends, in Unix seconds.
    pub reset_at_secs: i64,
    /// Seconds until then, at least 1.
    pub reset_in_secs: u64,
    /// False when this request went over the budget.
    pub allowed: bool,
}

impl Usage {
    fn new(limit: u64, count: u64, window_start: i64, now: i64) -> Usage {
        let reset_at = window_start + WINDOW_MS;
        Usage {
            limit,
            used: count.min(limit),
            remaining: limit.saturating_sub(count),
            reset_at_secs: reset_at / 1000,
            reset_in_secs: ((reset_at - now + 999) / 1000).max(1) as u64,
            allowed: count <= limit,
        }
    }
}

pub fn window_start(now: i64) -> i64 {
    now - now.rem_euclid(WINDOW_MS)
}

pub struct Limiter {
    store: Box<dyn CounterStore>,
    /// Counts on this node alone while the shared store is failing (`open`).
    fallback: MemoryStore,
    policy: StoreFailurePolicy,
    timeout: Duration,
    default_per_hour: u64,
    per_plan: BTreeMap<Plan, u64>,
    last_warning: AtomicI64,
    decisions: RateLimitDecisions,
}

impl Limiter {
    /// A limiter counting through `store`, its decisions on counted requests recorded
    /// in `decisions`.
    pub fn new(
        config: &RateLimitConfig,
        store: Box<dyn CounterStore>,
        decisions: RateLimitDecisions,
    ) -> Limiter {
        Limiter {
            store,
            fallback: MemoryStore::default(),
            policy: config.on_store_failure,
            timeout: Duration::from_millis(config.timeout_ms),
            default_per_hour: u64::from(config.default_per_hour.0),
            per_plan: config
                .per_plan
                .iter()
                .map(|(plan, n)| (*plan, u64::from(n.0)))
                .collect(),
            last_warning: AtomicI64::new(i64::MIN),
            decisions,
        }
    }

    /// The project's own budget, else its plan's, else the default.
    pub fn limit_for(&self, principal: &Principal) -> u64 {
        principal
            .rate_limit_per_hour
            .map(|n| n.max(0) as u64)
            .or_else(|| self.per_plan.get(&principal.plan).copied())
            .unwrap_or(self.default_per_hour)
    }

    /// Counts one request; `allowed` is false past the budget.
    pub async fn hit(&self, principal: &Principal, now: i64) -> Result<Usage, ApiError> {
        self.count(principal, now, 1).await
    }

    /// The window as it stands, without counting.
    pub async fn peek(&self, principal: &Principal, now: i64) -> Result<Usage, ApiError> {
        self.count(principal, now, 0).await
    }

    /// Gives back a counted request (one answered `304 Not Modified`).
    pub async fn refund(&self, principal: &Principal, now: i64) {
        let window = window_start(now);
        let refund = self.store.add(&principal.project_id, window, -1);
        match tokio::time::timeout(self.timeout, refund).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::debug!(error = %err, "could not refund a 304"),
            Err(_) => tracing::debug!("could not refund a 304 in time"),
        }
    }

    async fn count(&self, principal: &Principal, now: i64, delta: i64) -> Result<Usage, ApiError> {
        let limit = self.limit_for(principal);
        let window = window_start(now);
        let project = &principal.project_id;
        let counted = tokio::time::timeout(self.timeout, self.store.add(project, window, delta))
            .await
            .unwrap_or(Err(StoreError::Timeout));
        let (count, store_failed) = match counted {
            Ok(count) => (Ok(count), false),
            Err(err) => (
                self.on_failure(err, project, window, delta, now).await,
                true,
            ),
        };
        let usage = count.map(|count| Usage::new(limit, count.max(0) as u64, window, now));
        // Only a counted request is a decision; a look at the window decides nothing.
        if delta > 0 {
            self.decisions.record(match &usage {
                _ if store_failed => Decision::StoreError,
                Ok(usage) if !usage.allowed => Decision::Limited,
                _ => Decision::Allowed,
            });
        }
        usage
    }

    async fn on_failure(
        &self,
        err: StoreError,
        project: &str,
        window: i64,
        delta: i64,
        now: i64,
    ) -> Result<i64, ApiError> {
        self.warn_once_a_minute(&err, now);
        match self.policy {
            StoreFailurePolicy::Closed => Err(ApiError::unavailable(err)),
            StoreFailurePolicy::Open => Ok(self
                .fallback
                .add(project, window, delta)
                .await
                .expect("the memory store does not fail")),
        }
    }

    fn warn_once_a_minute(&self, err: &StoreError, now: i64) {
        let last = self.last_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let policy = match self.policy {
                StoreFailurePolicy::Open => "serving with this node's own count",
                StoreFailurePolicy::Closed => "answering 503",
            };
            tracing::warn!(error = %err, "the rate-limit store is failing; {policy}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_down_and_resets_at_the_hour() {
        let start = 1_767_225_600_000; // on the hour
        let now = start + 600_000; // ten minutes in
        let usage = Usage::new(1000, 1, start, now);
        assert_eq!((usage.used, usage.remaining, usage.allowed), (1, 999, true));
        assert_eq!(usage.reset_at_secs, (start + WINDOW_MS) / 1000);
        assert_eq!(usage.reset_in_secs, 3000);
        let over = Usage::new(1000, 1001, start, now);
        assert_eq!((over.used, over.remaining, over.allowed), (1000, 0, false));
        assert_eq!(window_start(now), start);
    }
}

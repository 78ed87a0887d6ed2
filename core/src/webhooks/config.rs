//! The `[webhooks]` section: SPEC's keys and defaults, each checked when read.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::config::PositiveU32;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Deliver webhooks from this process.
    pub enabled: bool,
    /// A receiver's time to answer.
    pub timeout_secs: PositiveU32,
    /// Waits between attempts, each with ±10% jitter.
    pub retry_schedule_secs: RetrySchedule,
    /// An endpoint whose deliveries have all failed this long is disabled.
    pub disable_after_hours: PositiveU32,
    /// How long deliveries are kept.
    pub retention_days: PositiveU32,
    /// Allow `http://` and private or loopback addresses (development, tests).
    pub allow_private_targets: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            enabled: true,
            timeout_secs: PositiveU32(15),
            retry_schedule_secs: RetrySchedule(vec![
                5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0,
            ]),
            disable_after_hours: PositiveU32(120),
            retention_days: PositiveU32(30),
            allow_private_targets: false,
        }
    }
}

impl WebhooksConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.0.into())
    }
}

/// Seconds to wait before each retry; fractions are allowed (tests wait milliseconds).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(transparent)]
pub struct RetrySchedule(pub Vec<f64>);

impl RetrySchedule {
    /// The wait before retry number `retry` (0 for the first retry), or `None` when the
    /// schedule is spent.
    pub fn wait(&self, retry: usize) -> Option<Duration> {
        self.0.get(retry).map(|secs| Duration::from_secs_f64(*secs))
    }
}

impl<'de> Deserialize<'de> for RetrySchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let waits = Vec::<f64>::deserialize(d)?;
        // A year bounds a wait: past it a delivery is long out of retention.
        if let Some(bad) = waits
            .iter()
            .find(|w| !w.is_finite() || **w < 0.0 || **w > 31_536_000.0)
        {
            return Err(serde::de::Error::custom(format!(
                "{bad} is not a wait in seconds between 0 and 31536000"
            )));
        }
        Ok(RetrySchedule(waits))
    }
}

//! What one attempt's answer means for its delivery: delivered, retried when (the
//! schedule with jitter, or later when the receiver says `Retry-After`), or failed.

use std::time::Duration;

use super::config::RetrySchedule;

/// How an attempt ended, as far as the retry rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The receiver answered with this status; `retry_after` from its header.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// No answer: refused address, connection error, or timeout.
    NoAnswer,
}

/// What happens to the delivery next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Delivered,
    /// Try again after this long.
    Retry(Duration),
    /// The schedule is spent: `failed`, replayable.
    Failed,
    /// The receiver answered 410: the delivery fails and the endpoint is disabled.
    Gone,
}

/// `retry` counts the retries already made in this round (0 after the first attempt);
/// `jitter` is a factor in [0.9, 1.1].
pub fn next(answer: &Answer, retry: usize, schedule: &RetrySchedule, jitter: f64) -> Next {
    let retry_after = match answer {
        Answer::Status { code, .. } if (200..300).contains(code) => return Next::Delivered,
        Answer::Status { code: 410, .. } => return Next::Gone,
        Answer::Status {
            code: 429 | 503,
            retry_after,
        } => *retry_after,
        _ => None,
    };
    match schedule.wait(retry) {
        None => Next::Failed,
        Some(wait) => {
            let jittered = wait.mul_f64(jitter.clamp(0.9, 1.1));
            Next::Retry(retry_after.map_or(jittered, |at_least| jittered.max(at_least)))
        }
    }
}

/// A random factor in [0.9, 1.1], so that deliveries failed together are not all
/// retried at the same moment.
pub fn jitter() -> f64 {
    rand::random_range(0.9..=1.1)
}

/// `Retry-After` as seconds or an HTTP date, measured from `now_secs`.
pub fn parse_retry_after(value: &str, now_secs: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value)
        .ok()?
        .timestamp();
    Some(Duration::from_secs(
        at.saturating_sub(now_secs).max(0) as u64
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule(vec![5.0, 300.0])
    }

    fn status(code: u16) -> Answer {
        Answer::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn a_2xx_delivers_and_a_410_is_gone() {
        assert_eq!(next(&status(204), 0, &schedule(), 1.0), Next::Delivered);
        assert_eq!(next(&status(410), 0, &schedule(), 1.0), Next::Gone);
    }

    #[test]
    fn failures_follow_the_schedule_with_jitter_then_fail() {
        assert_eq!(
            next(&status(500), 0, &schedule(), 1.0),
            Next::Retry(Duration::from_secs(5))
        );
        assert_eq!(
            next(&Answer::NoAnswer, 1, &schedule(), 0.9),
            Next::Retry(Duration::from_secs(270))
        );
        assert_eq!(
            next(&status(301), 1, &schedule(), 1.1),
            Next::Retry(Duration::from_secs(330))
        );
        assert_eq!(next(&status(500), 2, &schedule(), 1.0), Next::Failed);
        for _ in 0..100 {
            assert!((0.9..=1.1).contains(&jitter()));
        }
    }

    #[test]
    fn retry_after_on_429_and_503_waits_at_least_that_long() {
        let busy = |code| Answer::Status {
            code,
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            next(&busy(429), 0, &schedule(), 1.0),
            Next::Retry(Duration::from_secs(60))
        );
        assert_eq!(
            next(&busy(503), 1, &schedule(), 1.0),
            Next::Retry(Duration::from_secs(300))
        );
        // Only those two statuses are heeded.
        assert_eq!(
            next(&busy(500), 0, &schedule(), 1.0),
            Next::Retry(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after(" 120 ", 0),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 40),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}

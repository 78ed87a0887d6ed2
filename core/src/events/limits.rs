//! `rate_limit.warning` (the window passed 80% used) and `rate_limit.exceeded` (its
//! first 429): at most once each per project and window, across replicas.
//!
//! A request's path never waits on this: the first request of a window past a threshold
//! hands the publishing to a task. Each process remembers what it has published (or seen
//! published) in the current window, so only that first request touches the database;
//! the unique `event_once` row decides between replicas.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use serde_json::json;

use crate::{
    db::Db,
    ratelimit::{window_start, Usage},
};

const WARNING: &str = "rate_limit.warning";
const EXCEEDED: &str = "rate_limit.exceeded";

pub struct LimitEvents {
    db: Db,
    /// `(project, type)` already published in `window`.
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    window: i64,
    published: HashSet<(String, &'static str)>,
}

impl LimitEvents {
    pub fn new(db: Db) -> Arc<LimitEvents> {
        Arc::new(LimitEvents {
            db,
            seen: Mutex::default(),
        })
    }

    /// Looks at a counted request's window; publishes what it newly crossed.
    pub fn observe(self: &Arc<Self>, project_id: &str, usage: &Usage, now: i64) {
        let event_type = match crossed(usage) {
            Some(event_type) => event_type,
            None => return,
        };
        let window = window_start(now);
        if !self.first_here(project_id, event_type, window) {
            return;
        }
        let this = self.clone();
        let project_id = project_id.to_owned();
        let data = json!({
            "limit": usage.limit,
            "used": usage.used,
            "reset": usage.reset_at_secs,
        });
        tokio::spawn(async move {
            let published = crate::events::publish_once_per_window(
                &this.db,
                &project_id,
                event_type,
                window,
                data,
                now,
            )
            .await;
            if let Err(err) = published {
                tracing::warn!(error = %err, event_type, "cannot publish a rate-limit event");
                // Another request of the window may try again.
                this.forget(&project_id, event_type, window);
            }
        });
    }

    /// True the first time this process sees `(project, type)` in `window`.
    fn first_here(&self, project_id: &str, event_type: &'static str, window: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.window != window {
            *seen = Seen {
                window,
                published: HashSet::new(),
            };
        }
        seen.published.insert((project_id.to_owned(), event_type))
    }

    fn forget(&self, project_id: &str, event_type: &'static str, window: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.window == window {
            seen.published.remove(&(project_id.to_owned(), event_type));
        }
    }
}

/// The threshold a request's count has reached: the first refusal, or more than 80%.
fn crossed(usage: &Usage) -> Option<&'static str> {
    if !usage.allowed {
        Some(EXCEEDED)
    } else if usage.used * 5 > usage.limit * 4 {
        Some(WARNING)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(limit: u64, used: u64, allowed: bool) -> Usage {
        Usage {
            limit,
            used,
            remaining: limit - used,
            reset_at_secs: 0,
            reset_in_secs: 1,
            allowed,
        }
    }

    #[test]
    fn warning_past_80_percent_and_exceeded_on_refusal() {
        assert_eq!(crossed(&usage(10, 8, true)), None);
        assert_eq!(crossed(&usage(10, 9, true)), Some(WARNING));
        assert_eq!(crossed(&usage(10, 10, false)), Some(EXCEEDED));
    }
}

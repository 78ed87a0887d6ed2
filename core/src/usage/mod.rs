//! Usage history: every answer to a request with a valid key, counted per project, key,
//! operation and status in hourly buckets.
//!
//! - [`Recorder`]: the counts in memory, on the request path (no database write per
//!   request), added to the database every `usage.flush_secs` and at shutdown;
//! - [`store`]: the `usage_hourly` table, whose rows replicas add to;
//! - [`api`]: `GET /usage`, the history as series of buckets.

pub mod api;
pub mod store;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{auth::Principal, db::Db};

pub const HOUR_MS: i64 = 3_600_000;

/// Shards, so requests of different keys rarely wait on one lock.
const SHARDS: usize = 16;

/// One key's counts, by (operation, status, hour start).
struct KeyCounts {
    project_id: String,
    counts: HashMap<(Arc<str>, u16, i64), u64>,
}

/// Counts not yet in the database.
#[derive(Default)]
pub struct Recorder {
    shards: [Mutex<HashMap<String, KeyCounts>>; SHARDS],
}

/// One row to add to `usage_hourly`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub project_id: String,
    pub key_id: String,
    pub operation_id: String,
    pub status: u16,
    pub hour_start: i64,
    pub count: u64,
}

impl Recorder {
    /// Counts one answer. Allocates only for a key's first answer since the last flush.
    pub fn record(&self, principal: &Principal, operation_id: &Arc<str>, status: u16, now: i64) {
        let hour_start = now - now.rem_euclid(HOUR_MS);
        let mut shard = self.shard(&principal.key_id);
        let counts = match shard.get_mut(principal.key_id.as_str()) {
            Some(counts) => counts,
            None => shard
                .entry(principal.key_id.clone())
                .or_insert_with(|| KeyCounts {
                    project_id: principal.project_id.clone(),
                    counts: HashMap::new(),
                }),
        };
        *counts
            .counts
            .entry((operation_id.clone(), status, hour_start))
            .or_insert(0) += 1;
    }

    fn shard(&self, key_id: &str) -> std::sync::MutexGuard<'_, HashMap<String, KeyCounts>> {
        // A key id ends in random characters: its last byte spreads keys over the shards
        // without hashing the id once more.
        let index = key_id.bytes().last().map_or(0, usize::from) % SHARDS;
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes every count, leaving none.
    fn take(&self) -> Vec<Count> {
        let mut taken = Vec::new();
        for shard in &self.shards {
            let keys = std::mem::take(&mut *shard.lock().unwrap_or_else(|e| e.into_inner()));
            for (key_id, key) in keys {
                for ((operation_id, status, hour_start), count) in key.counts {
                    taken.push(Count {
                        project_id: key.project_id.clone(),
                        key_id: key_id.clone(),
                        operation_id: operation_id.to_string(),
                        status,
                        hour_start,
                        count,
                    });
                }
            }
        }
        taken
    }

    /// Puts back counts a flush could not write, for the next one.
    fn restore(&self, counts: Vec<Count>) {
        for count in counts {
            let mut shard = self.shard(&count.key_id);
            let key = shard.entry(count.key_id).or_insert_with(|| KeyCounts {
                project_id: count.project_id,
                counts: HashMap::new(),
            });
            *key.counts
                .entry((count.operation_id.into(), count.status, count.hour_start))
                .or_insert(0) += count.count;
        }
    }

    /// Adds every count to the database; what cannot be written stays for the next flush.
    pub async fn flush(&self, db: &Db) {
        let counts = self.take();
        if counts.is_empty() {
            return;
        }
        if let Err(err) = store::add(db, &counts).await {
            tracing::warn!(error = %err, "could not write usage counts; keeping them for the next flush");
            self.restore(counts);
        }
    }

    /// Flushes every `every` until the recorder is dropped.
    pub fn flush_every(self: &Arc<Self>, db: Db, every: Duration) {
        let recorder = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(recorder) = recorder.upgrade() else {
                    return;
                };
                recorder.flush(&db).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Plan;

    fn principal(key_id: &str) -> Principal {
        Principal {
            key_id: key_id.into(),
            project_id: "prj_1".into(),
            plan: Plan::Scale,
            scopes: Default::default(),
            rate_limit_per_hour: None,
            expires_at: None,
        }
    }

    #[test]
    fn answers_are_counted_per_key_operation_status_and_hour() {
        let recorder = Recorder::default();
        let list: Arc<str> = "listMetrics".into();
        let (a, b) = (principal("a"), principal("b"));
        recorder.record(&a, &list, 200, HOUR_MS + 5);
        recorder.record(&a, &list, 200, 2 * HOUR_MS - 1);
        recorder.record(&a, &list, 429, HOUR_MS);
        recorder.record(&b, &list, 200, 2 * HOUR_MS);
        let mut counts = recorder.take();
        counts.sort_by_key(|c| (c.key_id.clone(), c.status, c.hour_start));
        let seen: Vec<_> = counts
            .iter()
            .map(|c| (c.key_id.as_str(), c.status, c.hour_start, c.count))
            .collect();
        assert_eq!(
            seen,
            [
                ("a", 200, HOUR_MS, 2),
                ("a", 429, HOUR_MS, 1),
                ("b", 200, 2 * HOUR_MS, 1)
            ]
        );
        assert!(recorder.take().is_empty(), "taking leaves nothing");
        recorder.restore(counts);
        assert_eq!(recorder.take().len(), 3, "restored counts are kept");
    }
}

//! The delivery worker every `dashtray serve` runs: claims due deliveries, sends them
//! signed, and records each attempt.
//!
//! A claim is a lease (a token and an expiry) written by one conditional `UPDATE`, so two
//! processes never hold the same delivery at once; on Postgres the rows are picked with
//! `FOR UPDATE SKIP LOCKED` so replicas do not queue behind each other. A process that
//! dies holding leases loses nothing: once they expire, any replica claims the deliveries
//! again (at least once; receivers dedupe on `webhook-id`). Stopping lets in-flight
//! deliveries finish within the grace period and hands the rest back.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{sync::watch, task::JoinSet};

use super::{
    address,
    config::WebhooksConfig,
    outcome::{self, Answer, Next},
    signing,
};
use crate::{
    auth::key,
    clock::SharedClock,
    config::DatabaseKind,
    db::{query, Db, DbError},
};

/// Deliveries one process sends at the same time.
const MAX_IN_FLIGHT: usize = 32;
/// How often an idle worker looks for due deliveries.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// How often deliveries past `webhooks.retention_days` are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
/// What a lease adds to the receiver's timeout: time to record the attempt.
const LEASE_MARGIN_MS: i64 = 30_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A running worker; [`Worker::stop`] ends it.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

impl Worker {
    /// Starts delivering; `grace` is how long a stop waits for deliveries in flight.
    pub fn start(
        db: Db,
        config: WebhooksConfig,
        clock: SharedClock,
        grace: Duration,
    ) -> Result<Worker, ClientError> {
        let deliverer = Arc::new(Deliverer {
            client: client(&config)?,
            claim_sql: claim_sql(db.kind()),
            db,
            config,
            clock,
            token: format!("lease_{}", key::random_id(20)),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(deliverer.run(stopped, grace));
        Ok(Worker { stop, task })
    }

    /// Stops claiming; deliveries in flight go on (the shutdown's first step).
    pub fn begin_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops claiming, lets deliveries in flight finish within the grace period, and
    /// hands back the ones that did not.
    pub async fn stop(self) {
        self.begin_stop();
        if let Err(err) = self.task.await {
            tracing::warn!(error = %err, "the webhook worker failed");
        }
    }
}

/// The HTTP client of deliveries: no redirects, no proxy (it would bypass the address
/// rules), the receiver's timeout, and, unless private targets are allowed, https only
/// and a resolver that refuses forbidden addresses at connection time.
fn client(config: &WebhooksConfig) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(config.timeout())
        .user_agent(concat!("dashtray-webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = match config.allow_private_targets {
        true => builder,
        false => builder
            .https_only(true)
            .dns_resolver(address::checked_resolver()),
    };
    builder.build()
}

struct Deliverer {
    db: Db,
    config: WebhooksConfig,
    client: reqwest::Client,
    clock: SharedClock,
    /// This process's lease token: only its holder records an attempt.
    token: String,
    /// [`claim_sql`] for the database in use.
    claim_sql: String,
}

/// A delivery this process holds the lease of.
#[derive(Debug)]
struct Claimed {
    id: String,
    endpoint_id: String,
    event_id: String,
    round_attempts: i64,
}

/// What a delivery is sent with.
struct Target {
    payload: String,
    url: String,
    secrets: Vec<String>,
}

impl Deliverer {
    async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>, grace: Duration) {
        let mut in_flight = JoinSet::new();
        let mut next_sweep = Instant::now();
        while !*stop.borrow() {
            if Instant::now() >= next_sweep {
                self.sweep().await;
                next_sweep = Instant::now() + SWEEP_EVERY;
            }
            // Never more than `room` by the claim's own limit; saturating all the same, as
            // the worker must not stop over a count.
            let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
            let claimed = match room {
                0 => 0,
                _ => self.claim_into(&mut in_flight, room).await,
            };
            if room > 0 && claimed == room {
                continue; // more may be due
            }
            tokio::select! {
                _ = stop.changed() => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
        self.drain(in_flight, grace).await;
    }

    async fn claim_into(self: &Arc<Self>, in_flight: &mut JoinSet<()>, room: usize) -> usize {
        match self.claim(room).await {
            Ok(claimed) => {
                let n = claimed.len();
                for delivery in claimed {
                    let this = self.clone();
                    in_flight.spawn(async move { this.deliver(delivery).await });
                }
                n
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim webhook deliveries");
                0
            }
        }
    }

    async fn drain(&self, mut in_flight: JoinSet<()>, grace: Duration) {
        let finished = tokio::time::timeout(grace, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            in_flight.abort_all();
            while in_flight.join_next().await.is_some() {}
            // The receiver may have had some of these: at least once, not at most once.
            let released = query(
                "UPDATE webhook_deliveries SET lease_token = NULL, lease_until = NULL \
                 WHERE lease_token = $1 AND status = 'pending'",
            )
            .bind(self.token.as_str())
            .execute(&self.db)
            .await;
            match released {
                Ok(n) => tracing::info!(deliveries = n, "handed back webhook deliveries"),
                Err(err) => tracing::warn!(
                    error = %err,
                    "cannot hand back webhook deliveries; their leases will expire"
                ),
            }
        }
    }

    /// Leases up to `n` due deliveries of enabled endpoints to this process.
    async fn claim(&self, n: usize) -> Result<Vec<Claimed>, DbError> {
        let now = self.clock.now_millis();
        let lease_until = now + self.config.timeout().as_millis() as i64 + LEASE_MARGIN_MS;
        query(self.claim_sql.as_str())
            .bind(self.token.as_str())
            .bind(lease_until)
            .bind(now)
            .bind(n as i64)
            .fetch_all(&self.db, |row| {
                Ok(Claimed {
                    id: row.get("id")?,
                    endpoint_id: row.get("endpoint_id")?,
                    event_id: row.get("event_id")?,
                    round_attempts: row.get("round_attempts")?,
                })
            })
            .await
    }

    async fn deliver(&self, delivery: Claimed) {
        if let Err(err) = self.try_deliver(&delivery).await {
            // The lease expires and the delivery is tried again.
            tracing::warn!(delivery = %delivery.id, error = %err, "cannot record a webhook attempt");
        }
    }

    async fn try_deliver(&self, delivery: &Claimed) -> Result<(), DbError> {
        let target = self.target(delivery).await?;
        let now = self.clock.now_millis();
        let started = Instant::now();
        let (answer, error) = self.send(&delivery.event_id, &target, now / 1000).await;
        let duration_ms = started.elapsed().as_millis() as i64;
        let retry = usize::try_from(delivery.round_attempts).unwrap_or(0);
        let next = outcome::next(
            &answer,
            retry,
            &self.config.retry_schedule_secs,
            outcome::jitter(),
        );
        tracing::debug!(delivery = %delivery.id, ?answer, ?next, "webhook attempt");
        self.record(delivery, &answer, error, duration_ms, &next)
            .await
    }

    async fn target(&self, delivery: &Claimed) -> Result<Target, DbError> {
        let now = self.clock.now_millis();
        query(
            "SELECT e.payload, w.url, w.secret, w.previous_secret, w.previous_secret_until \
             FROM events e, webhook_endpoints w WHERE e.id = $1 AND w.id = $2",
        )
        .bind(delivery.event_id.as_str())
        .bind(delivery.endpoint_id.as_str())
        .fetch_one(&self.db, |row| {
            let mut secrets = vec![row.get::<String>("secret")?];
            let previous: Option<String> = row.get("previous_secret")?;
            let until: Option<i64> = row.get("previous_secret_until")?;
            if let (Some(previous), Some(until)) = (previous, until) {
                if until > now {
                    secrets.push(previous);
                }
            }
            Ok(Target {
                payload: row.get("payload")?,
                url: row.get("url")?,
                secrets,
            })
        })
        .await
    }

    /// One signed POST; the answer, and what went wrong when there was none.
    async fn send(&self, id: &str, target: &Target, ts: i64) -> (Answer, Option<String>) {
        // Checked at each delivery: the rules may be stricter than when it was made.
        if let Err(err) = address::check_form(&target.url, self.config.allow_private_targets) {
            return (Answer::NoAnswer, Some(err.to_string()));
        }
        let secrets: Vec<&str> = target.secrets.iter().map(String::as_str).collect();
        let signature = match signing::signature_header(&secrets, id, ts, target.payload.as_bytes())
        {
            Ok(signature) => signature,
            Err(err) => return (Answer::NoAnswer, Some(err.to_string())),
        };
        let sent = self
            .client
            .post(&target.url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(target.payload.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let code = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| outcome::parse_retry_after(v, ts));
                (Answer::Status { code, retry_after }, None)
            }
            Err(err) => (Answer::NoAnswer, Some(describe(&err))),
        }
    }

    /// The attempt, the delivery's new state and the endpoint's, in one transaction,
    /// written only while this process still holds the lease.
    async fn record(
        &self,
        delivery: &Claimed,
        answer: &Answer,
        error: Option<String>,
        duration_ms: i64,
        next: &Next,
    ) -> Result<(), DbError> {
        let now = self.clock.now_millis();
        let code = match answer {
            Answer::Status { code, .. } => Some(i64::from(*code)),
            Answer::NoAnswer => None,
        };
        let (status, next_at) = match next {
            Next::Delivered => ("delivered", None),
            Next::Retry(wait) => ("pending", Some(now + wait.as_millis() as i64)),
            Next::Failed | Next::Gone => ("failed", None),
        };
        let mut tx = self.db.begin().await?;
        let held = query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
             round_attempts = round_attempts + 1, next_attempt_at = $2, \
             last_status_code = $3, last_error = $4, lease_token = NULL, lease_until = NULL, \
             updated_at = $5 WHERE id = $6 AND lease_token = $7",
        )
        .bind(status)
        .bind(next_at)
        .bind(code)
        .bind(error.as_deref())
        .bind(now)
        .bind(delivery.id.as_str())
        .bind(self.token.as_str())
        .execute(&mut tx)
        .await?;
        if held == 0 {
            tracing::warn!(delivery = %delivery.id, "a webhook lease expired before its attempt was recorded");
            return Ok(());
        }
        query(
            "INSERT INTO webhook_attempts \
             (delivery_id, attempt, attempted_at, status_code, error, duration_ms) \
             SELECT $1, attempts, $2, $3, $4, $5 FROM webhook_deliveries WHERE id = $1",
        )
        .bind(delivery.id.as_str())
        .bind(now)
        .bind(code)
        .bind(error.as_deref())
        .bind(duration_ms)
        .execute(&mut tx)
        .await?;
        self.update_endpoint(&mut tx, &delivery.endpoint_id, next, now)
            .await?;
        tx.commit().await
    }

    /// A success clears the endpoint's failure clock; a 410 disables it as `gone`; a
    /// failure starts the clock, and one running `disable_after_hours` disables it as
    /// `failing`.
    async fn update_endpoint(
        &self,
        tx: &mut crate::db::Tx,
        endpoint_id: &str,
        next: &Next,
        now: i64,
    ) -> Result<(), DbError> {
        match next {
            Next::Delivered => {
                query(
                    "UPDATE webhook_endpoints SET failing_since = NULL \
                     WHERE id = $1 AND failing_since IS NOT NULL",
                )
                .bind(endpoint_id)
                .execute(tx)
                .await?;
            }
            Next::Gone => {
                query(
                    "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'gone' \
                     WHERE id = $1",
                )
                .bind(endpoint_id)
                .execute(tx)
                .await?;
            }
            Next::Retry(_) | Next::Failed => {
                let hours = i64::from(self.config.disable_after_hours.0);
                query(
                    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) \
                     WHERE id = $2",
                )
                .bind(now)
                .bind(endpoint_id)
                .execute(&mut *tx)
                .await?;
                query(
                    "UPDATE webhook_endpoints SET status = 'disabled', \
                     disabled_reason = 'failing' \
                     WHERE id = $1 AND status = 'enabled' AND failing_since <= $2",
                )
                .bind(endpoint_id)
                .bind(now - hours * HOUR_MS)
                .execute(tx)
                .await?;
            }
        }
        Ok(())
    }

    /// Deletes finished deliveries older than `webhooks.retention_days`, their attempts,
    /// and events no delivery needs any more.
    async fn sweep(&self) {
        let cutoff = self.clock.now_millis() - i64::from(self.config.retention_days.0) * DAY_MS;
        let statements = [
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM \
             webhook_deliveries WHERE status <> 'pending' AND updated_at < $1)",
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1",
            "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
            "DELETE FROM event_once WHERE window_start < $1",
        ];
        for sql in statements {
            if let Err(err) = query(sql).bind(cutoff).execute(&self.db).await {
                tracing::warn!(error = %err, "cannot delete old webhook deliveries");
                return;
            }
        }
    }
}

/// The claim: one statement leasing up to `$4` due deliveries of enabled endpoints.
///
/// The outer conditions repeat the pick's: a row another process leased between the
/// pick and the update is left alone (Postgres re-checks them on the row's newest
/// version; SQLite runs the statement under its write lock). On Postgres the pick is a
/// materialised `WITH`, run once: as a subquery of the `UPDATE` Postgres ran it again
/// for each row the update scanned (a nested-loop semi-join), each run skipping other
/// rows while replicas committed, and one claim leased more than `$4`.
fn claim_sql(kind: DatabaseKind) -> String {
    const PICK: &str = "SELECT d.id FROM webhook_deliveries d \
        JOIN webhook_endpoints w ON w.id = d.endpoint_id \
        WHERE d.status = 'pending' AND d.next_attempt_at <= $3 \
        AND (d.lease_until IS NULL OR d.lease_until < $3) AND w.status = 'enabled' \
        ORDER BY d.next_attempt_at LIMIT $4";
    const LEASE: &str =
        "UPDATE webhook_deliveries SET lease_token = $1, lease_until = $2 WHERE id IN";
    const STILL_DUE: &str = "AND status = 'pending' AND (lease_until IS NULL OR lease_until < $3) \
        RETURNING id, endpoint_id, event_id, round_attempts";
    match kind {
        DatabaseKind::Postgres => format!(
            "WITH picked AS MATERIALIZED ({PICK} FOR UPDATE OF d SKIP LOCKED) \
             {LEASE} (SELECT id FROM picked) {STILL_DUE}"
        ),
        DatabaseKind::Sqlite => format!("{LEASE} ({PICK}) {STILL_DUE}"),
    }
}

/// An error and its causes on one line: reqwest's own message rarely says why.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{migrate, on_each_backend};

    const DUE: usize = 600;
    const ASK: usize = 4;

    /// One endpoint and `DUE` deliveries, due since the first milliseconds of 1970.
    async fn due_deliveries(db: &Db) {
        migrate::apply(db, "system", &[crate::events::MIGRATION])
            .await
            .expect("the webhook tables");
        let mut tx = db.begin().await.unwrap();
        query(
            "INSERT INTO webhook_endpoints (id, project_id, url, description, events, status, \
             secret, created_at) VALUES ('we_1', 'prj_1', 'https://example.com/hook', '', \
             '[]', 'enabled', 'whsec_x', 0)",
        )
        .execute(&mut tx)
        .await
        .unwrap();
        for i in 0..DUE {
            query(
                "INSERT INTO webhook_deliveries (id, project_id, endpoint_id, event_id, status, \
                 attempts, round_attempts, next_attempt_at, created_at, updated_at) \
                 VALUES ($1, 'prj_1', 'we_1', $2, 'pending', 0, 0, $3, 0, 0)",
            )
            .bind(format!("wd_{i:04}"))
            .bind(format!("evt_{i:04}"))
            .bind(i as i64)
            .execute(&mut tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }

    /// A process's deliverer, as [`Worker::start`] makes it, leasing as `lease_{n}`.
    fn replica(db: &Db, n: usize) -> Deliverer {
        let config = WebhooksConfig::default();
        Deliverer {
            client: client(&config).expect("the webhook client"),
            claim_sql: claim_sql(db.kind()),
            db: db.clone(),
            config,
            clock: Arc::new(crate::clock::SystemClock),
            token: format!("lease_{n}"),
        }
    }

    /// Claims `ASK` at a time until nothing is due; every claim's ids.
    async fn claim_until_none(replica: Deliverer) -> Vec<Vec<String>> {
        let mut claims = Vec::new();
        loop {
            let claimed = replica.claim(ASK).await.expect("a claim");
            if claimed.is_empty() {
                return claims;
            }
            claims.push(claimed.into_iter().map(|c| c.id).collect());
        }
    }

    on_each_backend! {
        /// Replicas claiming at once each lease at most what they asked for, and no
        /// delivery twice: on Postgres a pick that ran more than once inside one claim
        /// leased more, and the worker holding them stopped.
        async fn claims_at_once_lease_at_most_what_they_ask(db: TestDb) {
            let db = db.connect().await;
            due_deliveries(&db).await;
            let mut replicas = JoinSet::new();
            for n in 0..6 {
                replicas.spawn(claim_until_none(replica(&db, n)));
            }
            let mut leased = HashSet::new();
            while let Some(claims) = replicas.join_next().await {
                for ids in claims.expect("a replica's claims") {
                    assert!(ids.len() <= ASK, "one claim of {ASK} leased {}", ids.len());
                    for id in ids {
                        assert!(leased.insert(id.clone()), "{id} was leased twice");
                    }
                }
            }
            assert_eq!(leased.len(), DUE, "every due delivery was leased");
        }
    }
}

//! Events: what happened in a project, written to the database in the same transaction
//! as the change they announce (a transactional outbox), so there is never an event
//! without its data nor data without its event.
//!
//! [`publish`] writes the event and one pending delivery per enabled webhook endpoint of
//! the project that subscribes to its type; [`crate::webhooks`] delivers them. Plugins
//! publish their own `<plugin>.<event>` types through the same call, reached from their
//! [`crate::PluginContext`] as [`Events`].

pub mod limits;
pub mod schema;
mod types;

use serde::Serialize;

pub use types::{check_type, is_event_type, BUILT_IN_TYPES};

use crate::{
    auth::key,
    clock::SharedClock,
    db::{query, Db, DbError, Tx},
    migrate::Migration,
    webhooks::store as endpoints,
};

/// The outbox and the webhook tables, as core's migration.
pub const MIGRATION: Migration = Migration::portable(
    10,
    "events and webhooks",
    "CREATE TABLE events (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX events_created ON events (created_at);
    CREATE TABLE event_once (
        project_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        PRIMARY KEY (project_id, event_type, window_start)
    );
    CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        url TEXT NOT NULL,
        description TEXT NOT NULL,
        events TEXT NOT NULL,
        status TEXT NOT NULL,
        disabled_reason TEXT,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_until BIGINT,
        failing_since BIGINT,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id);
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        round_attempts BIGINT NOT NULL,
        next_attempt_at BIGINT,
        lease_token TEXT,
        lease_until BIGINT,
        last_status_code INTEGER,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
    CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
    CREATE TABLE webhook_attempts (
        delivery_id TEXT NOT NULL,
        attempt BIGINT NOT NULL,
        attempted_at BIGINT NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms BIGINT NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    );",
);

/// An event as receivers get it: the body of every delivery, byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `evt_…`, also the `webhook-id` header of every delivery of it.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub project_id: String,
    pub data: serde_json::Value,
}

/// Receivers are promised events under 20 KB; a bigger one is a bug in its publisher.
pub const MAX_PAYLOAD_BYTES: usize = 20 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("`{0}` is not an event type such as `metrics.imported` (`<plugin>.<event>`)")]
    Type(String),
    #[error("a `{event_type}` event of {bytes} bytes is over the 20 KB events are kept under")]
    TooBig { event_type: String, bytes: usize },
    #[error(transparent)]
    Database(#[from] DbError),
}

/// For callers whose errors are the database's: a publisher's mistake (a bad type, an
/// oversized event) becomes [`DbError::Invalid`].
impl From<EventError> for DbError {
    fn from(err: EventError) -> Self {
        match err {
            EventError::Database(err) => err,
            other => DbError::Invalid(other.to_string()),
        }
    }
}

/// Which of the project's endpoints get the event.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// Every enabled endpoint subscribed to the event's type.
    Subscribers,
    /// This endpoint alone, whatever it subscribes to (`webhook.test`).
    Endpoint(&'a str),
}

/// Writes the event and its deliveries in `tx`: they are committed, or rolled back, with
/// the change the event announces.
pub async fn publish(
    tx: &mut Tx,
    project_id: &str,
    event_type: &str,
    data: serde_json::Value,
    now: i64,
    audience: Audience<'_>,
) -> Result<Event, EventError> {
    if !is_event_type(event_type) {
        return Err(EventError::Type(event_type.to_owned()));
    }
    let event = Event {
        id: format!("evt_{}", key::time_ordered_id(24)),
        event_type: event_type.to_owned(),
        created_at: now,
        project_id: project_id.to_owned(),
        data,
    };
    let payload = serde_json::to_string(&event).expect("an event serializes");
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EventError::TooBig {
            event_type: event.event_type,
            bytes: payload.len(),
        });
    }
    query(
        "INSERT INTO events (id, project_id, event_type, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&event.id)
    .bind(project_id)
    .bind(event_type)
    .bind(payload.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let targets = match audience {
        Audience::Subscribers => endpoints::subscribers(tx, project_id, event_type).await?,
        Audience::Endpoint(id) => vec![id.to_owned()],
    };
    for endpoint_id in targets {
        endpoints::enqueue(tx, project_id, &endpoint_id, &event.id, now).await?;
    }
    Ok(event)
}

/// Publishes the event unless this project already had one of this type in the window
/// starting at `window_start`: once per window across every replica, since the row that
/// says so is unique in the database.
pub async fn publish_once_per_window(
    db: &Db,
    project_id: &str,
    event_type: &str,
    window_start: i64,
    data: serde_json::Value,
    now: i64,
) -> Result<Option<Event>, EventError> {
    let mut tx = db.begin().await?;
    let first = query(
        "INSERT INTO event_once (project_id, event_type, window_start) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(project_id)
    .bind(event_type)
    .bind(window_start)
    .execute(&mut tx)
    .await?;
    if first == 0 {
        return Ok(None);
    }
    let event = publish(
        &mut tx,
        project_id,
        event_type,
        data,
        now,
        Audience::Subscribers,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(event))
}

/// The handle plugins get from their context: publishing on the server's clock.
#[derive(Clone)]
pub struct Events {
    clock: SharedClock,
}

impl Events {
    pub fn new(clock: SharedClock) -> Events {
        Events { clock }
    }

    /// Publishes `<plugin>.<event>` to the project's subscribers, inside `tx`.
    pub async fn publish(
        &self,
        tx: &mut Tx,
        project_id: &str,
        event_type: &str,
        data: serde_json::Value,
    ) -> Result<Event, EventError> {
        let now = self.clock.now_millis();
        publish(tx, project_id, event_type, data, now, Audience::Subscribers).await
    }
}

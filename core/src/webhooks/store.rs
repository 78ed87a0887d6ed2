//! Webhook endpoints and their deliveries, every call scoped by project: an id of
//! another project reads as an id of nothing. The CLI and the console call these.

use serde::Serialize;

use super::{
    address::{self, AddressError},
    signing,
};
use crate::{
    auth::{key, store as projects},
    db::{placeholders, query, Db, DbError, Row, Tx},
    events::{self, check_type, Audience, EventError},
};

const HOUR_MS: i64 = 3_600_000;
/// Deliveries `deliveries` shows at most, newest first.
pub const DELIVERIES_SHOWN: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<EventError> for WebhookError {
    fn from(err: EventError) -> Self {
        match err {
            EventError::Database(err) => WebhookError::Database(err),
            other => WebhookError::Invalid(other.to_string()),
        }
    }
}

/// An endpoint as users see it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: String,
    pub project_id: String,
    pub url: String,
    pub description: String,
    /// Subscribed types; empty means every type.
    pub events: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: String,
    /// `gone` (the receiver answered 410), `failing`, or `manual`.
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_until: Option<i64>,
}

/// What `create` takes.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
}

/// What `update` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// What the checks of an endpoint need to know of the deployment.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub allow_private_targets: bool,
    /// The `<plugin>.<event>` types loaded plugins declare, which may be subscribed to.
    pub plugin_event_types: Vec<String>,
}

/// One delivery of an event to an endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub attempt_log: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub attempt: i64,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

const ENDPOINT_COLUMNS: &str =
    "id, project_id, url, description, events, status, disabled_reason, created_at, \
     previous_secret_until";

/// Creates an endpoint; the secret returned is the only time it is shown.
pub async fn create(
    db: &Db,
    project_id: &str,
    new: NewEndpoint,
    rules: &Rules,
    now: i64,
) -> Result<(Endpoint, String), WebhookError> {
    require_project(db, project_id).await?;
    let url = address::check_url(&new.url, rules.allow_private_targets).await?;
    let events = check_events(&new.events, rules)?;
    let description = check_description(&new.description)?;
    let secret = signing::new_secret();
    let endpoint = Endpoint {
        id: format!("whe_{}", key::random_id(20)),
        project_id: project_id.to_owned(),
        url: url.to_string(),
        description,
        events,
        status: "enabled".into(),
        disabled_reason: None,
        created_at: now,
        previous_secret_until: None,
    };
    query(
        "INSERT INTO webhook_endpoints \
         (id, project_id, url, description, events, status, secret, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'enabled', $6, $7)",
    )
    .bind(&endpoint.id)
    .bind(project_id)
    .bind(&endpoint.url)
    .bind(&endpoint.description)
    .bind(endpoint.events.join(","))
    .bind(secret.as_str())
    .bind(now)
    .execute(db)
    .await?;
    Ok((endpoint, secret))
}

pub async fn list(db: &Db, project_id: &str) -> Result<Vec<Endpoint>, WebhookError> {
    require_project(db, project_id).await?;
    Ok(query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE project_id = $1 \
         ORDER BY created_at, id"
    ))
    .bind(project_id)
    .fetch_all(db, endpoint_from_row)
    .await?)
}

/// The project's endpoint `id`; another project's reads as none.
pub async fn get(db: &Db, project_id: &str, id: &str) -> Result<Endpoint, WebhookError> {
    query(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND project_id = $2"
    ))
    .bind(id)
    .bind(project_id)
    .fetch_optional(db, endpoint_from_row)
    .await?
    .ok_or_else(|| not_found_endpoint(project_id, id))
}

pub async fn update(
    db: &Db,
    project_id: &str,
    id: &str,
    changes: EndpointChanges,
    rules: &Rules,
) -> Result<Endpoint, WebhookError> {
    let mut endpoint = get(db, project_id, id).await?;
    if let Some(url) = &changes.url {
        endpoint.url = address::check_url(url, rules.allow_private_targets)
            .await?
            .to_string();
    }
    if let Some(events) = &changes.events {
        endpoint.events = check_events(events, rules)?;
    }
    if let Some(description) = &changes.description {
        endpoint.description = check_description(description)?;
    }
    match changes.enabled {
        Some(true) => {
            endpoint.status = "enabled".into();
            endpoint.disabled_reason = None;
        }
        Some(false) => {
            endpoint.status = "disabled".into();
            endpoint.disabled_reason = Some("manual".into());
        }
        None => {}
    }
    // Enabling starts the failure clock again: the old failures are not this run's.
    query(
        "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, status = $4, \
         disabled_reason = $5, \
         failing_since = CASE WHEN $4 = 'enabled' THEN NULL ELSE failing_since END \
         WHERE id = $6 AND project_id = $7",
    )
    .bind(&endpoint.url)
    .bind(&endpoint.description)
    .bind(endpoint.events.join(","))
    .bind(&endpoint.status)
    .bind(endpoint.disabled_reason.as_deref())
    .bind(id)
    .bind(project_id)
    .execute(db)
    .await?;
    Ok(endpoint)
}

/// Deletes the endpoint and its deliveries.
pub async fn delete(db: &Db, project_id: &str, id: &str) -> Result<Endpoint, WebhookError> {
    let endpoint = get(db, project_id, id).await?;
    let mut tx = db.begin().await?;
    query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN \
         (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
    )
    .bind(id)
    .execute(&mut tx)
    .await?;
    query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut tx)
        .await?;
    query("DELETE FROM webhook_endpoints WHERE id = $1 AND project_id = $2")
        .bind(id)
        .bind(project_id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// A new secret; the old one keeps signing beside it for `overlap_hours`, so receivers
/// can switch without missing a delivery.
pub async fn rotate_secret(
    db: &Db,
    project_id: &str,
    id: &str,
    overlap_hours: u32,
    now: i64,
) -> Result<(Endpoint, String), WebhookError> {
    get(db, project_id, id).await?;
    let secret = signing::new_secret();
    let until = (overlap_hours > 0).then(|| now + i64::from(overlap_hours) * HOUR_MS);
    // Without an overlap the old secret stops signing at once.
    let previous = match until {
        Some(_) => "secret",
        None => "NULL",
    };
    query(format!(
        "UPDATE webhook_endpoints SET previous_secret = {previous}, \
         previous_secret_until = $1, secret = $2 WHERE id = $3 AND project_id = $4"
    ))
    .bind(until)
    .bind(secret.as_str())
    .bind(id)
    .bind(project_id)
    .execute(db)
    .await?;
    Ok((get(db, project_id, id).await?, secret))
}

/// Queues a `webhook.test` event for this endpoint alone.
pub async fn send_test(
    db: &Db,
    project_id: &str,
    id: &str,
    now: i64,
) -> Result<Delivery, WebhookError> {
    let endpoint = get(db, project_id, id).await?;
    let mut tx = db.begin().await?;
    let data = serde_json::json!({ "endpointId": endpoint.id, "url": endpoint.url });
    let event = events::publish(
        &mut tx,
        project_id,
        "webhook.test",
        data,
        now,
        Audience::Endpoint(id),
    )
    .await?;
    tx.commit().await?;
    let delivery_id = query("SELECT id FROM webhook_deliveries WHERE event_id = $1")
        .bind(&event.id)
        .fetch_one(db, |row| row.get::<String>("id"))
        .await?;
    delivery(db, project_id, &delivery_id).await
}

/// The endpoint's newest deliveries (at most [`DELIVERIES_SHOWN`]), optionally of one
/// status, each with its attempts.
pub async fn deliveries(
    db: &Db,
    project_id: &str,
    endpoint_id: &str,
    status: Option<&str>,
) -> Result<Vec<Delivery>, WebhookError> {
    get(db, project_id, endpoint_id).await?;
    if let Some(status) = status {
        check_status(status)?;
    }
    let of_status = match status {
        Some(_) => "AND d.status = $4",
        None => "",
    };
    let mut select = query(format!(
        "{DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND d.project_id = $2 {of_status} \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
    ))
    .bind(endpoint_id)
    .bind(project_id)
    .bind(DELIVERIES_SHOWN);
    if let Some(status) = status {
        select = select.bind(status);
    }
    let mut found = select.fetch_all(db, delivery_from_row).await?;
    attach_attempts(db, &mut found).await?;
    Ok(found)
}

/// One delivery of the project, with its attempts.
pub async fn delivery(db: &Db, project_id: &str, id: &str) -> Result<Delivery, WebhookError> {
    let mut found = query(format!(
        "{DELIVERY_SELECT} WHERE d.id = $1 AND d.project_id = $2"
    ))
    .bind(id)
    .bind(project_id)
    .fetch_all(db, delivery_from_row)
    .await?;
    if found.is_empty() {
        return Err(WebhookError::NotFound(format!(
            "delivery `{id}` in project `{project_id}`"
        )));
    }
    attach_attempts(db, &mut found).await?;
    Ok(found.remove(0))
}

/// Sends a delivery again, from the start of the retry schedule, with the same
/// `webhook-id` and body. A delivery still pending is left as it is.
pub async fn replay(
    db: &Db,
    project_id: &str,
    id: &str,
    now: i64,
) -> Result<Delivery, WebhookError> {
    let found = delivery(db, project_id, id).await?;
    if found.status == "pending" {
        return Err(WebhookError::Invalid(format!(
            "delivery `{id}` is still pending; replay a delivered or failed one"
        )));
    }
    query(
        "UPDATE webhook_deliveries SET status = 'pending', round_attempts = 0, \
         next_attempt_at = $1, lease_token = NULL, lease_until = NULL, updated_at = $1 \
         WHERE id = $2 AND project_id = $3",
    )
    .bind(now)
    .bind(id)
    .bind(project_id)
    .execute(db)
    .await?;
    delivery(db, project_id, id).await
}

/// The enabled endpoints of the project that subscribe to `event_type`.
pub(crate) async fn subscribers(
    tx: &mut Tx,
    project_id: &str,
    event_type: &str,
) -> Result<Vec<String>, DbError> {
    let rows = query(
        "SELECT id, events FROM webhook_endpoints WHERE project_id = $1 AND status = 'enabled'",
    )
    .bind(project_id)
    .fetch_all(tx, |row| {
        Ok((row.get::<String>("id")?, row.get::<String>("events")?))
    })
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, events)| events.is_empty() || events.split(',').any(|e| e == event_type))
        .map(|(id, _)| id)
        .collect())
}

/// A pending delivery of the event to the endpoint, due now.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    project_id: &str,
    endpoint_id: &str,
    event_id: &str,
    now: i64,
) -> Result<(), DbError> {
    query(
        "INSERT INTO webhook_deliveries (id, project_id, endpoint_id, event_id, status, \
         attempts, round_attempts, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $5, $5)",
    )
    .bind(format!("whd_{}", key::time_ordered_id(24)))
    .bind(project_id)
    .bind(endpoint_id)
    .bind(event_id)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

const DELIVERY_SELECT: &str =
    "SELECT d.id, d.endpoint_id, d.event_id, e.event_type, d.status, d.attempts, \
     d.next_attempt_at, d.last_status_code, d.last_error, d.created_at \
     FROM webhook_deliveries d JOIN events e ON e.id = d.event_id";

async fn attach_attempts(db: &Db, deliveries: &mut [Delivery]) -> Result<(), DbError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    let attempts = query(format!(
        "SELECT delivery_id, attempt, attempted_at, status_code, error, duration_ms \
         FROM webhook_attempts WHERE delivery_id IN ({}) ORDER BY attempt",
        placeholders(1, ids.len())
    ))
    .bind_all(ids)
    .fetch_all(db, |row| {
        Ok((
            row.get::<String>("delivery_id")?,
            Attempt {
                attempt: row.get("attempt")?,
                attempted_at: row.get("attempted_at")?,
                status_code: row.get("status_code")?,
                error: row.get("error")?,
                duration_ms: row.get("duration_ms")?,
            },
        ))
    })
    .await?;
    for (delivery_id, attempt) in attempts {
        if let Some(d) = deliveries.iter_mut().find(|d| d.id == delivery_id) {
            d.attempt_log.push(attempt);
        }
    }
    Ok(())
}

async fn require_project(db: &Db, project_id: &str) -> Result<(), WebhookError> {
    match projects::get_project(db, project_id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(WebhookError::NotFound(format!("project `{project_id}`"))),
        Err(projects::StoreError::Database(err)) => Err(err.into()),
        Err(other) => Err(WebhookError::Invalid(other.to_string())),
    }
}

fn not_found_endpoint(project_id: &str, id: &str) -> WebhookError {
    WebhookError::NotFound(format!("webhook endpoint `{id}` in project `{project_id}`"))
}

/// The subscribed types, trimmed and deduplicated; an unknown type is refused.
pub fn check_events(events: &[String], rules: &Rules) -> Result<Vec<String>, WebhookError> {
    let mut checked: Vec<String> = Vec::new();
    for name in events.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        check_type(name, &rules.plugin_event_types).map_err(WebhookError::Invalid)?;
        if !checked.iter().any(|c| c == name) {
            checked.push(name.to_owned());
        }
    }
    Ok(checked)
}

/// The description, trimmed; at most 500 characters.
pub fn check_description(description: &str) -> Result<String, WebhookError> {
    let description = description.trim();
    match description.chars().count() <= 500 {
        true => Ok(description.to_owned()),
        false => Err(WebhookError::Invalid(
            "a description is at most 500 characters".into(),
        )),
    }
}

fn check_status(status: &str) -> Result<(), WebhookError> {
    match status {
        "pending" | "delivered" | "failed" => Ok(()),
        other => Err(WebhookError::Invalid(format!(
            "`{other}` is not a delivery status (pending, delivered, failed)"
        ))),
    }
}

fn endpoint_from_row(row: &Row<'_>) -> Result<Endpoint, DbError> {
    let events: String = row.get("events")?;
    Ok(Endpoint {
        id: row.get("id")?,
        project_id: row.get("project_id")?,
        url: row.get("url")?,
        description: row.get("description")?,
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        status: row.get("status")?,
        disabled_reason: row.get("disabled_reason")?,
        created_at: row.get("created_at")?,
        previous_secret_until: row.get("previous_secret_until")?,
    })
}

fn delivery_from_row(row: &Row<'_>) -> Result<Delivery, DbError> {
    Ok(Delivery {
        id: row.get("id")?,
        endpoint_id: row.get("endpoint_id")?,
        event_id: row.get("event_id")?,
        event_type: row.get("event_type")?,
        status: row.get("status")?,
        attempts: row.get("attempts")?,
        next_attempt_at: row.get("next_attempt_at")?,
        last_status_code: row.get("last_status_code")?,
        last_error: row.get("last_error")?,
        created_at: row.get("created_at")?,
        attempt_log: Vec::new(),
    })
}

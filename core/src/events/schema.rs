//! The event payloads as OpenAPI schemas, published in core's part of the contract
//! (`components.schemas`) so that client generators give integrators their types.
//! OpenAPI 3.0 has no `webhooks` section; the end-to-end tests check real deliveries
//! against these schemas.

use serde_json::{json, Value};

/// `(schema name, event type, data schema name)` of each built-in event.
const EVENTS: [(&str, &str, &str); 6] = [
    (
        "MetricsImportedEvent",
        "metrics.imported",
        "MetricsImportedData",
    ),
    ("ApiKeyCreatedEvent", "api_key.created", "ApiKeyEventData"),
    ("ApiKeyRevokedEvent", "api_key.revoked", "ApiKeyEventData"),
    (
        "RateLimitWarningEvent",
        "rate_limit.warning",
        "RateLimitEventData",
    ),
    (
        "RateLimitExceededEvent",
        "rate_limit.exceeded",
        "RateLimitEventData",
    ),
    ("WebhookTestEvent", "webhook.test", "WebhookTestData"),
];

/// Every event schema, by name, to add to `components.schemas`.
pub fn schemas() -> serde_json::Map<String, Value> {
    let mut schemas = serde_json::Map::new();
    for (name, event_type, data) in EVENTS {
        schemas.insert(name.into(), event(event_type, data));
    }
    schemas.insert("MetricsImportedData".into(), metrics_imported());
    schemas.insert("ApiKeyEventData".into(), api_key());
    schemas.insert("RateLimitEventData".into(), rate_limit());
    schemas.insert("WebhookTestData".into(), webhook_test());
    schemas.insert("WebhookEvent".into(), any_event());
    schemas
}

fn any_event() -> Value {
    let refs: Vec<Value> = EVENTS
        .iter()
        .map(|(name, ..)| json!({"$ref": format!("#/components/schemas/{name}")}))
        .collect();
    let mapping: serde_json::Map<String, Value> = EVENTS
        .iter()
        .map(|(name, event_type, _)| {
            (
                (*event_type).into(),
                json!(format!("#/components/schemas/{name}")),
            )
        })
        .collect();
    json!({
        "description": "The body of a webhook delivery: one event, POSTed as JSON and signed \
            as Standard Webhooks (`webhook-id` is the event's `id`). See docs/webhooks.md.",
        "oneOf": refs,
        "discriminator": {"propertyName": "type", "mapping": mapping},
    })
}

fn event(event_type: &str, data: &str) -> Value {
    json!({
        "type": "object",
        "description": format!("The `{event_type}` event."),
        "required": ["id", "type", "createdAt", "projectId", "data"],
        "properties": {
            "id": {"type": "string", "description": "`evt_…`; the `webhook-id` header of every delivery of it.", "example": "evt_0Pq3xYz9aBcDeFgHiJkLmNoP"},
            "type": {"type": "string", "enum": [event_type]},
            "createdAt": {"type": "integer", "format": "int64", "description": "Milliseconds since the Unix epoch."},
            "projectId": {"type": "string"},
            "data": {"$ref": format!("#/components/schemas/{data}")},
        },
    })
}

fn metrics_imported() -> Value {
    json!({
        "type": "object",
        "description": "Points an import committed, in the same transaction as this event.",
        "required": ["metricIds", "metricIdsTruncated", "points", "firstTimestamp", "lastTimestamp"],
        "properties": {
            "metricIds": {"type": "array", "items": {"type": "string"}, "maxItems": 100, "description": "The metrics of the points (at most 100)."},
            "metricIdsTruncated": {"type": "boolean", "description": "True when the batch held more metrics than `metricIds` names."},
            "points": {"type": "integer", "format": "int64", "minimum": 1},
            "firstTimestamp": {"type": "integer", "format": "int64", "description": "Milliseconds since the Unix epoch."},
            "lastTimestamp": {"type": "integer", "format": "int64", "description": "Milliseconds since the Unix epoch."},
        },
    })
}

fn api_key() -> Value {
    json!({
        "type": "object",
        "description": "The key's id and name; never the key.",
        "required": ["keyId", "name"],
        "properties": {
            "keyId": {"type": "string"},
            "name": {"type": "string"},
        },
    })
}

fn rate_limit() -> Value {
    json!({
        "type": "object",
        "description": "The project's hourly window when it passed 80% used (`warning`) or first refused a request (`exceeded`).",
        "required": ["limit", "used", "reset"],
        "properties": {
            "limit": {"type": "integer", "format": "int64"},
            "used": {"type": "integer", "format": "int64"},
            "reset": {"type": "integer", "format": "int64", "description": "When the window ends, in Unix seconds."},
        },
    })
}

fn webhook_test() -> Value {
    json!({
        "type": "object",
        "required": ["endpointId", "url"],
        "properties": {
            "endpointId": {"type": "string"},
            "url": {"type": "string"},
        },
    })
}

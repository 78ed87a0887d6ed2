//! Core's own operations, mounted like any plugin: health, the caller's rate limit, the
//! usage history (`usage::api`) and the API document (and core's tables, as its
//! migrations).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, OnceLock, Weak,
    },
    time::{Duration, Instant},
};

use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};

use crate::{
    db::Db,
    json::{Json, Rendered},
    plugin::{Mounted, Plugin, PluginContext, PluginError},
    poem_seams::swagger_ui,
    ratelimit::Usage,
    spec::ApiDocument,
};

/// The plugin name of core's operations and tables.
pub const NAME: &str = "core";

/// The merged document, filled in by the registry once every plugin is mounted.
#[derive(Clone, Default)]
pub struct DocumentSlot(Arc<OnceLock<RenderedDocument>>);

struct RenderedDocument {
    json: serde_json::Value,
    yaml: String,
}

impl DocumentSlot {
    pub fn fill(&self, document: &ApiDocument) {
        let _ = self.0.set(RenderedDocument {
            json: document.value().clone(),
            yaml: document.to_yaml(),
        });
    }

    fn get(&self) -> &RenderedDocument {
        self.0
            .get()
            .expect("the registry fills the document before serving")
    }
}

pub struct SystemPlugin {
    document: DocumentSlot,
}

impl SystemPlugin {
    pub fn new(document: DocumentSlot) -> Self {
        SystemPlugin { document }
    }
}

impl Plugin for SystemPlugin {
    fn name(&self) -> &str {
        NAME
    }

    /// Core's own tables: projects and API keys, the `database` limiter's counters, and
    /// the auth notices of SQLite deployments, the usage history, console sessions, and
    /// the events outbox with the webhook tables.
    fn migrations(&self) -> Vec<crate::migrate::Migration> {
        let mut migrations = crate::auth::store::MIGRATIONS.to_vec();
        migrations.push(crate::ratelimit::store::MIGRATION);
        migrations.push(crate::auth::notices::MIGRATION);
        migrations.push(crate::usage::store::MIGRATION);
        migrations.push(crate::auth::sessions::MIGRATION);
        migrations.push(crate::events::MIGRATION);
        migrations
    }

    fn mount(&self, cx: &PluginContext) -> Result<Mounted, PluginError> {
        let rendered = |state| {
            Rendered::new(&health(state))
                .map_err(|e| PluginError::new(format!("cannot write the health body: {e}")))
        };
        let api = SystemApi {
            database: cx.services().database.clone(),
            document: self.document.clone(),
            healthy: rendered(HealthState::Ok)?,
            unhealthy: rendered(HealthState::Unavailable)?,
        };
        let usage = crate::usage::api::UsageApi {
            db: cx.db().clone(),
            clock: cx.clock().clone(),
        };
        let mut mounted = Mounted::from_api((api, usage))?
            .public(&["getHealth", "getOpenApiJson", "getOpenApiYaml"])
            .uncounted(&["getRateLimit", "getUsage"]);
        // The webhook events are in the contract though no operation returns them.
        let schemas = &mut mounted.spec["components"]["schemas"];
        if !schemas.is_object() {
            *schemas = serde_json::json!({});
        }
        if let Some(schemas) = schemas.as_object_mut() {
            schemas.extend(crate::events::schema::schemas());
        }
        Ok(mounted)
    }
}

#[derive(Tags)]
enum SystemTag {
    /// Service status and the API's own description.
    #[oai(rename = "system")]
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename = "HealthState", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum HealthState {
    Ok,
    Unavailable,
}

/// Each dependency's state.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "HealthChecks")]
struct HealthChecks {
    database: HealthState,
}

/// The service's state.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "Health")]
struct Health {
    /// `ok` when every check is `ok`.
    status: HealthState,
    /// The server's version.
    version: String,
    checks: HealthChecks,
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// Every dependency answers.
    #[oai(status = 200)]
    Ok(Rendered<Health>, #[oai(header = "Cache-Control")] String),
    /// A dependency does not answer; `checks` says which.
    #[oai(status = 503)]
    Unavailable(Rendered<Health>, #[oai(header = "Cache-Control")] String),
}

/// The caller's project's current window.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "RateLimitWindow")]
struct RateLimitWindow {
    /// Requests allowed per hour.
    limit: u64,
    /// Requests left in this window.
    remaining: u64,
    /// Requests counted in this window.
    used: u64,
    /// When the window resets, in Unix seconds.
    reset: i64,
}

/// `{"data": <window>}`
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "RateLimitResponse")]
struct RateLimitResponse {
    data: RateLimitWindow,
}

/// The document as YAML, under the media type the request's `Accept` asks for.
///
/// Both are declared: `application/yaml` (the registered type, the default) and
/// `text/yaml`, which clients that only read JSON and text (openapi-python-client) can
/// take as a string; without it they leave the operation out.
struct YamlDocument {
    yaml: String,
    content_type: &'static str,
}

const APPLICATION_YAML: &str = "application/yaml";
const TEXT_YAML: &str = "text/yaml; charset=utf-8";

impl YamlDocument {
    /// `text/yaml` when `Accept` names it and not `application/yaml`; otherwise
    /// `application/yaml`, as before there was a choice.
    fn negotiate(yaml: String, accept: Option<&str>) -> YamlDocument {
        let accept = accept.unwrap_or_default().to_ascii_lowercase();
        let content_type = match accept.contains("text/yaml") && !accept.contains(APPLICATION_YAML)
        {
            true => TEXT_YAML,
            false => APPLICATION_YAML,
        };
        YamlDocument { yaml, content_type }
    }
}

impl poem_openapi::ApiResponse for YamlDocument {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaSchema, MetaSchemaRef};
        // `application/yaml` is documented as the document it holds (any value), since a
        // client reading it parses it; `text/yaml` as the text it is.
        let any = MetaSchemaRef::Inline(Box::new(MetaSchema::ANY));
        let text = MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")));
        poem_openapi::registry::MetaResponses {
            responses: vec![MetaResponse {
                description: "The OpenAPI document as YAML.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: APPLICATION_YAML,
                        schema: any,
                    },
                    MetaMediaType {
                        content_type: TEXT_YAML,
                        schema: text,
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(_: &mut poem_openapi::registry::Registry) {}
}

impl poem::IntoResponse for YamlDocument {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(self.content_type)
            .body(self.yaml)
    }
}

struct SystemApi {
    database: Arc<DatabaseStatus>,
    document: DocumentSlot,
    /// Health's two bodies, written once: they change only with the database's state.
    healthy: Rendered<Health>,
    unhealthy: Rendered<Health>,
}

/// How often the server checks its database for `/health`.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// A check's result is the database's state for this long: past it with no newer
/// success, health answers 503, whether the check that is due failed or still waits.
const STATUS_FRESH_FOR: Duration = Duration::from_secs(1);

/// The database's state as `/health` and the admin listener's `/readyz` report it, kept
/// current by a check the server runs itself every [`CHECK_EVERY`], not by the requests:
/// a health check under load costs no query, and a database that stops answering shows
/// as 503 within [`STATUS_FRESH_FOR`] of its last answer, a returning one as 200 within a
/// check.
pub struct DatabaseStatus {
    db: Db,
    /// When the status was created: the origin of `ok_until_ms`.
    epoch: Instant,
    /// Milliseconds after `epoch` until which the last successful check vouches; 0 for
    /// never, or since a check failed.
    ok_until_ms: AtomicU64,
    /// Set once the first check has run and the checks are under way.
    started: tokio::sync::OnceCell<()>,
}

impl DatabaseStatus {
    pub(crate) fn new(db: Db) -> Arc<DatabaseStatus> {
        Arc::new(DatabaseStatus {
            db,
            epoch: Instant::now(),
            ok_until_ms: AtomicU64::new(0),
            started: tokio::sync::OnceCell::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn is_fresh_ok(&self) -> bool {
        self.now_ms() < self.ok_until_ms.load(Ordering::Acquire)
    }

    /// Whether the database answers: the current status, once the checks run; the first
    /// request checks before answering and starts them.
    pub async fn is_ok(self: &Arc<Self>) -> bool {
        self.started
            .get_or_init(|| async {
                self.check().await;
                tokio::spawn(keep_checking(Arc::downgrade(self)));
            })
            .await;
        self.is_fresh_ok()
    }

    async fn check(&self) -> bool {
        let started = self.now_ms();
        match self.db.check(STATUS_FRESH_FOR).await {
            Ok(()) => {
                let fresh = STATUS_FRESH_FOR.as_millis() as u64;
                self.ok_until_ms.store(started + fresh, Ordering::Release);
                true
            }
            Err(err) => {
                self.ok_until_ms.store(0, Ordering::Release);
                tracing::warn!(error = %err, "health check: database unavailable");
                false
            }
        }
    }
}

/// The checks behind [`DatabaseStatus`], until the server that owns it is gone.
async fn keep_checking(status: Weak<DatabaseStatus>) {
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let Some(status) = status.upgrade() else {
            return;
        };
        status.check().await;
    }
}

#[OpenApi(tag = "SystemTag::System")]
impl SystemApi {
    /// Check API status
    ///
    /// Answers without an API key and does not count against any rate limit. 503 when the
    /// database cannot be reached; it recovers by itself when the database is back.
    #[oai(path = "/health", method = "get", operation_id = "getHealth")]
    async fn health(&self) -> HealthResponse {
        let no_store = "no-store".to_owned();
        if self.database.is_ok().await {
            HealthResponse::Ok(self.healthy.clone(), no_store)
        } else {
            HealthResponse::Unavailable(self.unhealthy.clone(), no_store)
        }
    }

    /// Get rate limit status
    ///
    /// The caller's project's budget in the current hourly window. Reading it does not
    /// count against it. Any valid key may read it.
    #[oai(path = "/rate_limit", method = "get", operation_id = "getRateLimit")]
    async fn rate_limit(&self, usage: Data<&Usage>) -> Json<RateLimitResponse> {
        Json(RateLimitResponse {
            data: RateLimitWindow {
                limit: usage.limit,
                remaining: usage.remaining,
                used: usage.used,
                reset: usage.reset_at_secs,
            },
        })
    }

    /// The OpenAPI document (JSON)
    ///
    /// The document this server serves: the built-in operations and any dynamic plugins'.
    #[oai(
        path = "/openapi.json",
        method = "get",
        operation_id = "getOpenApiJson"
    )]
    async fn openapi_json(&self) -> Json<serde_json::Value> {
        Json(self.document.get().json.clone())
    }

    /// The OpenAPI document (YAML)
    ///
    /// The same document as `/api/v1/openapi.json`, as YAML; for the built-in plugins it
    /// is the repository's `openapi.yaml`. Sent as `application/yaml`, or as `text/yaml`
    /// when `Accept` asks for that and not `application/yaml`.
    #[oai(
        path = "/openapi.yaml",
        method = "get",
        operation_id = "getOpenApiYaml"
    )]
    async fn openapi_yaml(&self, req: &poem::Request) -> YamlDocument {
        let accept = req.header(poem::http::header::ACCEPT);
        YamlDocument::negotiate(self.document.get().yaml.clone(), accept)
    }
}

fn health(database: HealthState) -> Health {
    Health {
        status: database,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        checks: HealthChecks { database },
    }
}

/// The `/docs` page: Swagger UI with the document inlined, so it works with no internet.
pub fn docs_html(document: &ApiDocument) -> String {
    let merged = serde_json::to_string(document.value()).expect("document serializes");
    // "Try it out" calls the document's first `servers` entry, the default bind; the page
    // is served by the very server to call, so it points there instead, whatever address
    // or proxy it came through. The served document itself keeps its `servers`.
    let this_server = "spec.servers = [{url: window.location.origin, description: \"This server (the page's own address)\"}];";
    swagger_ui::page(&merged, this_server, "Dashtray API reference")
}

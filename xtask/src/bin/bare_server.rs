//! The baseline for `cargo xtask bench`: a minimal poem app that runs the same SQL as
//! Dashtray's health check and metrics list, with nothing else around it (no auth, no
//! rate limiter, no poem-openapi, no middleware), so the difference to the full server
//! is what the framework adds per request.
//!
//! `bare_server DATABASE_URL BIND_ADDR`; `/metrics` takes the project as `project=`
//! because there is no key to find it from. Prints `listening <addr>` once bound.

use std::{collections::HashMap, sync::OnceLock, time::Duration};

use dashtray_core::{
    config::{DatabaseConfig, DatabaseUrl},
    Db,
};
use dashtray_metrics::points::{self, Filter};
use poem::{
    get, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Json, Query},
    IntoResponse, Response, Route, Server,
};
use serde_json::json;

/// A static rather than `.data()`: `.data()` wraps the routes in an endpoint layer, and
/// the baseline is meant to have none.
static DB: OnceLock<Db> = OnceLock::new();

fn db() -> &'static Db {
    DB.get().expect("set before serving")
}

/// The same query and timeout as core's health check (`Db::check`).
#[handler]
async fn health() -> Response {
    match db().check(Duration::from_secs(2)).await {
        Ok(()) => Json(json!({"status": "ok", "checks": {"database": "ok"}})).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// The same page + count SQL as the metrics plugin, via `points::page` itself.
#[handler]
async fn metrics(Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(project) = query.get("project") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let limit: u32 = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let offset: u64 = query
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let filter = match Filter::parse(
        query.get("metric_id").map(String::as_str),
        query.get("start_date").map(String::as_str),
        query.get("end_date").map(String::as_str),
    ) {
        Ok(filter) => filter,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    match points::page(db(), project, &filter, limit, offset).await {
        Ok((rows, total)) => {
            let data: Vec<_> = rows
                .into_iter()
                .map(|p| {
                    json!({
                        "id": p.id,
                        "metricId": p.metric_id,
                        "integrationId": p.integration_id,
                        "value": p.value,
                        "timestamp": p.timestamp,
                    })
                })
                .collect();
            Json(json!({
                "data": data,
                "pagination": {
                    "limit": limit,
                    "offset": offset,
                    "total": total,
                    "hasMore": offset + u64::from(limit) < total,
                },
            }))
            .into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, bind] = args.as_slice() else {
        anyhow::bail!("usage: bare_server DATABASE_URL BIND_ADDR");
    };
    // The same pool settings as Dashtray's defaults, so only the HTTP layer differs.
    let config = DatabaseConfig {
        url: DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?,
        max_connections: 10,
        acquire_timeout_ms: 3000,
    };
    // The same runtime flavour as `dashtray serve`: multi-threaded, a worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let db = Db::connect(&config).await?;
        DB.set(db).expect("set once");
        let app = Route::new()
            .at("/health", get(health))
            .at("/metrics", get(metrics));
        let acceptor = TcpListener::bind(bind.as_str()).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied());
        println!(
            "listening {}",
            addr.map(|a| a.to_string()).unwrap_or_default()
        );
        Server::new_with_acceptor(acceptor).run(app).await?;
        Ok(())
    })
}

//! The yardsticks of `cargo xtask bench`: the lowest-cost way to answer what a scenario
//! asks, so that the full server's cost per request is measured against its floor and
//! not against a baseline that shares its costs.
//!
//! - `/static`: a fixed small JSON body (the floor of `health`);
//! - `/floor/metrics?project=&limit=&offset=[&metric_id=&start=&end=]`: a page of points
//!   and its total, through the database's own client (rusqlite, or tokio-postgres
//!   with statements prepared once on connections that pipeline), rows written straight
//!   into the body's bytes; the total counted only when the page does not show it, as
//!   the server does;
//! - `/floor/timeseries?project=&metric_id=&start=&end=`: a day-by-day sum, the same SQL
//!   as the server's, with every bucket of the range listed.
//!
//! No auth, rate limiter, spec layer or middleware. `yardsticks DATABASE_URL BIND_ADDR`;
//! dates are milliseconds since 1970. Prints `listening <addr>` once bound.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        OnceLock,
    },
};

use dashtray_core::config::DatabaseKind;
use dashtray_metrics::timeseries::{self, Aggregate, Interval};
use poem::{
    get, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::Query,
    IntoResponse, Response, Route, Server,
};

type Params = Query<HashMap<String, String>>;

/// The server's own allocator, so that the floor pays no more for memory than it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The database, as each floor reaches it.
enum Floor {
    /// The file: each worker thread opens its own connection on first use.
    Sqlite(String),
    /// Connections shared by all requests (tokio-postgres pipelines them), with each
    /// statement prepared once.
    Postgres(Vec<PgClient>),
}

struct PgClient {
    client: tokio_postgres::Client,
    statements: HashMap<Statement, tokio_postgres::Statement>,
}

/// The statements the floors run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Statement {
    PageFiltered,
    CountFiltered,
    PageAll,
    CountAll,
    DaySums,
}

impl Statement {
    const ALL: [Statement; 5] = [
        Statement::PageFiltered,
        Statement::CountFiltered,
        Statement::PageAll,
        Statement::CountAll,
        Statement::DaySums,
    ];

    /// The server's own SQL for these requests (`points.rs`, `timeseries.rs`).
    fn sql(self, kind: DatabaseKind) -> String {
        const POINTS: &str =
            "SELECT id, metric_id, integration_id, value, ts FROM metric_points WHERE project_id = $1";
        const FILTER: &str = " AND metric_id IN ($2) AND ts >= $3 AND ts <= $4";
        match self {
            Statement::PageFiltered => {
                format!("{POINTS}{FILTER} ORDER BY ts, id LIMIT $5 OFFSET $6")
            }
            Statement::CountFiltered => {
                format!("SELECT COUNT(*) AS n FROM metric_points WHERE project_id = $1{FILTER}")
            }
            Statement::PageAll => format!("{POINTS} ORDER BY ts, id LIMIT $2 OFFSET $3"),
            Statement::CountAll => {
                "SELECT COUNT(*) AS n FROM metric_points WHERE project_id = $1".to_owned()
            }
            Statement::DaySums => timeseries::sql(kind, Interval::Day, Aggregate::Sum),
        }
    }
}

static FLOOR: OnceLock<Floor> = OnceLock::new();
static NEXT_CLIENT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SQLITE: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

/// `$1` as `?1`, which SQLite numbers as written.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn with_sqlite<T>(
    path: &str,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    SQLITE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let conn = rusqlite::Connection::open(path)?;
            // The server's own settings, so that both meet the same page cache.
            conn.execute_batch("PRAGMA cache_size = -4096; PRAGMA mmap_size = 0;")?;
            // One plan per statement, not one per bound LIMIT (the server does the same).
            conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )?;
            *slot = Some(conn);
        }
        f(slot.as_ref().expect("opened above"))
    })
}

fn pg_client(clients: &[PgClient]) -> &PgClient {
    &clients[NEXT_CLIENT.fetch_add(1, Ordering::Relaxed) % clients.len()]
}

#[handler]
fn fixed() -> Response {
    json(br#"{"status":"ok","version":"1.0.0","checks":{"database":"ok"}}"#.to_vec())
}

fn json(body: Vec<u8>) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(body)
}

/// What a page request asks for.
struct PageAsk {
    project: String,
    /// The metric and the range, or the whole list.
    filter: Option<(String, i64, i64)>,
    limit: i64,
    offset: i64,
}

fn page_ask(params: &HashMap<String, String>) -> Option<PageAsk> {
    let number = |name: &str, default: i64| match params.get(name) {
        Some(text) => text.parse().ok(),
        None => Some(default),
    };
    let filter = match params.get("metric_id") {
        Some(metric) => Some((
            metric.clone(),
            number("start", 0)?,
            number("end", i64::MAX)?,
        )),
        None => None,
    };
    Some(PageAsk {
        project: params.get("project")?.clone(),
        filter,
        limit: number("limit", 100)?,
        offset: number("offset", 0)?,
    })
}

/// Writes one point as the server's JSON writes it.
#[allow(clippy::too_many_arguments)]
fn write_point(
    out: &mut Vec<u8>,
    id: &str,
    metric: &str,
    integration: Option<&str>,
    value: f64,
    ts: i64,
) {
    out.extend_from_slice(br#"{"id":"#);
    serde_json::to_writer(&mut *out, id).expect("writes to a Vec");
    out.extend_from_slice(br#","metricId":"#);
    serde_json::to_writer(&mut *out, metric).expect("writes to a Vec");
    out.extend_from_slice(br#","integrationId":"#);
    serde_json::to_writer(&mut *out, &integration).expect("writes to a Vec");
    out.extend_from_slice(br#","value":"#);
    serde_json::to_writer(&mut *out, &value).expect("writes to a Vec");
    out.extend_from_slice(br#","timestamp":"#);
    out.extend_from_slice(ts.to_string().as_bytes());
    out.push(b'}');
}

fn write_pagination(out: &mut Vec<u8>, ask: &PageAsk, total: i64) {
    let has_more = ask.offset + ask.limit < total;
    out.extend_from_slice(
        format!(
            r#"],"pagination":{{"limit":{},"offset":{},"total":{total},"hasMore":{has_more}}}}}"#,
            ask.limit, ask.offset
        )
        .as_bytes(),
    );
}

/// The total when the page shows it (as the server's `listing::total_from_page`).
fn total_from(ask: &PageAsk, rows: usize) -> Option<i64> {
    let rows = rows as i64;
    (rows < ask.limit && (rows > 0 || ask.offset == 0)).then_some(ask.offset + rows)
}

#[handler]
async fn metrics(Query(params): Params) -> Response {
    let Some(ask) = page_ask(&params) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let body = match FLOOR.get().expect("set before serving") {
        Floor::Sqlite(path) => with_sqlite(path, |conn| sqlite_page(conn, &ask)).ok(),
        Floor::Postgres(clients) => postgres_page(pg_client(clients), &ask).await.ok(),
    };
    match body {
        Some(body) => json(body),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn sqlite_page(conn: &rusqlite::Connection, ask: &PageAsk) -> rusqlite::Result<Vec<u8>> {
    let (page, count) = match ask.filter {
        Some(_) => (Statement::PageFiltered, Statement::CountFiltered),
        None => (Statement::PageAll, Statement::CountAll),
    };
    let bind = |statement: &mut rusqlite::CachedStatement<'_>| -> rusqlite::Result<usize> {
        statement.raw_bind_parameter(1, &ask.project)?;
        Ok(match &ask.filter {
            Some((metric, start, end)) => {
                statement.raw_bind_parameter(2, metric)?;
                statement.raw_bind_parameter(3, start)?;
                statement.raw_bind_parameter(4, end)?;
                5
            }
            None => 2,
        })
    };
    let mut out = Vec::with_capacity(16 * 1024);
    out.extend_from_slice(br#"{"data":["#);
    let mut rows = 0;
    {
        let mut statement = conn.prepare_cached(&sqlite_sql(&page.sql(DatabaseKind::Sqlite)))?;
        let next = bind(&mut statement)?;
        statement.raw_bind_parameter(next, ask.limit)?;
        statement.raw_bind_parameter(next + 1, ask.offset)?;
        let mut found = statement.raw_query();
        while let Some(row) = found.next()? {
            if rows > 0 {
                out.push(b',');
            }
            let text = |i| row.get_ref(i).and_then(|v| Ok(v.as_str()?));
            let integration = row.get_ref(2)?.as_str_or_null()?;
            write_point(
                &mut out,
                text(0)?,
                text(1)?,
                integration,
                row.get(3)?,
                row.get(4)?,
            );
            rows += 1;
        }
    }
    let total = match total_from(ask, rows) {
        Some(total) => total,
        None => {
            let mut statement =
                conn.prepare_cached(&sqlite_sql(&count.sql(DatabaseKind::Sqlite)))?;
            bind(&mut statement)?;
            let mut found = statement.raw_query();
            found.next()?.map_or(Ok(0), |row| row.get(0))?
        }
    };
    write_pagination(&mut out, ask, total);
    Ok(out)
}

async fn postgres_page(client: &PgClient, ask: &PageAsk) -> Result<Vec<u8>, tokio_postgres::Error> {
    use tokio_postgres::types::ToSql;
    let (page, count) = match ask.filter {
        Some(_) => (Statement::PageFiltered, Statement::CountFiltered),
        None => (Statement::PageAll, Statement::CountAll),
    };
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ask.project];
    if let Some((metric, start, end)) = &ask.filter {
        params.extend([metric as &(dyn ToSql + Sync), start, end]);
    }
    let filter_params = params.len();
    params.extend([&ask.limit as &(dyn ToSql + Sync), &ask.offset]);
    let found = client
        .client
        .query(&client.statements[&page], &params)
        .await?;
    let mut out = Vec::with_capacity(16 * 1024);
    out.extend_from_slice(br#"{"data":["#);
    for (i, row) in found.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_point(
            &mut out,
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
        );
    }
    let total = match total_from(ask, found.len()) {
        Some(total) => total,
        None => client
            .client
            .query_one(&client.statements[&count], &params[..filter_params])
            .await?
            .get(0),
    };
    write_pagination(&mut out, ask, total);
    Ok(out)
}

#[handler]
async fn day_sums(Query(params): Params) -> Response {
    let ask = (|| {
        let number = |name: &str| params.get(name)?.parse::<i64>().ok();
        Some((
            params.get("project")?.clone(),
            params.get("metric_id")?.clone(),
            number("start")?,
            number("end")?,
        ))
    })();
    let Some((project, metric, start, end)) = ask else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(buckets) = Interval::Day.buckets(start, end) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let sums: Option<HashMap<i64, f64>> = match FLOOR.get().expect("set before serving") {
        Floor::Sqlite(path) => with_sqlite(path, |conn| {
            let sql = sqlite_sql(&Statement::DaySums.sql(DatabaseKind::Sqlite));
            let mut statement = conn.prepare_cached(&sql)?;
            let found = statement.query_map((&project, &metric, start, end), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            found.collect()
        })
        .ok(),
        Floor::Postgres(clients) => {
            let client = pg_client(clients);
            let statement = &client.statements[&Statement::DaySums];
            client
                .client
                .query(statement, &[&project, &metric, &start, &end])
                .await
                .ok()
                .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        }
    };
    let Some(sums) = sums else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(br#"{"data":{"metricId":"#);
    serde_json::to_writer(&mut out, &metric).expect("writes to a Vec");
    out.extend_from_slice(
        format!(r#","interval":"day","agg":"sum","startDate":{start},"endDate":{end},"buckets":["#)
            .as_bytes(),
    );
    for (i, bucket) in buckets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!(r#"{{"timestamp":{bucket},"value":"#).as_bytes());
        serde_json::to_writer(&mut out, &sums.get(bucket)).expect("writes to a Vec");
        out.push(b'}');
    }
    out.extend_from_slice(b"]}}");
    json(out)
}

async fn connect_postgres(url: &str, kind: DatabaseKind) -> anyhow::Result<Vec<PgClient>> {
    let mut clients = Vec::new();
    // One connection per worker thread: requests on a connection are pipelined.
    for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let mut statements = HashMap::new();
        for statement in Statement::ALL {
            let prepared = client.prepare(&statement.sql(kind)).await?;
            statements.insert(statement, prepared);
        }
        clients.push(PgClient { client, statements });
    }
    Ok(clients)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, bind] = args.as_slice() else {
        anyhow::bail!("usage: yardsticks DATABASE_URL BIND_ADDR");
    };
    // The same runtime flavour as `dashtray serve`: multi-threaded, a worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let floor = match url.strip_prefix("sqlite://") {
            Some(path) => Floor::Sqlite(path.to_owned()),
            None => Floor::Postgres(connect_postgres(url, DatabaseKind::Postgres).await?),
        };
        if FLOOR.set(floor).is_err() {
            anyhow::bail!("the floor is set once");
        }
        let app = Route::new()
            .at("/static", get(fixed))
            .at("/floor/metrics", get(metrics))
            .at("/floor/timeseries", get(day_sums));
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

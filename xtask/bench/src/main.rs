//! `cargo xtask bench [--quick] [--backend sqlite|postgres] [--points N] [--duration SECS]
//! [--import-rows N] [--import-only]`: the release server under HTTP load against a generated data set,
//! next to the yardsticks (`src/bin/yardsticks.rs`: a fixed body, and each page through
//! the database's own client with nothing around it), so that a request's cost is
//! measured against its floor; and `dashtray import metrics` of a generated file, timed.
//! `--webhooks` measures webhooks instead ([`webhooks`]).
//!
//! Steps: check `wrk` is there (installing Debian's package if not); build the release
//! binaries; generate the data set (SQLite: kept under `target/bench/` and reused by
//! points count; Postgres: a fresh schema, dropped at the end), and at any size but 100k
//! a 100k-point one beside it, the same way; time an import into a database of its own;
//! start `dashtray serve` (timing its first 200), the yardsticks beside it and, with a
//! 100k set, a second `dashtray serve` on that; load each scenario with `wrk` from a
//! separate process, a scenario with baselines in short rounds with them, each side in
//! turn (the metrics page: the full server, its floor, the full server on 100k
//! points), so that the CPU per request over the floor's and the p99 this size/100k are each the
//! median of ratios measured in the same rounds; print a table and write
//! `target/bench/report.json` (and `report-<points>-<backend>.json`).

mod dataset;
mod http;
mod import;
mod load;
mod report;
mod webhooks;

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use dashtray_core::{
    config::{DatabaseConfig, DatabaseUrl},
    Db,
};

use dataset::{Dataset, Shape};
use import::Imported;
use load::{Measured, Req, Settings};
use report::Row;

const DEFAULT_POINTS: u64 = 10_000_000;
const QUICK_POINTS: u64 = 100_000;
const DEFAULT_IMPORT_ROWS: u64 = 1_000_000;
const QUICK_IMPORT_ROWS: u64 = 100_000;
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The size the p99 target compares with, measured beside any other in the same run.
const SMALL_POINTS: u64 = 100_000;
/// How many projects the revalidation scenario rotates over (an ETag fetched for each).
const REVALIDATE_KEYS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

struct Args {
    points: u64,
    backend: Backend,
    duration: Duration,
    /// Rows of the timed import; 0 skips it.
    import_rows: u64,
    /// Time the import and stop: no data set, no server.
    import_only: bool,
}

/// Load-test the release server against its floors and time an import
/// (docs/performance.md).
#[derive(clap::Parser)]
#[command(name = "cargo xtask bench", bin_name = "cargo xtask bench")]
struct Cli {
    /// 100,000 points and a 100,000-row import (unless given below).
    #[arg(long)]
    quick: bool,
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Points in the data set (default 10,000,000; `_` separators allowed).
    #[arg(long, value_parser = count)]
    points: Option<u64>,
    /// Seconds of load per scenario (at least 1).
    #[arg(long, default_value_t = 8)]
    duration: u64,
    /// Rows of the timed import, 0 to skip it (default 1,000,000).
    #[arg(long, value_parser = count)]
    import_rows: Option<u64>,
    /// Time the import and stop: no data set, no server.
    #[arg(long)]
    import_only: bool,
}

/// A count, with `_` between digits allowed (`1_000_000`).
fn count(text: &str) -> Result<u64, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` is not a count"))
}

fn parse_args(args: &[String]) -> Result<Args, clap::Error> {
    use clap::Parser as _;
    let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().map(String::as_str)))?;
    let (points, import_rows) = match cli.quick {
        true => (QUICK_POINTS, QUICK_IMPORT_ROWS),
        false => (DEFAULT_POINTS, DEFAULT_IMPORT_ROWS),
    };
    Ok(Args {
        points: cli.points.unwrap_or(points),
        backend: cli.backend,
        duration: Duration::from_secs(cli.duration.max(1)),
        import_rows: cli.import_rows.unwrap_or(import_rows),
        import_only: cli.import_only,
    })
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--webhooks [--quick] [--debug] [--events N] [--import-rows N]` measures webhooks
    // instead: events delivered per second, and the import with an endpoint against none.
    if args.iter().any(|a| a == "--webhooks") {
        return match webhooks::run(&workspace_root(), &args) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let args = match parse_args(&args) {
        Ok(args) => args,
        Err(err) => err.exit(),
    };
    match run(&workspace_root(), args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace this crate lives in (`xtask/bench`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("xtask/bench lives in the workspace")
        .to_path_buf()
}

fn run(root: &Path, args: Args) -> anyhow::Result<()> {
    let shape = Shape::new(args.points)?;
    let small_shape = (args.points != SMALL_POINTS)
        .then(|| Shape::new(SMALL_POINTS))
        .transpose()?;
    load::ensure_wrk()?;
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    build(root)?;
    let bins = Bins {
        dashtray: root.join("target/release/dashtray"),
        yardsticks: root.join("target/release/yardsticks"),
        dir: dir.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.backend {
        Backend::Sqlite => {
            let [import, floor] = ["import.db", "import-floor.db"].map(|name| {
                let file = dir.join(name);
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                format!("sqlite://{}", file.display())
            });
            let imported = timed_import(&bins, &args, &import, &floor)?;
            if args.import_only {
                return Ok(());
            }
            let (url, dataset, cached) = sqlite_dataset(&runtime, &bins, &shape)?;
            let small = match &small_shape {
                Some(shape) => {
                    let (url, dataset, _) = sqlite_dataset(&runtime, &bins, shape)?;
                    Some(Small { url, dataset })
                }
                None => None,
            };
            measure(
                &bins,
                &args,
                &url,
                &dataset,
                cached,
                small.as_ref(),
                imported,
            )
        }
        Backend::Postgres => {
            let base = std::env::var("DASHTRAY_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
            let schema = format!(
                "bench_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs()
            );
            let import_schema = format!("{schema}_import");
            let floor_schema = format!("{schema}_import_floor");
            let small_schema = format!("{schema}_100k");
            let mut schemas = vec![schema.clone(), import_schema.clone(), floor_schema.clone()];
            if small_shape.is_some() {
                schemas.push(small_schema.clone());
            }
            let create: Vec<String> = schemas
                .iter()
                .map(|s| format!("CREATE SCHEMA {s}"))
                .collect();
            runtime.block_on(on_server(&base, &create.join("; ")))?;
            let sep = if base.contains('?') { '&' } else { '?' };
            let in_schema = |s: &str| format!("{base}{sep}options=-c%20search_path%3D{s}");
            let generate = |schema: &str, shape: &Shape| -> anyhow::Result<(String, Dataset)> {
                let url = in_schema(schema);
                migrate(&bins, &url)?;
                eprintln!("generating {} points into schema {schema}", shape.points);
                let dataset = runtime.block_on(dataset::generate(&url, shape))?;
                Ok((url, dataset))
            };
            let result = (|| {
                let imported = timed_import(
                    &bins,
                    &args,
                    &in_schema(&import_schema),
                    &in_schema(&floor_schema),
                )?;
                if args.import_only {
                    return Ok(());
                }
                let (url, dataset) = generate(&schema, &shape)?;
                let small = match &small_shape {
                    Some(shape) => {
                        let (url, dataset) = generate(&small_schema, shape)?;
                        Some(Small { url, dataset })
                    }
                    None => None,
                };
                measure(
                    &bins,
                    &args,
                    &url,
                    &dataset,
                    false,
                    small.as_ref(),
                    imported,
                )
            })();
            // Dropped whatever happened: a failed run must not leave 10M rows behind.
            let dropped = runtime.block_on(on_server(
                &base,
                &format!("DROP SCHEMA {} CASCADE", schemas.join(", ")),
            ));
            result.and(dropped)
        }
    }
}

/// Migrates the empty databases at `url` and `floor_url` and times an import of
/// `--import-rows` points into the first, and the same rows by the database client's
/// own bulk path into the second.
fn timed_import(
    bins: &Bins,
    args: &Args,
    url: &str,
    floor_url: &str,
) -> anyhow::Result<Option<Imported>> {
    if args.import_rows == 0 {
        return Ok(None);
    }
    migrate(bins, url)?;
    migrate(bins, floor_url)?;
    eprintln!(
        "importing {} points with dashtray import metrics",
        args.import_rows
    );
    let imported = import::measure(bins, url, floor_url, args.import_rows)?;
    eprintln!(
        "  median of {} rounds: {} rows in {:.1} s, {:.0} rows/s; the client's own bulk path {:.0} rows/s",
        imported.rounds.len(),
        imported.rows,
        imported.secs,
        imported.rows_per_sec,
        imported.floor_rows_per_sec
    );
    Ok(Some(imported))
}

/// The 100k-point data set the p99 target compares with, in a run of another size.
struct Small {
    url: String,
    dataset: Dataset,
}

struct Bins {
    dashtray: PathBuf,
    yardsticks: PathBuf,
    dir: PathBuf,
}

fn build(root: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for args in [
        &["build", "--release", "-p", "dashtray"][..],
        &[
            "build",
            "--release",
            "-p",
            "dashtray-bench",
            "--bin",
            "yardsticks",
        ][..],
    ] {
        let status = Command::new(&cargo)
            .args(args)
            .current_dir(root)
            .status()
            .context("running cargo")?;
        anyhow::ensure!(status.success(), "cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// Runs one statement on the Postgres server the URL names (the schema's life cycle).
async fn on_server(url: &str, sql: &str) -> anyhow::Result<()> {
    let db = Db::connect(&DatabaseConfig {
        url: DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?,
        max_connections: 1,
        acquire_timeout_ms: 10_000,
    })
    .await?;
    db.execute_script(sql).await?;
    db.close().await;
    Ok(())
}

fn migrate(bins: &Bins, url: &str) -> anyhow::Result<()> {
    let output = Command::new(&bins.dashtray)
        .arg("migrate")
        .env("DASHTRAY_DATABASE__URL", url)
        .env("DASHTRAY_LOG__LEVEL", "warn")
        .current_dir(&bins.dir)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "dashtray migrate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The SQLite file for this many points, generated once and then reused: its keys are
/// saved beside it, and that file is written last, so its presence means complete.
fn sqlite_dataset(
    runtime: &tokio::runtime::Runtime,
    bins: &Bins,
    shape: &Shape,
) -> anyhow::Result<(String, Dataset, bool)> {
    let file = bins.dir.join(format!("sqlite-{}.db", shape.points));
    let keys = bins.dir.join(format!("sqlite-{}.keys.json", shape.points));
    let url = format!("sqlite://{}", file.display());
    if let Ok(text) = std::fs::read_to_string(&keys) {
        if file.exists() {
            eprintln!("reusing the data set in {}", file.display());
            warm_page_cache(&file)?;
            return Ok((url, serde_json::from_str(&text)?, true));
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    migrate(bins, &url)?;
    eprintln!("generating {} points into {}", shape.points, file.display());
    let dataset = runtime.block_on(dataset::generate(&url, shape))?;
    std::fs::write(&keys, serde_json::to_string_pretty(&dataset)?)?;
    Ok((url, dataset, false))
}

/// Reads a reused SQLite file through once, so that the first scenarios find it in the
/// kernel's page cache as the later ones do: on this machine a file left alone for a
/// while is mostly evicted, and a scenario that met it cold read from disk (a year of
/// time series served 39 requests/s cold against 1,275 warm). A file just generated is
/// warm already.
fn warm_page_cache(file: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut reader = std::fs::File::open(file)?;
    let bytes = std::io::copy(&mut reader, &mut std::io::sink())?;
    eprintln!(
        "  read {} MB in {:.1} s into the page cache",
        bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A server process, killed when dropped so a failed run leaves none behind.
struct Server {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Spawns a server and waits for a 200 from `health`: the time it took is start-up to
/// first 200, spawn included.
fn start(
    mut command: Command,
    port: u16,
    health: &str,
    log: &Path,
) -> anyhow::Result<(Server, Duration)> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let started = Instant::now();
    let child = command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .context("starting a server")?;
    let mut server = Server { child, addr };
    loop {
        if let Ok(answer) = http::get(addr, health, &[]) {
            if answer.status == 200 {
                return Ok((server, started.elapsed()));
            }
        }
        if let Some(status) = server.child.try_wait()? {
            anyhow::bail!("the server exited ({status}); see {}", log.display());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no 200 from {health} within 60 s; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn bearer(key: &str) -> Vec<(String, String)> {
    vec![("Authorization".into(), format!("Bearer {key}"))]
}

/// The last 30 days of the data, and the last year.
const MONTH: &str = "start_date=2026-10-02&end_date=2026-10-31";
const YEAR: &str = "start_date=2025-11-01&end_date=2026-10-31";

/// [`MONTH`] in milliseconds, its end date's whole day included, for the yardsticks.
fn month_ms() -> (i64, i64) {
    days_ms(700, 730)
}

/// [`YEAR`] in milliseconds.
fn year_ms() -> (i64, i64) {
    days_ms(365, 730)
}

/// From the start of day `first` of the data (2024-11-01 is day 0) to the end of the
/// day before `end`.
fn days_ms(first: i64, end: i64) -> (i64, i64) {
    use dataset::{DAY_MS, FIRST_DAY_MS};
    (
        FIRST_DAY_MS + first * DAY_MS,
        FIRST_DAY_MS + end * DAY_MS - 1,
    )
}
const METRIC: &str = "metric_03";

/// `dashtray serve` on the database at `url`.
fn serve(bins: &Bins, url: &str, port: u16) -> Command {
    let mut serve = Command::new(&bins.dashtray);
    serve
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DASHTRAY_DATABASE__URL", url)
        .env("DASHTRAY_LOG__LEVEL", "warn")
        .current_dir(&bins.dir);
    serve
}

fn measure(
    bins: &Bins,
    args: &Args,
    url: &str,
    dataset: &Dataset,
    cached: bool,
    small: Option<&Small>,
    imported: Option<Imported>,
) -> anyhow::Result<()> {
    let settings = Settings {
        threads: 1,
        connections: 8,
        warmup: Duration::from_secs(2),
        duration: args.duration,
    };
    let heavy = &dataset.projects[0];
    // Project 0 is the heavy one: the usual scenarios rotate over the others.
    let rotation = &dataset.projects[1..];
    let page = format!("metric_id={METRIC}&{MONTH}&limit=100");
    let keyed = |path: String| -> Vec<Req> {
        rotation
            .iter()
            .map(|p| Req {
                path: path.clone(),
                headers: bearer(&p.key),
            })
            .collect()
    };
    let one = |path: String, key: &str| {
        vec![Req {
            path,
            headers: bearer(key),
        }]
    };

    let mut rows = Vec::new();
    let port = free_port()?;
    let (full, startup) = start(
        serve(bins, url, port),
        port,
        "/api/v1/health",
        &bins.dir.join("serve.log"),
    )?;
    eprintln!(
        "start-up to first 200: {:.0} ms",
        startup.as_secs_f64() * 1e3
    );

    // Conditional requests: each project's page answered 304 against the tag it just got.
    let mut revalidate = Vec::new();
    for project in rotation.iter().take(REVALIDATE_KEYS) {
        let path = format!("/api/v1/metrics?{page}");
        let answer = http::get(full.addr, &path, &bearer(&project.key))?;
        let tag = answer
            .header("etag")
            .with_context(|| format!("no ETag on {path} ({})", answer.status))?;
        let mut headers = bearer(&project.key);
        headers.push(("If-None-Match".into(), tag.to_owned()));
        revalidate.push(Req { path, headers });
    }

    let full_scenarios: Vec<(&str, Vec<Req>, u16)> = vec![
        (
            "health",
            vec![Req {
                path: "/api/v1/health".into(),
                headers: Vec::new(),
            }],
            200,
        ),
        ("get_project", keyed("/api/v1/projects".into()), 200),
        (
            "metrics_page",
            keyed(format!("/api/v1/metrics?{page}")),
            200,
        ),
        (
            "metrics_page_1000",
            keyed("/api/v1/metrics?limit=1000".into()),
            200,
        ),
        (
            "first_page",
            one("/api/v1/metrics?limit=100".into(), &heavy.key),
            200,
        ),
        (
            "deep_page",
            one(
                format!(
                    "/api/v1/metrics?limit=100&offset={}",
                    dataset.shape.deep_offset
                ),
                &heavy.key,
            ),
            200,
        ),
        (
            "timeseries_year",
            keyed(format!(
                "/api/v1/metrics/{METRIC}/timeseries?interval=day&agg=sum&{YEAR}"
            )),
            200,
        ),
        ("dashboards", keyed("/api/v1/dashboards".into()), 200),
        ("revalidate_304", revalidate, 304),
    ];
    // The yardsticks wait, idle, beside the full server: each runs in rounds with the
    // scenario it bounds, so both meet the database's caches and the machine's load
    // alike (run after all of the full server's scenarios, a baseline found the caches
    // warmer).
    let port = free_port()?;
    let mut yardsticks = Command::new(&bins.yardsticks);
    yardsticks
        .args([url, &format!("127.0.0.1:{port}")])
        .current_dir(&bins.dir);
    let log = bins.dir.join("yardsticks.log");
    let (yardsticks, _) = start(yardsticks, port, "/static", &log)?;
    let floor_rotation = |path: &str, query: &str| -> Vec<Req> {
        rotation
            .iter()
            .map(|p| Req {
                path: format!("{path}?project={}&{query}", p.id),
                headers: Vec::new(),
            })
            .collect()
    };
    let (month, year) = (month_ms(), year_ms());
    let floor = |name: &str| -> Option<(&'static str, Vec<Req>)> {
        match name {
            "health" => Some((
                "bare_static",
                vec![Req {
                    path: "/static".into(),
                    headers: Vec::new(),
                }],
            )),
            "metrics_page" => Some((
                "floor_metrics_page",
                floor_rotation(
                    "/floor/metrics",
                    &format!(
                        "metric_id={METRIC}&start={}&end={}&limit=100",
                        month.0, month.1
                    ),
                ),
            )),
            "metrics_page_1000" => Some((
                "floor_metrics_page_1000",
                floor_rotation("/floor/metrics", "limit=1000"),
            )),
            "timeseries_year" => Some((
                "floor_timeseries_year",
                floor_rotation(
                    "/floor/timeseries",
                    &format!("metric_id={METRIC}&start={}&end={}", year.0, year.1),
                ),
            )),
            _ => None,
        }
    };
    // And, at any size but 100k, a second full server on the 100k set, idle as well: the
    // metrics page's p99 at this size is compared with its p99 there, round by round
    // (measured in separate runs minutes apart, the two moved with the machine's load
    // more than with the data's size).
    let small = match small {
        Some(small) => {
            let port = free_port()?;
            let log = bins.dir.join("serve-100k.log");
            let (server, _) = start(serve(bins, &small.url, port), port, "/api/v1/health", &log)?;
            Some((server, &small.dataset))
        }
        None => None,
    };
    let at_100k = |name: &str| -> Option<(&Server, &'static str, Vec<Req>)> {
        let (server, dataset) = small.as_ref()?;
        let path = match name {
            "metrics_page" => format!("/api/v1/metrics?{page}"),
            _ => return None,
        };
        let reqs = dataset.projects[1..]
            .iter()
            .map(|p| Req {
                path: path.clone(),
                headers: bearer(&p.key),
            })
            .collect();
        Some((server, "metrics_page_100k", reqs))
    };
    let mut cpu_ratios = Vec::new();
    let mut p99_large_vs_small = None;
    for (name, reqs, expected) in full_scenarios {
        let scenario = Scenario {
            server: &full,
            name,
            reqs: &reqs,
            expected,
            subject: true,
        };
        let Some((floor_name, floor_reqs)) = floor(name) else {
            rows.push(measure_one(bins, &scenario, settings)?);
            continue;
        };
        let floor = Scenario {
            server: &yardsticks,
            name: floor_name,
            reqs: &floor_reqs,
            expected: 200,
            subject: false,
        };
        let at_100k = at_100k(name);
        let at_100k = at_100k.as_ref().map(|(server, name, reqs)| Scenario {
            server,
            name,
            reqs,
            expected,
            subject: false,
        });
        // Sides: 0 the full server, 1 its floor, 2 the full server on 100k points.
        let mut sides = vec![&scenario, &floor];
        sides.extend(at_100k.as_ref());
        let runs = measure_rounds(bins, &sides, settings)?;
        let by_round = |a: usize, b: usize, figure: fn(&Measured) -> f64| {
            median_ratio(runs[a].iter().map(figure).zip(runs[b].iter().map(figure)))
        };
        cpu_ratios.push((name.to_owned(), by_round(0, 1, |m| m.cpu_us_per_req)));
        if at_100k.is_some() {
            p99_large_vs_small = Some(by_round(0, 2, |m| m.p99_ms));
        }
        for (side, runs) in sides.iter().zip(&runs) {
            rows.push(row(side, Measured::combine(runs)));
        }
    }
    drop(full);
    drop(yardsticks);
    drop(small);

    report::write(
        &bins.dir,
        &report::Run {
            backend: args.backend.name(),
            shape: &dataset.shape,
            rows: &rows,
            cpu_ratios: &cpu_ratios,
            p99_large_vs_small,
            startup,
            generation_secs: (!cached).then_some(dataset.generation_secs),
            imported,
            settings,
        },
    )
}

/// One scenario: a server, its rotation of requests, and the status each must answer.
struct Scenario<'a> {
    server: &'a Server,
    name: &'a str,
    reqs: &'a [Req],
    expected: u16,
    /// Whether it loads the server under test (`dashtray serve` on this run's data set)
    /// rather than a baseline: only those count toward the server's own figures.
    subject: bool,
}

/// A scenario against its baselines: rounds this many, alternating the order.
pub const PAIRED_ROUNDS: u32 = 4;

/// Checks the first request answers as expected (a wrong answer would make the numbers
/// meaningless) and writes the rotation's script.
fn prepare(bins: &Bins, scenario: &Scenario) -> anyhow::Result<PathBuf> {
    let Scenario {
        server,
        name,
        reqs,
        expected,
        ..
    } = scenario;
    let first = reqs.first().context("an empty scenario")?;
    let answer = http::get(server.addr, &first.path, &first.headers)?;
    anyhow::ensure!(
        answer.status == *expected,
        "{name}: {} answered {} instead of {expected}: {:.500}",
        first.path,
        answer.status,
        answer.body
    );
    let script = bins.dir.join(format!("{name}.lua"));
    load::write_script(&script, reqs)?;
    eprintln!("  {name}: {} request(s) in rotation", reqs.len());
    Ok(script)
}

fn load(scenario: &Scenario, script: &Path, settings: Settings) -> anyhow::Result<Measured> {
    let server = scenario.server;
    let measured = load::run(server.addr, server.child.id(), script, settings)?;
    anyhow::ensure!(
        measured.bad == 0,
        "{}: {} of {} requests failed or answered other than 2xx/3xx",
        scenario.name,
        measured.bad,
        measured.requests
    );
    Ok(measured)
}

fn row(scenario: &Scenario, measured: Measured) -> Row {
    Row {
        name: scenario.name.to_owned(),
        measured,
        subject: scenario.subject,
    }
}

fn measure_one(bins: &Bins, scenario: &Scenario, settings: Settings) -> anyhow::Result<Row> {
    let script = prepare(bins, scenario)?;
    Ok(row(scenario, load(scenario, &script, settings)?))
}

/// Runs a scenario and what it is compared with (`sides`, the scenario first) in short
/// rounds, each side once a round, so all meet the machine as it is at that moment: on a
/// shared machine, load from elsewhere moved one long run of each by more than the
/// framework's own cost. Returns each side's rounds, for ratios taken round by round.
fn measure_rounds(
    bins: &Bins,
    sides: &[&Scenario],
    settings: Settings,
) -> anyhow::Result<Vec<Vec<Measured>>> {
    let scripts = sides
        .iter()
        .map(|side| prepare(bins, side))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let round = Settings {
        duration: (settings.duration / PAIRED_ROUNDS).max(Duration::from_secs(1)),
        warmup: Duration::ZERO,
        ..settings
    };
    let warmup = Settings {
        duration: settings.warmup,
        warmup: Duration::ZERO,
        ..settings
    };
    for (side, script) in sides.iter().zip(&scripts) {
        load(side, script, warmup)?;
    }
    let mut runs = vec![Vec::new(); sides.len()];
    for n in 0..PAIRED_ROUNDS {
        for i in round_order(sides.len(), n) {
            runs[i].push(load(sides[i], &scripts[i], round)?);
        }
    }
    Ok(runs)
}

/// The order of `sides` sides in round `n`: forward in even rounds, reversed in odd
/// ones, so that of any two sides each runs before the other as often as after it, over
/// an even number of rounds.
fn round_order(sides: usize, n: u32) -> Vec<usize> {
    if n.is_multiple_of(2) {
        (0..sides).collect()
    } else {
        (0..sides).rev().collect()
    }
}

/// The median over rounds of a / b, each pair measured in the same round: a slow round
/// slows both, and one round's outlier does not move the median.
fn median_ratio(rounds: impl Iterator<Item = (f64, f64)>) -> f64 {
    load::median(rounds.map(|(a, b)| a / b.max(1e-9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        let args: Vec<String> = ["--quick", "--backend", "postgres"]
            .map(String::from)
            .to_vec();
        let parsed = parse_args(&args).unwrap();
        assert_eq!(parsed.points, QUICK_POINTS);
        assert_eq!(parsed.backend, Backend::Postgres);
        assert_eq!(parsed.import_rows, QUICK_IMPORT_ROWS);
        let args: Vec<String> = ["--points", "1_000_000", "--import-rows", "0"]
            .map(String::from)
            .to_vec();
        let parsed = parse_args(&args).unwrap();
        assert_eq!(parsed.points, 1_000_000);
        assert_eq!(parsed.import_rows, 0, "0 skips the import");
        assert!(parse_args(&["--backend".into(), "mysql".into()]).is_err());
    }

    #[test]
    fn rounds_visit_every_side_once_alternating_forward_and_reverse() {
        assert_eq!(round_order(2, 0), [0, 1]);
        assert_eq!(round_order(2, 1), [1, 0]);
        assert_eq!(round_order(3, 0), [0, 1, 2]);
        assert_eq!(round_order(3, 1), [2, 1, 0]);
        assert_eq!(round_order(3, 2), [0, 1, 2]);
    }

    #[test]
    fn over_the_rounds_each_side_precedes_every_other_as_often_as_it_follows() {
        for sides in 2..=4 {
            for (a, b) in [(0, 1), (0, sides - 1), (1, sides - 1)] {
                if a == b {
                    continue;
                }
                let before = (0..PAIRED_ROUNDS)
                    .filter(|&n| {
                        let order = round_order(sides, n);
                        let at = |x| order.iter().position(|&i| i == x).unwrap();
                        at(a) < at(b)
                    })
                    .count();
                assert_eq!(
                    before * 2,
                    PAIRED_ROUNDS as usize,
                    "{sides} sides, {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn ratio_is_the_median_of_the_rounds_ratios_not_the_ratio_of_medians() {
        // Round 2 met a busy machine on both sides: its ratio is as the others', where
        // the medians of each side (30 and 30) would give 1.
        let rounds = [(100.0, 50.0), (20.0, 10.0), (30.0, 30.0)];
        assert_eq!(median_ratio(rounds.into_iter()), 2.0);
        // An even count: the mean of the middle two.
        let rounds = [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (9.0, 1.0)];
        assert_eq!(median_ratio(rounds.into_iter()), 2.5);
    }

    #[test]
    fn a_zero_in_the_denominator_does_not_make_the_ratio_nan() {
        assert!(median_ratio([(1.0, 0.0)].into_iter()).is_finite());
        assert_eq!(median_ratio([(0.0, 0.0)].into_iter()), 0.0);
    }

    #[test]
    fn the_yardsticks_ranges_are_the_scenarios_dates() {
        // 2026-10-02T00:00:00Z and 2026-10-31T23:59:59.999Z; 2025-11-01T00:00:00Z.
        assert_eq!(month_ms(), (1_790_899_200_000, 1_793_491_199_999));
        assert_eq!(year_ms(), (1_761_955_200_000, 1_793_491_199_999));
    }
}

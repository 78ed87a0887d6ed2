//! `cargo xtask bench --webhooks [--quick] [--debug] [--events N] [--import-rows N]`: what
//! webhooks cost and how fast they go, on SQLite files of their own under `target/bench/`,
//! with the release binary (`--debug`: the debug one, quicker to build, slower to run):
//!
//! - the import's rows per second with an endpoint subscribed to `metrics.imported`
//!   against none (each batch then writes an event and a delivery in its transaction;
//!   the target is at least 0.9 of it), the median of alternating rounds;
//! - events delivered per second: N events queued (an import of one row per batch),
//!   then `dashtray serve` started and timed from its first line until a receiver on
//!   loopback (in this process, answering 204 at once) has had all N.
//!
//! Prints a table and writes `target/bench/webhooks.json`.

use std::{
    io::{BufRead, BufReader, BufWriter, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use poem::{
    handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::Data,
    EndpointExt, Route, Server,
};
use serde::Serialize;

const DEFAULT_EVENTS: u64 = 5_000;
const QUICK_EVENTS: u64 = 1_000;
const DEFAULT_IMPORT_ROWS: u64 = 500_000;
const QUICK_IMPORT_ROWS: u64 = 100_000;
/// Rounds of each import (with and without an endpoint, alternating).
const ROUNDS: usize = 3;
/// The import's rows/s with a subscribed endpoint must be at least this share of none's.
const TARGET_RATIO: f64 = 0.9;
/// Private targets allowed: the receiver is on loopback.
const ALLOW_PRIVATE: (&str, &str) = ("DASHTRAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true");

struct Args {
    events: u64,
    import_rows: u64,
    /// The debug build instead of the release one.
    debug: bool,
}

fn parse_args(args: &[String]) -> anyhow::Result<Args> {
    let mut parsed = Args {
        events: DEFAULT_EVENTS,
        import_rows: DEFAULT_IMPORT_ROWS,
        debug: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> anyhow::Result<u64> {
            it.next()
                .with_context(|| format!("{name} needs a value"))?
                .replace('_', "")
                .parse()
                .with_context(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "--webhooks" => {}
            "--debug" => parsed.debug = true,
            "--quick" => {
                parsed.events = QUICK_EVENTS;
                parsed.import_rows = QUICK_IMPORT_ROWS;
            }
            "--events" => parsed.events = number("--events")?.max(1),
            "--import-rows" => parsed.import_rows = number("--import-rows")?.max(1),
            other => anyhow::bail!("unexpected argument `{other}` for --webhooks"),
        }
    }
    Ok(parsed)
}

/// What the run measured.
#[derive(Debug, Serialize)]
struct Report {
    events: u64,
    delivery_secs: f64,
    events_per_sec: f64,
    import_rows: u64,
    import_rows_per_sec_without_endpoint: f64,
    import_rows_per_sec_with_endpoint: f64,
    import_ratio: f64,
    import_target: f64,
}

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let args = parse_args(args)?;
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let profile = match args.debug {
        true => "debug",
        false => "release",
    };
    build(root, args.debug)?;
    let bench = Bench {
        dashtray: root.join("target").join(profile).join("dashtray"),
        dir: dir.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let receiver = runtime.block_on(Receiver::start())?;

    let (without, with) = bench.import_rounds(args.import_rows, &receiver.url)?;
    let (delivery_secs, events) = bench.deliveries(args.events, &receiver)?;
    let report = Report {
        events,
        delivery_secs,
        events_per_sec: events as f64 / delivery_secs,
        import_rows: args.import_rows,
        import_rows_per_sec_without_endpoint: without,
        import_rows_per_sec_with_endpoint: with,
        import_ratio: with / without,
        import_target: TARGET_RATIO,
    };
    print(&report, profile);
    let path = dir.join("webhooks.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("wrote {}", path.display());
    Ok(())
}

fn print(r: &Report, profile: &str) {
    let verdict = match r.import_ratio >= TARGET_RATIO {
        true => "meets",
        false => "MISSES",
    };
    println!("webhooks (SQLite, {profile} build)");
    println!(
        "  delivered: {} events in {:.2} s = {:.0} events/s",
        r.events, r.delivery_secs, r.events_per_sec
    );
    println!(
        "  import of {} rows: {:.0} rows/s without an endpoint, {:.0} rows/s with one \
         subscribed: {:.3} ({verdict} the {TARGET_RATIO} target)",
        r.import_rows,
        r.import_rows_per_sec_without_endpoint,
        r.import_rows_per_sec_with_endpoint,
        r.import_ratio
    );
}

fn build(root: &Path, debug: bool) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["build", "-p", "dashtray"];
    if !debug {
        args.push("--release");
    }
    let status = Command::new(cargo)
        .args(&args)
        .current_dir(root)
        .status()
        .context("running cargo")?;
    anyhow::ensure!(status.success(), "cargo {} failed", args.join(" "));
    Ok(())
}

struct Bench {
    dashtray: PathBuf,
    dir: PathBuf,
}

impl Bench {
    /// A fresh SQLite database under `target/bench/`, as a URL.
    fn fresh_db(&self, name: &str) -> anyhow::Result<String> {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(self.dir.join(format!("{name}{suffix}")));
        }
        Ok(format!("sqlite://{}", self.dir.join(name).display()))
    }

    /// Runs `dashtray ARGS --json` on `url`; its JSON object.
    fn cli(&self, url: &str, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let output = Command::new(&self.dashtray)
            .args(args)
            .arg("--json")
            .env("DASHTRAY_DATABASE__URL", url)
            .env("DASHTRAY_LOG__LEVEL", "warn")
            .env(ALLOW_PRIVATE.0, ALLOW_PRIVATE.1)
            .current_dir(&self.dir)
            .output()
            .context("running dashtray")?;
        anyhow::ensure!(
            output.status.success(),
            "dashtray {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).context("dashtray printed no JSON object")
    }

    /// A project in a fresh database, with an endpoint subscribed to `metrics.imported`
    /// at `hook` if given: `(url, project id)`.
    fn project(&self, name: &str, hook: Option<&str>) -> anyhow::Result<(String, String)> {
        let url = self.fresh_db(name)?;
        let project = self.cli(&url, &["projects", "create", "--name", "Webhooks bench"])?;
        let id = project["id"].as_str().context("no project id")?.to_owned();
        if let Some(hook) = hook {
            let args = ["webhooks", "create", "--project", &id, "--url", hook];
            self.cli(
                &url,
                &[&args[..], &["--events", "metrics.imported"]].concat(),
            )?;
        }
        Ok((url, id))
    }

    /// Imports `file` (`rows` rows, `batch` per transaction); rows per second.
    fn import(&self, url: &str, project: &str, file: &Path, batch: u64) -> anyhow::Result<f64> {
        let path = file.to_str().context("a UTF-8 path")?;
        let batch = batch.to_string();
        let args = [
            "import",
            "metrics",
            "--project",
            project,
            "--batch-rows",
            &batch,
            path,
        ];
        let started = Instant::now();
        let summary = self.cli(url, &args)?;
        let secs = started.elapsed().as_secs_f64();
        let rows = summary["rows"]
            .as_u64()
            .context("no `rows` in the summary")?;
        Ok(rows as f64 / secs)
    }

    /// The median rows/s of [`ROUNDS`] imports without an endpoint and with one,
    /// alternating so that both see the same machine.
    fn import_rounds(&self, rows: u64, hook: &str) -> anyhow::Result<(f64, f64)> {
        let file = csv_file(&self.dir, rows)?;
        let batch = 10_000;
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (url, project) = self.project("webhooks-none.db", None)?;
            without.push(self.import(&url, &project, &file, batch)?);
            let (url, project) = self.project("webhooks-subscribed.db", Some(hook))?;
            with.push(self.import(&url, &project, &file, batch)?);
        }
        Ok((median(without), median(with)))
    }

    /// Queues `events` events, starts `dashtray serve`, and times until the receiver
    /// has them all: `(seconds, events)`.
    fn deliveries(&self, events: u64, receiver: &Receiver) -> anyhow::Result<(f64, u64)> {
        let (url, project) = self.project("webhooks-deliveries.db", Some(&receiver.url))?;
        let file = csv_file(&self.dir, events)?;
        self.import(&url, &project, &file, 1)?;
        let before = receiver.count();
        let mut server = Command::new(&self.dashtray)
            .args(["serve", "--bind", "127.0.0.1:0", "--json"])
            .env("DASHTRAY_DATABASE__URL", &url)
            .env("DASHTRAY_LOG__LEVEL", "warn")
            .env(ALLOW_PRIVATE.0, ALLOW_PRIVATE.1)
            .current_dir(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting dashtray serve")?;
        let mut line = String::new();
        BufReader::new(server.stdout.take().context("stdout")?).read_line(&mut line)?;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(600);
        while receiver.count() - before < events {
            if Instant::now() > deadline {
                let _ = server.kill();
                anyhow::bail!(
                    "only {} of {events} events arrived",
                    receiver.count() - before
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let secs = started.elapsed().as_secs_f64();
        let _ = server.kill();
        let _ = server.wait();
        Ok((secs, events))
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `rows` valid points of one metric, a minute apart, as the import reads them.
fn csv_file(dir: &Path, rows: u64) -> anyhow::Result<PathBuf> {
    let file = dir.join(format!("webhooks-{rows}.csv"));
    if file.exists() {
        return Ok(file);
    }
    let mut out = BufWriter::new(std::fs::File::create(&file)?);
    writeln!(out, "metricId,value,timestamp")?;
    for i in 0..rows as i64 {
        writeln!(
            out,
            "metric_{:02},{i},{}",
            i % 20,
            1_704_067_200_000 + i * 60_000
        )?;
    }
    out.flush()?;
    Ok(file)
}

/// A receiver on loopback that counts what it gets and answers 204 at once.
struct Receiver {
    url: String,
    received: Arc<AtomicU64>,
}

#[handler]
fn receive(count: Data<&Arc<AtomicU64>>) -> StatusCode {
    count.fetch_add(1, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

impl Receiver {
    async fn start() -> anyhow::Result<Receiver> {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .context("a socket address")?;
        let received = Arc::new(AtomicU64::new(0));
        let app = Route::new().at("/hook", receive).data(received.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Ok(Receiver {
            url: format!("http://{addr}/hook"),
            received,
        })
    }

    fn count(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

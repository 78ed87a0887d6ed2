//! Load from a separate process: `wrk` with a generated Lua script that rotates over a
//! list of pre-formatted requests (a key per project), and the server's CPU time and
//! peak memory from `/proc` around the measured run.

use std::{
    net::SocketAddr,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::Context as _;
use serde::Deserialize;

/// One request of a scenario's rotation.
#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// How hard and how long to push; modest, for a 2-core machine shared with the server.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub threads: u32,
    pub connections: u32,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What one scenario measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_us_per_req: f64,
    pub rss_mb: f64,
    /// The process's private memory (RssAnon) after the scenario: RSS less the pages of
    /// mapped files, which with SQLite's memory-mapped reads count the database file once
    /// per connection although the kernel's page cache holds it once.
    pub anon_mb: f64,
    /// The process's proportional set size after the scenario: RSS with each page
    /// counted once however many times it is mapped, so the database file's pages count
    /// once for all connections.
    pub pss_mb: f64,
    pub requests: u64,
    pub bad: u64,
}

/// What the script's `done` prints: wrk's own summary and latency histogram.
#[derive(Debug, Deserialize)]
struct WrkSummary {
    requests: u64,
    duration_us: f64,
    p50_us: f64,
    p99_us: f64,
    non_2xx_3xx: u64,
    socket_errors: u64,
}

/// wrk is a program of its own, not a crate, so cargo cannot bring it: the bench installs
/// Debian's package itself when it is missing, and checks before the release build so that
/// a machine without it fails in seconds rather than after the compile.
pub fn ensure_wrk() -> anyhow::Result<()> {
    // `wrk -v` prints its version and exits non-zero: that it could be spawned is the test.
    let spawns = || {
        Command::new("wrk")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if spawns() {
        return Ok(());
    }
    eprintln!("wrk is not on PATH: installing Debian's package (apt-get install -y wrk)");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
    };
    // An update that fails (no network) may still leave a package list that has wrk: the
    // install's own result is what decides.
    apt(&["update", "-qq"]).context(
        "wrk is missing and apt-get is not available: install wrk (the HTTP load tool) and \
         put it on PATH",
    )?;
    let status = apt(&["install", "-y", "-qq", "wrk"]).context("running apt-get install wrk")?;
    anyhow::ensure!(
        status.success(),
        "installing wrk failed (apt-get install -y wrk: {status}): install wrk (the HTTP load \
         tool, Debian's package `wrk`) and put it on PATH"
    );
    anyhow::ensure!(
        spawns(),
        "apt-get installed wrk but `wrk` still does not run: put it on PATH"
    );
    Ok(())
}

/// Writes the Lua script for `reqs`: requests are formatted once, at start-up, so the
/// script costs wrk no more per request than its default.
pub fn write_script(path: &Path, reqs: &[Req]) -> anyhow::Result<()> {
    let mut lua = String::from("local reqs = {}\ninit = function(args)\n");
    for req in reqs {
        let headers: Vec<String> = req
            .headers
            .iter()
            .map(|(n, v)| format!("[{}] = {}", lua_str(n), lua_str(v)))
            .collect();
        lua.push_str(&format!(
            "  reqs[#reqs + 1] = wrk.format(\"GET\", {}, {{{}}})\n",
            lua_str(&req.path),
            headers.join(", ")
        ));
    }
    lua.push_str(
        "end\n\
         local i = 0\n\
         request = function()\n  i = i % #reqs + 1\n  return reqs[i]\nend\n\
         done = function(summary, latency, requests)\n\
         \x20 io.write(string.format('BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p99_us\":%d,\"non_2xx_3xx\":%d,\"socket_errors\":%d}\\n',\n\
         \x20   summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),\n\
         \x20   summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\n\
         end\n",
    );
    std::fs::write(path, lua)?;
    Ok(())
}

fn lua_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn wrk(
    addr: SocketAddr,
    script: &Path,
    settings: Settings,
    duration: Duration,
) -> anyhow::Result<WrkSummary> {
    let secs = duration.as_secs().max(1);
    let output = Command::new("wrk")
        .arg(format!("-t{}", settings.threads))
        .arg(format!("-c{}", settings.connections))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}"))
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = stdout
        .lines()
        .find_map(|line| line.strip_prefix("BENCH_JSON "))
        .with_context(|| format!("no summary in wrk's output:\n{stdout}"))?;
    Ok(serde_json::from_str(json)?)
}

impl Measured {
    /// Several runs of one scenario as one: throughput and CPU over all of their
    /// requests, the median of their percentiles, the highest memory.
    pub fn combine(runs: &[Measured]) -> Measured {
        let requests: u64 = runs.iter().map(|m| m.requests).sum();
        let secs: f64 = runs
            .iter()
            .map(|m| m.requests as f64 / m.rps.max(1e-9))
            .sum();
        let cpu_us: f64 = runs
            .iter()
            .map(|m| m.cpu_us_per_req * m.requests as f64)
            .sum();
        Measured {
            rps: requests as f64 / secs.max(1e-9),
            p50_ms: median(runs.iter().map(|m| m.p50_ms)),
            p99_ms: median(runs.iter().map(|m| m.p99_ms)),
            cpu_us_per_req: cpu_us / requests.max(1) as f64,
            rss_mb: runs.iter().map(|m| m.rss_mb).fold(0.0, f64::max),
            anon_mb: runs.iter().map(|m| m.anon_mb).fold(0.0, f64::max),
            pss_mb: runs.iter().map(|m| m.pss_mb).fold(0.0, f64::max),
            requests,
            bad: runs.iter().map(|m| m.bad).sum(),
        }
    }
}

/// The middle value (the mean of the middle two for an even count); 0 for none.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Warms the server up (caches, pool, key cache) on the same rotation, then measures.
pub fn run(
    addr: SocketAddr,
    pid: u32,
    script: &Path,
    settings: Settings,
) -> anyhow::Result<Measured> {
    if !settings.warmup.is_zero() {
        wrk(addr, script, settings, settings.warmup)?;
    }
    let before = cpu_ticks(pid)?;
    let summary = wrk(addr, script, settings, settings.duration)?;
    let after = cpu_ticks(pid)?;
    let cpu_us = (after - before) as f64 * 1e6 / clock_ticks_per_sec() as f64;
    Ok(Measured {
        rps: summary.requests as f64 / (summary.duration_us / 1e6),
        p50_ms: summary.p50_us / 1e3,
        p99_ms: summary.p99_us / 1e3,
        cpu_us_per_req: cpu_us / summary.requests.max(1) as f64,
        rss_mb: status_kb(pid, "VmHWM")? as f64 / 1024.0,
        anon_mb: status_kb(pid, "RssAnon")? as f64 / 1024.0,
        pss_mb: field_kb(&format!("/proc/{pid}/smaps_rollup"), "Pss")? as f64 / 1024.0,
        requests: summary.requests,
        bad: summary.non_2xx_3xx + summary.socket_errors,
    })
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of `/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; count fields after its closing paren.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so field N is fields[N - 3].
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}

/// A field of `/proc/PID/status` in kB: `VmHWM` is the peak resident set since the
/// process started, `RssAnon` its private part now.
pub fn status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    field_kb(&format!("/proc/{pid}/status"), field)
}

/// A `Name:   1234 kB` line of a `/proc` file.
fn field_kb(path: &str, field: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rps: f64, requests: u64, p50_ms: f64, cpu_us_per_req: f64) -> Measured {
        Measured {
            rps,
            p50_ms,
            p99_ms: p50_ms * 2.0,
            cpu_us_per_req,
            rss_mb: rps / 1000.0,
            anon_mb: 1.0,
            pss_mb: 2.0,
            requests,
            bad: 0,
        }
    }

    #[test]
    fn runs_combine_over_all_their_requests() {
        // 1,000 requests in 1 s and 1,000 in 4 s: 2,000 in 5 s is 400/s, not the mean
        // of 1,000 and 250.
        let combined =
            Measured::combine(&[run(1000.0, 1000, 1.0, 10.0), run(250.0, 1000, 3.0, 30.0)]);
        assert!((combined.rps - 400.0).abs() < 1e-6, "{}", combined.rps);
        assert_eq!(combined.requests, 2000);
        assert!((combined.cpu_us_per_req - 20.0).abs() < 1e-9);
        assert_eq!(combined.p50_ms, 2.0);
        assert_eq!(combined.rss_mb, 1.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
        assert_eq!(median(std::iter::empty()), 0.0);
    }
}

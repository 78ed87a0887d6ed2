//! The benchmark's data set, written straight into a fresh database: projects with one
//! key each, integrations and dashboards through the plugins' own `store::insert`, and
//! metric points through the import's own bulk path (`store::append`), in large
//! transactions.
//!
//! Deterministic apart from the keys: the same ids, timestamps and values every time, so
//! a SQLite file can be kept and reused between runs (the keys are kept beside it).

use std::{collections::BTreeSet, time::Instant};

use anyhow::Context as _;
use dashtray_core::{
    auth::{key::KeyHasher, store, Plan, Project, READ_SCOPES},
    config::{DatabaseConfig, DatabaseKind, DatabaseUrl},
    Db,
};
use dashtray_dashboards::store::{NewDashboard, NewWidget};
use dashtray_integrations::store::NewIntegration;
use dashtray_metrics::store::{self as points, NewPoint};
use serde::{Deserialize, Serialize};

/// 2024-11-01T00:00:00Z, as in the demo data: the first day of data.
pub const FIRST_DAY_MS: i64 = 1_730_419_200_000;
pub const DAY_MS: i64 = 86_400_000;
/// Two years of days: the last one is 2026-10-31.
pub const DAYS: i64 = 730;
/// Metrics per project.
pub const METRICS: usize = 20;
/// Rows per transaction: large, so commits (and their syncs) are rare.
const ROWS_PER_TRANSACTION: usize = 200_000;

/// How the points are spread: one heavy project (for the deep page), the rest even.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shape {
    pub points: u64,
    pub projects: usize,
    /// Points of project 0.
    pub heavy_points: u64,
    /// Points of every other project (the last takes the remainder).
    pub points_per_project: u64,
    /// The offset of the deep-page scenario, on project 0.
    pub deep_offset: u64,
}

impl Shape {
    pub fn new(points: u64) -> anyhow::Result<Shape> {
        anyhow::ensure!(
            points >= 10_000,
            "--points must be at least 10000 (20 metrics x 30 days over several projects)"
        );
        let projects = usize::try_from(points / 1_000)
            .unwrap_or(1_000)
            .clamp(10, 1_000);
        // From 1M points one project holds 200k, so the deep page can skip 100k rows as
        // asked; smaller sets cannot spare that, and skip half of a tenth instead.
        let (heavy_points, deep_offset) = if points >= 1_000_000 {
            (200_000, 100_000)
        } else {
            (points / 10, points / 20)
        };
        let points_per_project = (points - heavy_points) / (projects as u64 - 1);
        Ok(Shape {
            points,
            projects,
            heavy_points,
            points_per_project,
            deep_offset,
        })
    }

    fn points_of(&self, project: usize) -> u64 {
        match project {
            0 => self.heavy_points,
            p if p == self.projects - 1 => {
                self.points
                    - self.heavy_points
                    - self.points_per_project * (self.projects as u64 - 2)
            }
            _ => self.points_per_project,
        }
    }
}

/// A project of the data set and the key made for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchProject {
    pub id: String,
    pub key: String,
}

/// What was generated: the shape, and a key per project (project 0 is the heavy one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dataset {
    pub shape: Shape,
    pub projects: Vec<BenchProject>,
    pub generation_secs: f64,
}

pub fn project_id(p: usize) -> String {
    format!("prj_bench{p:011}")
}

pub fn metric_id(m: usize) -> String {
    format!("metric_{m:02}")
}

fn integration_id(p: usize, i: usize) -> String {
    format!("int_bench{p:09}i{i}")
}

/// Opens the database (already migrated) and writes the whole data set into it.
pub async fn generate(url: &str, shape: &Shape) -> anyhow::Result<Dataset> {
    let started = Instant::now();
    let config = DatabaseConfig {
        url: DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?,
        max_connections: 2,
        acquire_timeout_ms: 60_000,
    };
    let db = Db::connect(&config).await?;
    let hasher = KeyHasher::new(None);
    let scopes: BTreeSet<String> = READ_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let mut projects = Vec::with_capacity(shape.projects);
    for p in 0..shape.projects {
        let id = project_id(p);
        let project = Project {
            id: id.clone(),
            name: format!("Bench {p}"),
            slug: format!("bench-{p}"),
            plan: Plan::Scale,
            // High enough that the limiter never answers 429 during a run: it still
            // counts every request, which is part of what is measured.
            rate_limit_per_hour: Some(1_000_000_000),
            created_at: FIRST_DAY_MS,
        };
        store::insert_project(&db, &project).await?;
        let (_, key) = store::create_key(&db, &hasher, &id, "bench", &scopes, None, FIRST_DAY_MS)
            .await
            .with_context(|| format!("key for {id}"))?;
        for integration in integrations(p) {
            dashtray_integrations::store::insert(&db, &integration).await?;
        }
        for dashboard in dashboards(p) {
            dashtray_dashboards::store::insert(&db, &dashboard).await?;
        }
        projects.push(BenchProject { id, key });
    }
    eprintln!(
        "  {} projects, keys, integrations and dashboards in {:.1}s",
        shape.projects,
        started.elapsed().as_secs_f64()
    );
    write_points(&db, shape).await?;
    if db.kind() == DatabaseKind::Postgres {
        // Fresh statistics and a visibility map, as a database that has lived with its
        // data would have (autovacuum's work): loaded by COPY and measured seconds later,
        // a count's index-only scan would visit the table for every row.
        db.execute_script("VACUUM ANALYZE").await?;
    } else {
        db.execute_script("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE")
            .await?;
    }
    db.close().await;
    Ok(Dataset {
        shape: shape.clone(),
        projects,
        generation_secs: started.elapsed().as_secs_f64(),
    })
}

async fn write_points(db: &Db, shape: &Shape) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut batch = Vec::with_capacity(ROWS_PER_TRANSACTION);
    // Project, then metric, then time: the order of the primary key (ids are numbered
    // so) and of the `(project_id, metric_id, ts, id)` index, so the indexes grow at
    // their ends instead of being written all over.
    for p in 0..shape.projects {
        let total = shape.points_of(p);
        let project = project_id(p);
        for m in 0..METRICS {
            let n = total / METRICS as u64 + u64::from((m as u64) < total % METRICS as u64);
            let integration = integration_id(p, m % 2);
            for k in 0..n {
                batch.push(NewPoint {
                    id: format!("pt_{p:06}{m:02}{k:06}"),
                    project_id: project.clone(),
                    metric_id: metric_id(m),
                    integration_id: Some(integration.clone()),
                    // Cents, as the data set has always held.
                    value: (value(p, m, k) * 100.0).round() / 100.0,
                    timestamp: timestamp(k, n),
                });
                if batch.len() == ROWS_PER_TRANSACTION {
                    write_batch(db, &mut batch).await?;
                }
            }
        }
    }
    write_batch(db, &mut batch).await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "  {} points in {secs:.1}s ({:.0} points/s)",
        shape.points,
        shape.points as f64 / secs
    );
    Ok(())
}

async fn write_batch(db: &Db, batch: &mut Vec<NewPoint>) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    points::append(&mut tx, batch).await?;
    tx.commit().await?;
    batch.clear();
    Ok(())
}

/// The `k`-th of `n` points of a series: daily at noon, ending on the last day, so the
/// last 30 days hold 30 points at every size (the same answer, more data around it);
/// more than two years of points are packed closer than a day.
fn timestamp(k: u64, n: u64) -> i64 {
    let last = FIRST_DAY_MS + (DAYS - 1) * DAY_MS + DAY_MS / 2;
    let step = if n as i64 <= DAYS {
        DAY_MS
    } else {
        (DAYS - 1) * DAY_MS / n as i64
    };
    last - (n - 1 - k) as i64 * step
}

/// A value that looks like a metric (a level per series, some noise), from a hash.
fn value(p: usize, m: usize, k: u64) -> f64 {
    let mut z = (p as u64) << 40 ^ (m as u64) << 32 ^ k;
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let noise = (z >> 11) as f64 / (1u64 << 53) as f64;
    (m as f64 + 1.0) * 100.0 * (1.0 + k as f64 / 1_000.0) * (0.9 + 0.2 * noise)
}

fn integrations(p: usize) -> Vec<NewIntegration> {
    [("stripe", "Stripe"), ("github", "GitHub")]
        .iter()
        .enumerate()
        .map(|(i, (provider, name))| NewIntegration {
            id: integration_id(p, i),
            project_id: project_id(p),
            provider: (*provider).into(),
            name: (*name).into(),
            status: "connected".into(),
            connected_at: FIRST_DAY_MS + i as i64 * 3_600_000,
            last_sync_at: Some(FIRST_DAY_MS + (DAYS - 1) * DAY_MS),
            metric_ids: (0..METRICS).filter(|m| m % 2 == i).map(metric_id).collect(),
        })
        .collect()
}

fn dashboards(p: usize) -> Vec<NewDashboard> {
    (0..3)
        .map(|d| NewDashboard {
            id: format!("dsh_bench{p:09}d{d}"),
            project_id: project_id(p),
            name: format!("Dashboard {d}"),
            description: "Generated for the benchmark.".into(),
            created_at: FIRST_DAY_MS + d * DAY_MS,
            updated_at: FIRST_DAY_MS + (d + 100) * DAY_MS,
            widgets: (0..4)
                .map(|w| NewWidget {
                    id: format!("wgt_bench{p:07}d{d}w{w}"),
                    widget_type: ["line", "bar", "number", "table"][w as usize].into(),
                    title: format!("Widget {w}"),
                    metric_ids: vec![metric_id(w as usize), metric_id(w as usize + 4)],
                    x: (w % 2) * 6,
                    y: (w / 2) * 4,
                    w: 6,
                    h: 4,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_add_up_and_keep_a_deep_page() {
        for points in [100_000, 1_000_000, 10_000_000] {
            let shape = Shape::new(points).unwrap();
            let sum: u64 = (0..shape.projects).map(|p| shape.points_of(p)).sum();
            assert_eq!(sum, points);
            assert!(shape.heavy_points > shape.deep_offset + 100);
            // Every series has at least the 30 days the metrics page asks for.
            assert!(shape.points_per_project / METRICS as u64 >= 30);
        }
        assert_eq!(Shape::new(100_000).unwrap().projects, 100);
        assert_eq!(Shape::new(10_000_000).unwrap().deep_offset, 100_000);
    }

    #[test]
    fn series_end_on_the_last_day_at_noon() {
        let last = FIRST_DAY_MS + 729 * DAY_MS + DAY_MS / 2;
        assert_eq!(timestamp(49, 50), last);
        assert_eq!(timestamp(0, 50), last - 49 * DAY_MS);
        assert!(timestamp(0, 10_000) >= FIRST_DAY_MS);
    }
}

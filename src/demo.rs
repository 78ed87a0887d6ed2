//! The demo data set: "Acme SaaS", a Scale project with four integrations, a dozen
//! metrics over two years of days and three dashboards.
//!
//! Deterministic: fixed ids, a fixed date range and a seeded generator, so the same
//! data comes out on every machine (snapshot tests depend on it) and loading it twice
//! adds nothing. Only the key is new each time.

use dashtray_core::{
    auth::{
        model::{KeyRecord, Project},
        store::{self, StoreError},
        Plan,
    },
    Services,
};
use dashtray_dashboards::store::{NewDashboard, NewWidget};
use dashtray_integrations::store::NewIntegration;
use dashtray_metrics::store::NewPoint;

pub const PROJECT_ID: &str = "prj_AcmeSaaSDemo0001";
/// 2024-11-01T00:00:00Z: the first day of data, and when the project was made.
pub const FIRST_DAY_MS: i64 = 1_730_419_200_000;
pub const DAYS: i64 = 730;
const DAY_MS: i64 = 86_400_000;

/// What `dashtray demo` loaded, and the key it made.
pub struct Loaded {
    pub project: Project,
    pub key: KeyRecord,
    pub secret: String,
    pub integrations: usize,
    pub metrics: usize,
    pub points: usize,
    pub dashboards: usize,
}

/// Loads the data set (idempotently) and makes a fresh key for it.
pub async fn load(services: &Services) -> anyhow::Result<Loaded> {
    let db = &services.db;
    let project = demo_project(services).await?;
    let integrations = integrations();
    for integration in &integrations {
        dashtray_integrations::store::insert(db, integration).await?;
    }
    let points = points();
    let mut tx = db.begin().await?;
    dashtray_metrics::store::insert(&mut tx, &points).await?;
    tx.commit().await?;
    let dashboards = dashboards();
    for dashboard in &dashboards {
        dashtray_dashboards::store::insert(db, dashboard).await?;
    }
    let mut scopes = crate::registry_for(&services.config)?
        .scopes(&services.config)
        .await?;
    scopes.extend(
        dashtray_core::auth::READ_SCOPES
            .iter()
            .map(|s| (*s).to_owned()),
    );
    let now = services.now_millis();
    let (key, secret) = store::create_key(
        db,
        services.authenticator.hasher(),
        PROJECT_ID,
        "demo",
        &scopes,
        None,
        now,
    )
    .await?;
    Ok(Loaded {
        project,
        key,
        secret,
        integrations: integrations.len(),
        metrics: METRICS.len(),
        points: points.len(),
        dashboards: dashboards.len(),
    })
}

async fn demo_project(services: &Services) -> Result<Project, StoreError> {
    if let Some(project) = store::get_project(&services.db, PROJECT_ID).await? {
        return Ok(project);
    }
    let project = Project {
        id: PROJECT_ID.into(),
        name: "Acme SaaS".into(),
        slug: "acme-saas".into(),
        plan: Plan::Scale,
        rate_limit_per_hour: None,
        created_at: FIRST_DAY_MS,
    };
    store::insert_project(&services.db, &project)
        .await
        .map_err(|err| match err {
            StoreError::Database(_) => StoreError::Invalid(
                "cannot create the demo project: is the slug `acme-saas` taken by another project?"
                    .into(),
            ),
            other => other,
        })?;
    Ok(project)
}

/// (integration id, provider, name, status, metrics it feeds)
const INTEGRATIONS: [(&str, &str, &str, &str, &[&str]); 4] = [
    (
        "int_DemoStripe000001",
        "stripe",
        "Stripe",
        "connected",
        &["mrr", "new_mrr", "paying_customers", "churn_rate"],
    ),
    (
        "int_DemoGitHub000001",
        "github",
        "GitHub",
        "connected",
        &["commits", "pull_requests", "issues_closed"],
    ),
    (
        "int_DemoAnalytics001",
        "google_analytics",
        "Google Analytics",
        "syncing",
        &["active_users", "sessions", "pageviews"],
    ),
    (
        "int_DemoDatabase0001",
        "postgres",
        "Production database",
        "connected",
        &["signups", "trial_starts"],
    ),
];

fn integrations() -> Vec<NewIntegration> {
    INTEGRATIONS
        .iter()
        .enumerate()
        .map(
            |(i, (id, provider, name, status, metrics))| NewIntegration {
                id: (*id).into(),
                project_id: PROJECT_ID.into(),
                provider: (*provider).into(),
                name: (*name).into(),
                status: (*status).into(),
                connected_at: FIRST_DAY_MS + i as i64 * 3_600_000,
                last_sync_at: Some(FIRST_DAY_MS + DAYS * DAY_MS - 1_800_000),
                metric_ids: metrics.iter().map(|m| (*m).to_owned()).collect(),
            },
        )
        .collect()
}

/// How a metric moves: a start, a monthly growth, noise, and how weekends look.
struct Shape {
    id: &'static str,
    start: f64,
    monthly_growth: f64,
    noise: f64,
    weekend: f64,
    decimals: i32,
}

const fn shape(
    id: &'static str,
    start: f64,
    monthly_growth: f64,
    noise: f64,
    weekend: f64,
    decimals: i32,
) -> Shape {
    Shape {
        id,
        start,
        monthly_growth,
        noise,
        weekend,
        decimals,
    }
}

const METRICS: [Shape; 12] = [
    shape("mrr", 42_000.0, 0.031, 0.004, 1.0, 2),
    shape("new_mrr", 1_450.0, 0.028, 0.35, 0.6, 2),
    shape("paying_customers", 310.0, 0.024, 0.004, 1.0, 0),
    shape("churn_rate", 2.6, -0.008, 0.06, 1.0, 2),
    shape("commits", 64.0, 0.012, 0.3, 0.15, 0),
    shape("pull_requests", 11.0, 0.01, 0.35, 0.2, 0),
    shape("issues_closed", 9.0, 0.011, 0.4, 0.25, 0),
    shape("active_users", 2_900.0, 0.035, 0.05, 0.72, 0),
    shape("sessions", 5_200.0, 0.034, 0.07, 0.7, 0),
    shape("pageviews", 21_000.0, 0.033, 0.08, 0.68, 0),
    shape("signups", 48.0, 0.03, 0.25, 0.55, 0),
    shape("trial_starts", 22.0, 0.029, 0.3, 0.5, 0),
];

fn integration_of(metric: &str) -> &'static str {
    INTEGRATIONS
        .iter()
        .find(|(_, _, _, _, metrics)| metrics.contains(&metric))
        .map(|(id, ..)| *id)
        .expect("every demo metric belongs to an integration")
}

/// SplitMix64: a tiny generator whose output is the same on every platform and release.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal, mean 0 and deviation 1 (sum of uniforms).
    fn noise(&mut self) -> f64 {
        (0..6).map(|_| self.next_f64()).sum::<f64>() - 3.0
    }
}

fn points() -> Vec<NewPoint> {
    let mut rng = SplitMix(0x0DA5_47A7);
    let mut points = Vec::with_capacity(METRICS.len() * DAYS as usize);
    for metric in &METRICS {
        for day in 0..DAYS {
            let months = day as f64 / 30.44;
            let trend = metric.start * (1.0 + metric.monthly_growth).powf(months);
            // 2024-11-01 was a Friday: days 1 and 2 of each week are the weekend.
            let weekend = matches!(day % 7, 1 | 2);
            let level = if weekend {
                trend * metric.weekend
            } else {
                trend
            };
            let value = (level * (1.0 + metric.noise * rng.noise())).max(0.0);
            let scale = 10f64.powi(metric.decimals);
            points.push(NewPoint {
                id: format!("pt_demo_{}_{day:03}", metric.id),
                project_id: PROJECT_ID.into(),
                metric_id: metric.id.into(),
                integration_id: Some(integration_of(metric.id).into()),
                value: (value * scale).round() / scale,
                // Each day's point at noon UTC.
                timestamp: FIRST_DAY_MS + day * DAY_MS + DAY_MS / 2,
            });
        }
    }
    points
}

fn widget(
    id: &str,
    kind: &str,
    title: &str,
    metrics: &[&str],
    (x, y, w, h): (i32, i32, i32, i32),
) -> NewWidget {
    NewWidget {
        id: id.into(),
        widget_type: kind.into(),
        title: title.into(),
        metric_ids: metrics.iter().map(|m| (*m).to_owned()).collect(),
        x,
        y,
        w,
        h,
    }
}

fn dashboards() -> Vec<NewDashboard> {
    let dashboard =
        |id: &str, name: &str, description: &str, offset_days: i64, widgets| NewDashboard {
            id: id.into(),
            project_id: PROJECT_ID.into(),
            name: name.into(),
            description: description.into(),
            created_at: FIRST_DAY_MS + offset_days * DAY_MS,
            updated_at: FIRST_DAY_MS + (offset_days + 200) * DAY_MS,
            widgets,
        };
    vec![
        dashboard(
            "dsh_DemoRevenue00001",
            "Revenue",
            "Recurring revenue, customers and churn.",
            0,
            vec![
                widget(
                    "wgt_DemoRevenue00001",
                    "line",
                    "MRR",
                    &["mrr"],
                    (0, 0, 8, 4),
                ),
                widget(
                    "wgt_DemoRevenue00002",
                    "number",
                    "Paying customers",
                    &["paying_customers"],
                    (8, 0, 4, 2),
                ),
                widget(
                    "wgt_DemoRevenue00003",
                    "line",
                    "Churn rate (%)",
                    &["churn_rate"],
                    (8, 2, 4, 2),
                ),
                widget(
                    "wgt_DemoRevenue00004",
                    "bar",
                    "New MRR",
                    &["new_mrr"],
                    (0, 4, 12, 3),
                ),
            ],
        ),
        dashboard(
            "dsh_DemoGrowth000001",
            "Growth",
            "Traffic, activation and signups.",
            1,
            vec![
                widget(
                    "wgt_DemoGrowth000001",
                    "line",
                    "Active users",
                    &["active_users"],
                    (0, 0, 6, 4),
                ),
                widget(
                    "wgt_DemoGrowth000002",
                    "line",
                    "Sessions and pageviews",
                    &["sessions", "pageviews"],
                    (6, 0, 6, 4),
                ),
                widget(
                    "wgt_DemoGrowth000003",
                    "bar",
                    "Signups",
                    &["signups"],
                    (0, 4, 8, 3),
                ),
                widget(
                    "wgt_DemoGrowth000004",
                    "number",
                    "Trial starts",
                    &["trial_starts"],
                    (8, 4, 4, 3),
                ),
            ],
        ),
        dashboard(
            "dsh_DemoEngineering1",
            "Engineering",
            "Delivery pace from GitHub.",
            2,
            vec![
                widget(
                    "wgt_DemoEngineering1",
                    "bar",
                    "Commits",
                    &["commits"],
                    (0, 0, 6, 3),
                ),
                widget(
                    "wgt_DemoEngineering2",
                    "line",
                    "Pull requests merged",
                    &["pull_requests"],
                    (6, 0, 6, 3),
                ),
                widget(
                    "wgt_DemoEngineering3",
                    "table",
                    "Issues closed",
                    &["issues_closed"],
                    (0, 3, 12, 3),
                ),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_set_is_the_same_every_time() {
        let (a, b) = (points(), points());
        assert_eq!(a, b);
        assert_eq!(a.len(), 12 * 730);
        let mrr: Vec<f64> = a
            .iter()
            .filter(|p| p.metric_id == "mrr")
            .map(|p| p.value)
            .collect();
        assert!(
            mrr[729] > mrr[0] * 1.8,
            "MRR grows over two years: {} → {}",
            mrr[0],
            mrr[729]
        );
        assert!(a.iter().all(|p| p.value >= 0.0));
    }

    #[test]
    fn every_widget_shows_a_metric_the_data_has() {
        let metrics: Vec<&str> = METRICS.iter().map(|m| m.id).collect();
        for dashboard in dashboards() {
            for widget in dashboard.widgets {
                assert!(
                    widget
                        .metric_ids
                        .iter()
                        .all(|m| metrics.contains(&m.as_str())),
                    "{}",
                    widget.title
                );
            }
        }
    }
}

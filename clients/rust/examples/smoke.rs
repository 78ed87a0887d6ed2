//! Calls every operation of the Dashtray API through the progenitor client and prints one
//! `ok`/`FAIL <operationId> <status> <detail>` line each; exits 1 if any failed.
//! `.ci/clients` runs it against the demo server (`DASHTRAY_BASE_URL`, `DASHTRAY_API_KEY`).

use std::{fmt::Debug, num::NonZeroU32, process::ExitCode, str::FromStr};

use dashtray_client::{types, Error, ResponseValue};

/// The outcome of one call: its status and a line about the parsed body, or why not.
type Outcome = Result<(u16, String), String>;

/// Turns a call's result into an outcome: a 200 whose body `check` accepts.
fn outcome<T, E>(
    result: Result<ResponseValue<T>, Error<E>>,
    check: impl FnOnce(&T) -> Option<String>,
) -> Outcome
where
    Error<E>: Debug,
{
    let value = result.map_err(|e| format!("{e:?}").chars().take(200).collect::<String>())?;
    let status = value.status().as_u16();
    match (status, check(value.as_ref())) {
        (200, Some(detail)) => Ok((status, detail)),
        (_, _) => Err(format!("{status}: unexpected body")),
    }
}

struct Report(u32);

impl Report {
    fn line(&mut self, operation_id: &str, outcome: Outcome) {
        match outcome {
            Ok((status, detail)) => println!("ok {operation_id} {status} {detail}"),
            Err(why) => {
                println!("FAIL {operation_id} 0 {why}");
                self.0 += 1;
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let base = std::env::var("DASHTRAY_BASE_URL").expect("DASHTRAY_BASE_URL");
    let key = std::env::var("DASHTRAY_API_KEY").expect("DASHTRAY_API_KEY");
    let client = dashtray_client::with_key(&base, &key).expect("a client");
    let mut report = Report(0);

    let health = client.get_health().await;
    report.line(
        "getHealth",
        outcome(health, |h: &types::Health| {
            (h.status == types::HealthState::Ok).then(|| format!("Health status={}", h.status))
        }),
    );
    let window = client.get_rate_limit().await;
    report.line(
        "getRateLimit",
        outcome(window, |_: &types::RateLimitResponse| {
            Some("RateLimitResponse remaining is an integer".to_owned())
        }),
    );
    // A fixed week by day, so the answer's shape is the same on every run.
    let usage = client
        .get_usage(
            Some(&parse("2025-01-07")),
            None,
            Some(types::UsageInterval::Day),
            Some(&parse("2025-01-01")),
        )
        .await;
    report.line(
        "getUsage",
        outcome(usage, |u: &types::UsageResponse| {
            (u.data.series.len() == 1 && u.data.series[0].buckets.len() == 7).then(|| {
                let buckets = u.data.series[0].buckets.len();
                format!(
                    "UsageResponse interval={} buckets={buckets}",
                    u.data.interval
                )
            })
        }),
    );
    let json = client.get_open_api_json().await;
    report.line(
        "getOpenApiJson",
        outcome(json, |d: &serde_json::Value| {
            (d["openapi"] == "3.0.3").then(|| "serde_json::Value openapi=3.0.3".to_owned())
        }),
    );
    let yaml = match client.get_open_api_yaml().await {
        Ok(stream) => {
            let status = stream.status().as_u16();
            collect(stream.into_inner()).await.and_then(|text| {
                match status == 200 && text.contains("openapi: 3.0.3") {
                    true => Ok((status, "ByteStream with openapi: 3.0.3".to_owned())),
                    false => Err(format!("{status}: not the document")),
                }
            })
        }
        Err(e) => Err(format!("{e:?}")),
    };
    report.line("getOpenApiYaml", yaml);
    let project = client.get_project().await;
    report.line(
        "getProject",
        outcome(project, |p: &types::ProjectResponse| {
            (p.data.name == "Acme SaaS").then(|| format!("ProjectResponse name={}", p.data.name))
        }),
    );

    let points = client
        .list_metrics(
            None,
            None,
            NonZeroU32::new(2),
            Some(&parse("mrr")),
            None,
            None,
        )
        .await;
    let metric_id = points
        .as_ref()
        .ok()
        .and_then(|p| p.data.first().map(|point| point.metric_id.clone()))
        .unwrap_or_else(|| "mrr".to_owned());
    report.line(
        "listMetrics",
        outcome(points, |p: &types::MetricPointPage| {
            (p.data.len() == 2).then(|| format!("MetricPointPage of {}", p.data.len()))
        }),
    );
    // Positional, as progenitor generates them: path parameters, then the query's in
    // alphabetical order (agg, end_date, interval, start_date).
    let series = client
        .get_metric_time_series(
            &parse(&metric_id),
            Some(types::TimeSeriesAggregate::Last),
            &parse("2025-06-30"),
            Some(types::TimeSeriesInterval::Month),
            &parse("2025-01-01"),
        )
        .await;
    report.line(
        "getMetricTimeSeries",
        outcome(series, |s: &types::TimeSeriesResponse| {
            (s.data.buckets.len() == 6).then(|| {
                format!(
                    "TimeSeriesResponse {} interval={} buckets={}",
                    s.data.metric_id,
                    s.data.interval,
                    s.data.buckets.len()
                )
            })
        }),
    );

    let integrations = client.list_integrations(None, None).await;
    let first = integrations
        .as_ref()
        .ok()
        .and_then(|p| p.data.first().map(|i| i.id.clone()))
        .unwrap_or_default();
    report.line(
        "listIntegrations",
        outcome(integrations, |p: &types::IntegrationPage| {
            (!p.data.is_empty()).then(|| format!("IntegrationPage of {}", p.data.len()))
        }),
    );
    let integration = client.get_integration(&first).await;
    report.line(
        "getIntegration",
        outcome(integration, |i: &types::IntegrationResponse| {
            (i.data.id == first)
                .then(|| format!("IntegrationResponse provider={}", i.data.provider))
        }),
    );

    let dashboards = client.list_dashboards(None, None).await;
    let first = dashboards
        .as_ref()
        .ok()
        .and_then(|p| p.data.first().map(|d| d.id.clone()))
        .unwrap_or_default();
    report.line(
        "listDashboards",
        outcome(dashboards, |p: &types::DashboardPage| {
            (!p.data.is_empty()).then(|| format!("DashboardPage of {}", p.data.len()))
        }),
    );
    let dashboard = client.get_dashboard(&first).await;
    report.line(
        "getDashboard",
        outcome(dashboard, |d: &types::DashboardResponse| {
            (d.data.id == first)
                .then(|| format!("DashboardResponse widgets={}", d.data.widgets.len()))
        }),
    );

    match report.0 {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// A parameter's generated type from its text (the types check patterns and formats).
fn parse<T: FromStr<Err: Debug>>(text: &str) -> T {
    text.parse().expect("a valid parameter")
}

/// The whole body of a streamed answer, as text.
async fn collect(stream: dashtray_client::ByteStream) -> Result<String, String> {
    use futures_util::StreamExt;
    let mut chunks = stream.into_inner();
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
    }
    String::from_utf8(body).map_err(|e| e.to_string())
}

"""Calls every operation of the Dashtray API through the Python client openapi-generator
generated (package `dashtray_oag`, on PYTHONPATH). .ci/clients runs it against the demo
server: one `ok`/`FAIL` line per operation, exit status 1 if any failed."""

import os
import sys

import dashtray_oag
from dashtray_oag import models

failures = 0


def report(operation_id, call, expected_type, check, detail):
    """One line for the operation: ok when the answer is a 200 parsed into `expected_type`
    and `check` holds for it."""
    global failures
    try:
        response = call()
        parsed, status = response.data, int(response.status_code)
    except dashtray_oag.ApiException as err:
        parsed, status = err.body, err.status
    ok = status == 200 and isinstance(parsed, expected_type) and check(parsed)
    print(f"{'ok' if ok else 'FAIL'} {operation_id} {status} {detail(parsed) if ok else repr(parsed)[:200]}")
    failures += 0 if ok else 1
    return parsed if ok else None


config = dashtray_oag.Configuration(host=os.environ["DASHTRAY_BASE_URL"], access_token=os.environ["DASHTRAY_API_KEY"])
with dashtray_oag.ApiClient(config) as api:
    system = dashtray_oag.SystemApi(api)
    report("getHealth", system.get_health_with_http_info, models.Health,
           lambda h: h.status == models.HealthState.OK, lambda h: f"Health status={h.status.value}")
    report("getRateLimit", system.get_rate_limit_with_http_info, models.RateLimitResponse,
           lambda r: isinstance(r.data.remaining, int), lambda r: "RateLimitResponse remaining is an int")
    # A fixed week by day, so the answer's shape is the same on every run.
    report("getUsage", lambda: dashtray_oag.UsageApi(api).get_usage_with_http_info(
               start_date="2025-01-01", end_date="2025-01-07", interval=models.UsageInterval.DAY),
           models.UsageResponse,
           lambda u: len(u.data.series) == 1 and len(u.data.series[0].buckets) == 7 and isinstance(u.data.totals.requests, int),
           lambda u: f"UsageResponse interval={u.data.interval.value} buckets={len(u.data.series[0].buckets)}")
    report("getOpenApiJson", system.get_open_api_json_with_http_info, dict,
           lambda d: d["openapi"] == "3.0.3", lambda d: "dict openapi=3.0.3")
    # The generated call asks for `application/problem+json` (it prefers any JSON type the
    # operation lists), and this client reads text but not `application/yaml`: ask for
    # `text/yaml`.
    report("getOpenApiYaml", lambda: system.get_open_api_yaml_with_http_info(_headers={"Accept": "text/yaml"}),
           str, lambda text: "openapi: 3.0.3" in text, lambda text: "str with openapi: 3.0.3")
    report("getProject", dashtray_oag.ProjectsApi(api).get_project_with_http_info, models.ProjectResponse,
           lambda p: p.data.name == "Acme SaaS", lambda p: f"ProjectResponse name={p.data.name}")
    metrics = dashtray_oag.MetricsApi(api)
    points = report("listMetrics", lambda: metrics.list_metrics_with_http_info(metric_id="mrr", limit=2),
                    models.MetricPointPage, lambda p: len(p.data) == 2, lambda p: f"MetricPointPage of {len(p.data)}")
    metric_id = points.data[0].metric_id if points else "mrr"
    report("getMetricTimeSeries",
           lambda: metrics.get_metric_time_series_with_http_info(
               metric_id, start_date="2025-01-01", end_date="2025-06-30",
               interval=models.TimeSeriesInterval.MONTH, agg=models.TimeSeriesAggregate.LAST),
           models.TimeSeriesResponse, lambda s: len(s.data.buckets) == 6,
           lambda s: f"TimeSeriesResponse {s.data.metric_id} interval={s.data.interval.value} buckets={len(s.data.buckets)}")
    # Each list, then its first item by id: the document's link from one to the other.
    integrations, dashboards = dashtray_oag.IntegrationsApi(api), dashtray_oag.DashboardsApi(api)
    for list_id, list_call, page_type, get_id, get_call, item_type, detail in [
        ("listIntegrations", integrations.list_integrations_with_http_info, models.IntegrationPage,
         "getIntegration", integrations.get_integration_with_http_info, models.IntegrationResponse,
         lambda i: f"provider={i.data.provider}"),
        ("listDashboards", dashboards.list_dashboards_with_http_info, models.DashboardPage,
         "getDashboard", dashboards.get_dashboard_with_http_info, models.DashboardResponse,
         lambda d: f"widgets={len(d.data.widgets)}"),
    ]:
        page = report(list_id, list_call, page_type, lambda p: len(p.data) > 0,
                      lambda p: f"{type(p).__name__} of {len(p.data)}")
        first = page.data[0].id if page else "none"
        report(get_id, lambda: get_call(first), item_type, lambda r: r.data.id == first,
               lambda r: f"{type(r).__name__} {detail(r)}")

sys.exit(1 if failures else 0)

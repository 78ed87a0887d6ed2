"""Calls every operation of the Dashtray API through the client openapi-python-client
generated (package `dashtray_api_client`, on PYTHONPATH). .ci/clients runs it against the
demo server: one `ok`/`FAIL` line per operation, exit status 1 if any failed."""

import os
import sys
from datetime import date

from dashtray_api_client import AuthenticatedClient, models
from dashtray_api_client.api.dashboards import get_dashboard, list_dashboards
from dashtray_api_client.api.integrations import get_integration, list_integrations
from dashtray_api_client.api.metrics import get_metric_time_series, list_metrics
from dashtray_api_client.api.projects import get_project
from dashtray_api_client.api.system import get_health, get_open_api_json, get_open_api_yaml, get_rate_limit
from dashtray_api_client.api.usage import get_usage

failures = 0


def report(operation_id, response, expected_type, check, detail):
    """One line for the operation: ok when the answer is a 200 parsed into `expected_type`
    and `check` holds for it."""
    global failures
    parsed = response.parsed
    ok = response.status_code == 200 and isinstance(parsed, expected_type) and check(parsed)
    print(f"{'ok' if ok else 'FAIL'} {operation_id} {int(response.status_code)} {detail(parsed) if ok else repr(parsed)[:200]}")
    failures += 0 if ok else 1
    return parsed if ok else None


client = AuthenticatedClient(base_url=os.environ["DASHTRAY_BASE_URL"], token=os.environ["DASHTRAY_API_KEY"])
with client as c:
    report("getHealth", get_health.sync_detailed(client=c), models.Health,
           lambda h: h.status == models.HealthState.OK, lambda h: f"Health status={h.status.value}")
    report("getRateLimit", get_rate_limit.sync_detailed(client=c), models.RateLimitResponse,
           lambda r: isinstance(r.data.remaining, int), lambda r: "RateLimitResponse remaining is an int")
    # A fixed week by day, so the answer's shape is the same on every run.
    report("getUsage", get_usage.sync_detailed(client=c, start_date=date(2025, 1, 1), end_date=date(2025, 1, 7),
                                               interval=models.UsageInterval.DAY), models.UsageResponse,
           lambda u: len(u.data.series) == 1 and len(u.data.series[0].buckets) == 7 and isinstance(u.data.totals.requests, int),
           lambda u: f"UsageResponse interval={u.data.interval.value} buckets={len(u.data.series[0].buckets)}")
    report("getOpenApiJson", get_open_api_json.sync_detailed(client=c), object,
           lambda d: d.to_dict()["openapi"] == "3.0.3" if hasattr(d, "to_dict") else d["openapi"] == "3.0.3",
           lambda d: f"{type(d).__name__} openapi=3.0.3")
    report("getOpenApiYaml", get_open_api_yaml.sync_detailed(client=c), str,
           lambda text: "openapi: 3.0.3" in text, lambda text: "str with openapi: 3.0.3")
    report("getProject", get_project.sync_detailed(client=c), models.ProjectResponse,
           lambda p: p.data.name == "Acme SaaS", lambda p: f"ProjectResponse name={p.data.name}")
    points = report("listMetrics", list_metrics.sync_detailed(client=c, metric_id="mrr", limit=2), models.MetricPointPage,
                    lambda p: len(p.data) == 2, lambda p: f"MetricPointPage of {len(p.data)}")
    metric_id = points.data[0].metric_id if points else "mrr"
    report("getMetricTimeSeries",
           get_metric_time_series.sync_detailed(metric_id, client=c, start_date=date(2025, 1, 1), end_date=date(2025, 6, 30),
                                                interval=models.TimeSeriesInterval.MONTH, agg=models.TimeSeriesAggregate.LAST),
           models.TimeSeriesResponse, lambda s: len(s.data.buckets) == 6,
           lambda s: f"TimeSeriesResponse {s.data.metric_id} interval={s.data.interval.value} buckets={len(s.data.buckets)}")
    # Each list, then its first item by id: the document's link from one to the other.
    for list_id, list_call, page_type, get_id, get_call, item_type, detail in [
        ("listIntegrations", list_integrations, models.IntegrationPage,
         "getIntegration", get_integration, models.IntegrationResponse, lambda i: f"provider={i.data.provider}"),
        ("listDashboards", list_dashboards, models.DashboardPage,
         "getDashboard", get_dashboard, models.DashboardResponse, lambda d: f"widgets={len(d.data.widgets)}"),
    ]:
        page = report(list_id, list_call.sync_detailed(client=c), page_type, lambda p: len(p.data) > 0,
                      lambda p: f"{type(p).__name__} of {len(p.data)}")
        first = page.data[0].id if page else "none"
        report(get_id, get_call.sync_detailed(first, client=c), item_type, lambda r: r.data.id == first,
               lambda r: f"{type(r).__name__} {detail(r)}")

sys.exit(1 if failures else 0)

// Calls every operation of the Dashtray API through openapi-fetch, typed by the
// `dashtray.d.ts` openapi-typescript generated next to this file. .ci/clients compiles it
// with `tsc --strict` and runs it against the demo server: one `ok`/`FAIL` line per
// operation, exit status 1 if any failed.
import createClient from "openapi-fetch";
import type { components, paths } from "./dashtray.js";

type Schemas = components["schemas"];

const baseUrl = process.env.DASHTRAY_BASE_URL ?? "http://127.0.0.1:8080";
const client = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${process.env.DASHTRAY_API_KEY ?? ""}` },
});

let failures = 0;
function report(operationId: string, status: number, ok: boolean, detail: string): void {
  console.log(`${ok ? "ok" : "FAIL"} ${operationId} ${status} ${detail}`);
  if (!ok) failures += 1;
}

{
  const { data, response } = await client.GET("/api/v1/health");
  const health: Schemas["Health"] | undefined = data;
  report("getHealth", response.status, response.status === 200 && health?.status === "ok",
    `Health status=${health?.status}`);
}
{
  const { data, response } = await client.GET("/api/v1/rate_limit");
  const window: Schemas["RateLimitWindow"] | undefined = data?.data;
  report("getRateLimit", response.status, response.status === 200 && typeof window?.remaining === "number",
    `RateLimitResponse remaining is a ${typeof window?.remaining}`);
}
{
  // A fixed week by day, so the answer's shape is the same on every run.
  const { data, response } = await client.GET("/api/v1/usage", {
    params: { query: { start_date: "2025-01-01", end_date: "2025-01-07", interval: "day" } },
  });
  const usage: Schemas["Usage"] | undefined = data?.data;
  report("getUsage", response.status,
    response.status === 200 && usage?.series.length === 1 && usage.series[0]?.buckets.length === 7
      && typeof usage.totals.requests === "number",
    `UsageResponse interval=${usage?.interval} buckets=${usage?.series[0]?.buckets.length}`);
}
{
  const { data, response } = await client.GET("/api/v1/openapi.json");
  const version = (data as { openapi?: unknown } | undefined)?.openapi;
  report("getOpenApiJson", response.status, response.status === 200 && version === "3.0.3",
    `document openapi=${version}`);
}
{
  const { data, response } = await client.GET("/api/v1/openapi.yaml", { parseAs: "text" });
  const text: string | undefined = data;
  report("getOpenApiYaml", response.status, response.status === 200 && !!text?.includes("openapi: 3.0.3"),
    `${typeof text} with openapi: 3.0.3`);
}
{
  const { data, response } = await client.GET("/api/v1/projects");
  const project: Schemas["Project"] | undefined = data?.data;
  report("getProject", response.status, response.status === 200 && project?.name === "Acme SaaS",
    `ProjectResponse name=${project?.name}`);
}
let metricId: string | undefined;
{
  const { data, response } = await client.GET("/api/v1/metrics", { params: { query: { metric_id: "mrr", limit: 2 } } });
  const page: Schemas["MetricPointPage"] | undefined = data;
  metricId = page?.data[0]?.metricId;
  report("listMetrics", response.status, response.status === 200 && page?.data.length === 2,
    `MetricPointPage of ${page?.data.length}, total=${page?.pagination.total}`);
}
{
  const { data, response } = await client.GET("/api/v1/metrics/{metric_id}/timeseries", {
    params: {
      path: { metric_id: metricId ?? "" },
      query: { start_date: "2025-01-01", end_date: "2025-06-30", interval: "month", agg: "last" },
    },
  });
  const series: Schemas["TimeSeries"] | undefined = data?.data;
  report("getMetricTimeSeries", response.status,
    response.status === 200 && series?.metricId === "mrr" && series.buckets.length === 6,
    `TimeSeriesResponse ${series?.metricId} interval=${series?.interval} buckets=${series?.buckets.length}`);
}
{
  const { data, response } = await client.GET("/api/v1/integrations");
  const first: Schemas["Integration"] | undefined = data?.data[0];
  report("listIntegrations", response.status, response.status === 200 && first !== undefined,
    `IntegrationPage of ${data?.data.length}`);
  const one = await client.GET("/api/v1/integrations/{integration_id}", {
    params: { path: { integration_id: first?.id ?? "" } },
  });
  const integration: Schemas["Integration"] | undefined = one.data?.data;
  report("getIntegration", one.response.status, one.response.status === 200 && integration?.id === first?.id,
    `IntegrationResponse provider=${integration?.provider}`);
}
{
  const { data, response } = await client.GET("/api/v1/dashboards");
  const first: Schemas["Dashboard"] | undefined = data?.data[0];
  report("listDashboards", response.status, response.status === 200 && first !== undefined,
    `DashboardPage of ${data?.data.length}`);
  const one = await client.GET("/api/v1/dashboards/{dashboard_id}", {
    params: { path: { dashboard_id: first?.id ?? "" } },
  });
  const dashboard: Schemas["Dashboard"] | undefined = one.data?.data;
  report("getDashboard", one.response.status, one.response.status === 200 && dashboard?.id === first?.id,
    `DashboardResponse widgets=${dashboard?.widgets.length}`);
}
process.exit(failures === 0 ? 0 : 1);

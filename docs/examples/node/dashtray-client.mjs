#!/usr/bin/env node
// Dashtray API example client for Node.js 18+ (built-in fetch, no npm packages).
// It follows the API's four best practices: the key comes from the environment, 429 and
// 503 are retried (Retry-After, else exponential backoff with jitter), answers are cached
// by ETag (a 304 does not count against the rate limit), and usage is logged to stderr.
//
//   DASHTRAY_API_KEY=dk_... node dashtray-client.mjs                     # a short session
//   DASHTRAY_API_KEY=dk_... DASHTRAY_REPEAT=3 node dashtray-client.mjs /api/v1/projects
//
// stdout: one JSON object per request, {"path", "status", "fromCache", "body"}.
// Exit codes: 0 done, 1 a request failed, 2 bad configuration, 75 gave up waiting (try later).

import { pathToFileURL } from "node:url";

const env = process.env;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 30_000;

class DashtrayError extends Error {
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

function log(message) {
  process.stderr.write(`dashtray: ${message}\n`);
}

function positiveInt(name, fallback, zeroAllowed = false) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < (zeroAllowed ? 0 : 1)) {
    throw new DashtrayError(`${name} must be a whole number, got "${raw}"`, 2);
  }
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const secs = (ms) => String(Math.round(ms) / 1000);

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date), or null. */
function retryAfterMs(value) {
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random. */
function backoffMs(attempt) {
  const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return delay / 2 + Math.random() * (delay / 2);
}

export class DashtrayClient {
  constructor({ baseUrl, apiKey, maxAttempts = 5, maxWaitSecs = 60 }) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.maxAttempts = maxAttempts; // tries per request
    this.maxWaitSecs = maxWaitSecs; // total wait per request
    this.cache = new Map(); // url -> { etag, body }
  }

  /** GET a path; returns { path, status, fromCache, body }. */
  async get(path) {
    const url = this.baseUrl + path;
    let waitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      const cached = this.cache.get(url);
      const headers = { Authorization: `Bearer ${this.apiKey}`, Accept: "application/json" };
      if (cached) headers["If-None-Match"] = cached.etag;

      let res = null;
      let body = null;
      let failure;
      try {
        res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
        body = parseBody(await res.text());
        this.logUsage(path, res);
      } catch (err) {
        failure = `network error: ${err.cause?.message || err.message}`;
      }

      if (res && res.ok) {
        const etag = res.headers.get("etag");
        if (etag) this.cache.set(url, { etag, body });
        return { path, status: res.status, fromCache: false, body };
      }
      if (res && res.status === 304 && cached) {
        log(`cache hit: GET ${path} -> 304 Not Modified, using the cached body`);
        return { path, status: 304, fromCache: true, body: cached.body };
      }
      if (res && res.status !== 429 && res.status !== 503) {
        throw new DashtrayError(`GET ${path} failed: ${res.status} ${describe(body)}`, 1);
      }

      // 429 or 503 (or the network): wait and try again, within limits.
      failure ??= `${res.status} ${describe(body)}`;
      if (attempt >= this.maxAttempts) {
        throw new DashtrayError(`giving up on GET ${path} after ${attempt} attempts; last answer: ${failure}`, 75);
      }
      const asked = res ? retryAfterMs(res.headers.get("retry-after")) : null;
      const waitMs = asked ?? backoffMs(attempt);
      const how = asked === null ? "exponential backoff" : "Retry-After";
      if (waitedMs + waitMs > this.maxWaitSecs * 1000) {
        throw new DashtrayError(
          `giving up on GET ${path}: retrying needs another ${secs(waitMs)} s wait (${how}), ` +
            `more than DASHTRAY_MAX_WAIT_SECS=${this.maxWaitSecs} allows; last answer: ${failure}`,
          75,
        );
      }
      log(`GET ${path} -> ${res ? res.status : "no answer"}, waiting ${secs(waitMs)} s (${how}) before attempt ${attempt + 1} of ${this.maxAttempts}`);
      await sleep(waitMs);
      waitedMs += waitMs;
    }
  }

  /** Logs the answer's rate-limit headers, and warns when under 10% is left. */
  logUsage(path, res) {
    const limit = res.headers.get("x-ratelimit-limit");
    const remaining = res.headers.get("x-ratelimit-remaining");
    const reset = res.headers.get("x-ratelimit-reset");
    if (limit === null || remaining === null) {
      log(`GET ${path} -> ${res.status}`);
      return;
    }
    const resetIn = reset === null ? "?" : Math.max(0, Number(reset) - Math.floor(Date.now() / 1000));
    log(`GET ${path} -> ${res.status} (rate limit: ${remaining}/${limit} left, resets in ${resetIn} s)`);
    if (Number(remaining) * 10 < Number(limit)) {
      log(`warning: only ${remaining} of ${limit} requests left in this window (under 10%), resets in ${resetIn} s`);
    }
  }
}

/** The body as JSON when it is JSON, else as text; null when empty. */
function parseBody(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** "code: message" from a problem+json body. */
function describe(body) {
  if (body && typeof body === "object" && body.error) {
    return `${body.error}: ${body.message ?? body.detail ?? ""}`;
  }
  return body === null ? "" : JSON.stringify(body);
}

async function main(args) {
  const apiKey = env.DASHTRAY_API_KEY;
  if (!apiKey) {
    throw new DashtrayError(
      "DASHTRAY_API_KEY is not set: export your API key (dk_...) first; create one with `dashtray keys create`",
      2,
    );
  }
  const client = new DashtrayClient({
    baseUrl: env.DASHTRAY_BASE_URL || "http://127.0.0.1:8080",
    apiKey,
    maxAttempts: positiveInt("DASHTRAY_MAX_ATTEMPTS", 5),
    maxWaitSecs: positiveInt("DASHTRAY_MAX_WAIT_SECS", 60, true),
  });
  const repeat = positiveInt("DASHTRAY_REPEAT", 1);
  const timeseries =
    "/api/v1/metrics/mrr/timeseries?interval=month&agg=last&start_date=2025-01-01&end_date=2025-06-30";
  const paths = args.length
    ? Array(repeat).fill(args[0])
    : ["/api/v1/projects", timeseries, timeseries, "/api/v1/rate_limit"];
  for (const path of paths) {
    const result = await client.get(path);
    process.stdout.write(JSON.stringify(result) + "\n");
  }
}

// Run only when executed directly, so `DashtrayClient` can also be imported.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err) => {
    log(err.message);
    process.exitCode = err.exitCode ?? 1;
  });
}

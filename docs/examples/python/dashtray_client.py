#!/usr/bin/env python3
"""Dashtray API example client for Python 3.8+ (needs only `requests`).

It follows the API's four best practices: the key comes from the environment, 429 and
503 are retried (Retry-After, else exponential backoff with jitter), answers are cached
by ETag (a 304 does not count against the rate limit), and usage is logged to stderr.

    DASHTRAY_API_KEY=dk_... python3 dashtray_client.py                    # a short session
    DASHTRAY_API_KEY=dk_... DASHTRAY_REPEAT=3 python3 dashtray_client.py /api/v1/projects

Set DASHTRAY_CACHE_FILE=path.json to keep the ETag cache between runs.
stdout: one JSON object per request, {"path", "status", "fromCache", "body"}.
Exit codes: 0 done, 1 a request failed, 2 bad configuration, 75 gave up waiting (try later).
"""

import email.utils
import hashlib
import json
import os
import random
import sys
import time

import requests

BACKOFF_BASE_SECS = 1.0
BACKOFF_CAP_SECS = 30.0
TIMESERIES = (
    "/api/v1/metrics/mrr/timeseries"
    "?interval=month&agg=last&start_date=2025-01-01&end_date=2025-06-30"
)


class DashtrayError(Exception):
    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def log(message):
    print(f"dashtray: {message}", file=sys.stderr, flush=True)


def env_int(name, default, minimum=1):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise DashtrayError(f'{name} must be a whole number, got "{raw}"', 2)
    return int(raw)


def retry_after_secs(value):
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_secs(attempt):
    """Exponential backoff with "equal jitter": half the delay fixed, half random."""
    delay = min(BACKOFF_CAP_SECS, BACKOFF_BASE_SECS * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def describe(body):
    """`code: message` from a problem+json body."""
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('message') or body.get('detail', '')}"
    return "" if body is None else json.dumps(body)


class DashtrayClient:
    def __init__(self, base_url, api_key, max_attempts=5, max_wait_secs=60, cache_file=None):
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts  # tries per request
        self.max_wait_secs = max_wait_secs  # total wait per request
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.session.headers["Accept"] = "application/json"
        # Answers differ per key (`Vary: Authorization`): keep the key's fingerprint in
        # the cache key, never the key itself.
        self.key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        self.cache_file = cache_file
        self.cache = {}  # "<key fingerprint> <url>" -> {"etag", "body"}
        if cache_file and os.path.exists(cache_file):
            with open(cache_file, encoding="utf-8") as f:
                self.cache = json.load(f)

    def get(self, path):
        """GET a path; returns {"path", "status", "fromCache", "body"}."""
        url = self.base_url + path
        cache_key = f"{self.key_id} {url}"
        waited = 0.0
        attempt = 1
        while True:
            cached = self.cache.get(cache_key)
            headers = {"If-None-Match": cached["etag"]} if cached else {}
            try:
                res = self.session.get(url, headers=headers, timeout=30)
                body = parse_body(res)
                self.log_usage(path, res)
                failure = f"{res.status_code} {describe(body)}"
            except requests.RequestException as err:
                res, failure = None, f"network error: {err}"

            # Not `res.ok`: requests counts a 304 as ok.
            if res is not None and 200 <= res.status_code < 300:
                if res.headers.get("ETag"):
                    self.remember(cache_key, res.headers["ETag"], body)
                return {"path": path, "status": res.status_code, "fromCache": False, "body": body}
            if res is not None and res.status_code == 304 and cached:
                log(f"cache hit: GET {path} -> 304 Not Modified, using the cached body")
                return {"path": path, "status": 304, "fromCache": True, "body": cached["body"]}
            if res is not None and res.status_code not in (429, 503):
                raise DashtrayError(f"GET {path} failed: {failure}", 1)

            # 429 or 503 (or the network): wait and try again, within limits.
            if attempt >= self.max_attempts:
                raise DashtrayError(
                    f"giving up on GET {path} after {attempt} attempts; last answer: {failure}", 75
                )
            asked = retry_after_secs(res.headers.get("Retry-After")) if res is not None else None
            wait = backoff_secs(attempt) if asked is None else asked
            how = "exponential backoff" if asked is None else "Retry-After"
            if waited + wait > self.max_wait_secs:
                raise DashtrayError(
                    f"giving up on GET {path}: retrying needs another {round(wait, 3):g} s "
                    f"wait ({how}), more than DASHTRAY_MAX_WAIT_SECS={self.max_wait_secs} allows; "
                    f"last answer: {failure}",
                    75,
                )
            status = res.status_code if res is not None else "no answer"
            log(
                f"GET {path} -> {status}, waiting {round(wait, 3):g} s ({how}) "
                f"before attempt {attempt + 1} of {self.max_attempts}"
            )
            time.sleep(wait)
            waited += wait
            attempt += 1

    def remember(self, cache_key, etag, body):
        self.cache[cache_key] = {"etag": etag, "body": body}
        if self.cache_file:
            tmp = f"{self.cache_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.cache, f)
            os.replace(tmp, self.cache_file)

    def log_usage(self, path, res):
        """Logs the answer's rate-limit headers, and warns when under 10% is left."""
        limit = res.headers.get("X-RateLimit-Limit")
        remaining = res.headers.get("X-RateLimit-Remaining")
        reset = res.headers.get("X-RateLimit-Reset")
        if limit is None or remaining is None:
            log(f"GET {path} -> {res.status_code}")
            return
        reset_in = max(0, int(reset) - int(time.time())) if reset else "?"
        log(
            f"GET {path} -> {res.status_code} "
            f"(rate limit: {remaining}/{limit} left, resets in {reset_in} s)"
        )
        if int(remaining) * 10 < int(limit):
            log(
                f"warning: only {remaining} of {limit} requests left in this window "
                f"(under 10%), resets in {reset_in} s"
            )


def parse_body(res):
    """The body as JSON when it is JSON, else as text; None when empty."""
    if not res.content:
        return None
    try:
        return res.json()
    except ValueError:
        return res.text


def main(args):
    api_key = os.environ.get("DASHTRAY_API_KEY")
    if not api_key:
        raise DashtrayError(
            "DASHTRAY_API_KEY is not set: export your API key (dk_...) first; "
            "create one with `dashtray keys create`",
            2,
        )
    client = DashtrayClient(
        os.environ.get("DASHTRAY_BASE_URL") or "http://127.0.0.1:8080",
        api_key,
        max_attempts=env_int("DASHTRAY_MAX_ATTEMPTS", 5),
        max_wait_secs=env_int("DASHTRAY_MAX_WAIT_SECS", 60, minimum=0),
        cache_file=os.environ.get("DASHTRAY_CACHE_FILE") or None,
    )
    if args:
        paths = [args[0]] * env_int("DASHTRAY_REPEAT", 1)
    else:
        paths = ["/api/v1/projects", TIMESERIES, TIMESERIES, "/api/v1/rate_limit"]
    for path in paths:
        print(json.dumps(client.get(path)), flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except DashtrayError as err:
        log(str(err))
        sys.exit(err.exit_code)

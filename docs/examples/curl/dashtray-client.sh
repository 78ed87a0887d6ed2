#!/usr/bin/env bash
# Dashtray API example client in bash + curl (no jq needed; bash 3.2+, curl 7.55+).
# It follows the API's four best practices: the key comes from the environment (and is
# passed to curl on stdin, so `ps` never shows it), 429 and 503 are retried (Retry-After,
# else exponential backoff with jitter), answers are cached by ETag (a 304 does not count
# against the rate limit), and usage is logged to stderr.
#
#   DASHTRAY_API_KEY=dk_... bash dashtray-client.sh                     # a short session
#   DASHTRAY_API_KEY=dk_... DASHTRAY_REPEAT=3 bash dashtray-client.sh /api/v1/projects
#
# stdout: one JSON object per request, {"path", "status", "fromCache", "body"}.
# Exit codes: 0 done, 1 a request failed, 2 bad configuration, 75 gave up waiting (try later).
set -euo pipefail

log() { printf 'dashtray: %s\n' "$*" >&2; }

if [ -z "${DASHTRAY_API_KEY:-}" ]; then
  # shellcheck disable=SC2016 # the backticks are meant literally
  log 'DASHTRAY_API_KEY is not set: export your API key (dk_...) first; create one with `dashtray keys create`'
  exit 2
fi
BASE_URL="${DASHTRAY_BASE_URL:-http://127.0.0.1:8080}"
BASE_URL="${BASE_URL%/}"
MAX_ATTEMPTS="${DASHTRAY_MAX_ATTEMPTS:-5}"    # tries per request
MAX_WAIT_SECS="${DASHTRAY_MAX_WAIT_SECS:-60}" # total wait per request
REPEAT="${DASHTRAY_REPEAT:-1}"
for setting in MAX_ATTEMPTS:"$MAX_ATTEMPTS" MAX_WAIT_SECS:"$MAX_WAIT_SECS" REPEAT:"$REPEAT"; do
  case "${setting#*:}" in
    '' | *[!0-9]*) log "DASHTRAY_${setting%%:*} must be a whole number, got \"${setting#*:}\""; exit 2 ;;
  esac
done
BACKOFF_BASE_MS=1000
BACKOFF_CAP_MS=30000

# The ETag cache: <id>.etag and <id>.body per URL, in a folder removed on exit.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# header NAME: the value of the last NAME header of the latest answer.
header() {
  grep -i "^$1:" "$WORK/headers" | tail -n 1 | tr -d '\r' | sed 's/^[^:]*:[[:space:]]*//' || true
}

# field NAME: a string field of the latest body (enough for problem+json, without jq).
field() {
  sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$WORK/body" | head -n 1
}

# emit PATH STATUS FROM_CACHE BODY_FILE: one JSON line on stdout.
emit() {
  local path="${1//\\/\\\\}" body
  path="${path//\"/\\\"}"
  body="$(tr -d '\n' <"$4")"
  printf '{"path":"%s","status":%s,"fromCache":%s,"body":%s}\n' "$path" "$2" "$3" "${body:-null}"
}

# Logs the answer's rate-limit headers, and warns when under 10% is left.
log_usage() {
  local path="$1" status="$2" limit remaining reset reset_in
  limit="$(header X-RateLimit-Limit)"
  remaining="$(header X-RateLimit-Remaining)"
  reset="$(header X-RateLimit-Reset)"
  if [ -z "$limit" ] || [ -z "$remaining" ]; then
    log "GET $path -> $status"
    return
  fi
  reset_in="?"
  if [ -n "$reset" ]; then
    reset_in=$((reset - $(date +%s)))
    [ "$reset_in" -ge 0 ] || reset_in=0
  fi
  log "GET $path -> $status (rate limit: $remaining/$limit left, resets in $reset_in s)"
  if [ $((remaining * 10)) -lt "$limit" ]; then
    log "warning: only $remaining of $limit requests left in this window (under 10%), resets in $reset_in s"
  fi
}

# ms_to_secs MS: "1", "0.734".
ms_to_secs() {
  if [ $(($1 % 1000)) -eq 0 ]; then echo $(($1 / 1000)); else printf '%d.%03d\n' $(($1 / 1000)) $(($1 % 1000)); fi
}

# get PATH: GET with retries and the ETag cache; prints one JSON line.
get() {
  local path="$1" url="$BASE_URL$1" id attempt=1 waited_ms=0 status failure
  local code message retry_after wait_ms how delay_ms
  id="$(printf '%s' "$url" | cksum | cut -d ' ' -f 1)"
  while :; do
    local args=(--silent --show-error --max-time 30 --output "$WORK/body" --dump-header "$WORK/headers"
      --write-out '%{http_code}' --header @- --header 'Accept: application/json')
    if [ -f "$WORK/$id.etag" ]; then
      args+=(--header "If-None-Match: $(cat "$WORK/$id.etag")")
    fi
    : >"$WORK/body"
    : >"$WORK/headers"
    # The key goes to curl on stdin (`--header @-`), not on its command line.
    status="$(printf 'Authorization: Bearer %s\n' "$DASHTRAY_API_KEY" | curl "${args[@]}" "$url")" || status=000

    if [ "$status" != 000 ]; then
      log_usage "$path" "$status"
      code="$(field error)"
      message="$(field message)"
      failure="$status${code:+ $code}${message:+: $message}"
    else
      failure="no answer (curl failed)"
    fi
    case "$status" in
      2??)
        if [ -n "$(header ETag)" ]; then
          header ETag >"$WORK/$id.etag"
          cp "$WORK/body" "$WORK/$id.body"
        fi
        emit "$path" "$status" false "$WORK/body"
        return 0
        ;;
      304)
        if [ -f "$WORK/$id.body" ]; then
          log "cache hit: GET $path -> 304 Not Modified, using the cached body"
          emit "$path" 304 true "$WORK/$id.body"
          return 0
        fi
        log "GET $path failed: 304 without a cached body"
        exit 1
        ;;
      429 | 503 | 000) ;; # wait and try again, below
      *)
        log "GET $path failed: $failure"
        exit 1
        ;;
    esac

    if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then
      log "giving up on GET $path after $attempt attempts; last answer: $failure"
      exit 75
    fi
    retry_after="$(header Retry-After)"
    case "$retry_after" in
      '' | *[!0-9]*) # absent (or an HTTP date): exponential backoff with "equal jitter"
        delay_ms=$BACKOFF_CAP_MS
        [ "$attempt" -gt 15 ] || delay_ms=$((BACKOFF_BASE_MS << (attempt - 1)))
        [ "$delay_ms" -le "$BACKOFF_CAP_MS" ] || delay_ms=$BACKOFF_CAP_MS
        wait_ms=$((delay_ms / 2 + (RANDOM * 32768 + RANDOM) % (delay_ms / 2 + 1)))
        how="exponential backoff"
        ;;
      *)
        wait_ms=$((10#$retry_after * 1000))
        how="Retry-After"
        ;;
    esac
    if [ $((waited_ms + wait_ms)) -gt $((MAX_WAIT_SECS * 1000)) ]; then
      log "giving up on GET $path: retrying needs another $(ms_to_secs "$wait_ms") s wait ($how)," \
        "more than DASHTRAY_MAX_WAIT_SECS=$MAX_WAIT_SECS allows; last answer: $failure"
      exit 75
    fi
    log "GET $path -> ${status/#000/no answer}, waiting $(ms_to_secs "$wait_ms") s ($how) before attempt $((attempt + 1)) of $MAX_ATTEMPTS"
    sleep "$(ms_to_secs "$wait_ms")"
    waited_ms=$((waited_ms + wait_ms))
    attempt=$((attempt + 1))
  done
}

TIMESERIES='/api/v1/metrics/mrr/timeseries?interval=month&agg=last&start_date=2025-01-01&end_date=2025-06-30'
if [ $# -gt 0 ]; then
  i=0
  while [ "$i" -lt "$REPEAT" ]; do
    get "$1"
    i=$((i + 1))
  done
else
  for path in /api/v1/projects "$TIMESERIES" "$TIMESERIES" /api/v1/rate_limit; do get "$path"; done
fi

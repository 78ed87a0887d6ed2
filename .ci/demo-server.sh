# Sourced (not run) by the .ci scripts that call a demo server: `dashtray serve --demo` on
# a free port, its address and key read from the JSON line it prints.
#
#   start_server LOG [NAME=VALUE...]   starts it with that extra environment; sets $url, $key
#   stop_server                        stops it (safe to call when none runs)
#   json_field PATH                    the value at a dotted path of the JSON on stdin
#
# The caller sets $bin (the dashtray binary), $work (a scratch folder, holding serve.json)
# and $reports (where LOG is written), runs in the folder the server should run in, and
# calls stop_server on exit.

server_pid=

# json_field PATH: the value at a dotted path of the JSON object on stdin ("" if absent).
json_field() {
  python3 -c 'import json, sys
value = json.loads(sys.stdin.read() or "null")
for part in sys.argv[1].split("."):
    value = value.get(part) if isinstance(value, dict) else None
print("" if value is None else value)' "$1"
}

start_server() {
  local log=$1
  shift
  : >"$work/serve.json"
  env "$@" "$bin" serve --demo --bind 127.0.0.1:0 --json >"$work/serve.json" 2>"$reports/$log" &
  server_pid=$!
  for _ in $(seq 1 300); do
    if [ -s "$work/serve.json" ] && url=$(json_field url <"$work/serve.json" 2>/dev/null) &&
      [ -n "$url" ]; then
      key=$(json_field demo.key <"$work/serve.json")
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "the server exited; its log:" >&2
      cat "$reports/$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the server printed no URL within 30 s" >&2
  return 1
}

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}

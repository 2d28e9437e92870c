#!/usr/bin/env bash
# Measures the peak RSS of `paddock ask` against hostile HTTP responses: a 600 MB SSE line with no
# newline, a 300 MB error body, a 300 MB non-streamed JSON answer, one 100 MB SSE event, and
# 2,000,000 small deltas. Goal: peak RSS <= 64 MB in every case, whatever the server sends.
# Serves each case from scripts/hostile_server.py on loopback, runs paddock once per case under
# /usr/bin/time -v and a timeout, and prints one line per case; exits 1 (after all cases) if any
# case peaks above the goal or times out.
# Does not build: uses $PADDOCK_BIN, else target/release/paddock, else target/debug/paddock.
# Usage: scripts/measure-hostile-rss.sh [CASE...]   (default: all five cases)
#   HOSTILE_SCALE=0.1  multiply every response size     HOSTILE_TIMEOUT=120  seconds per run
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."
all_cases=(long-line huge-error huge-json huge-event many-deltas)
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=("${all_cases[@]}")
limit=${HOSTILE_TIMEOUT:-120}
goal_mb=64

if [ -n "${PADDOCK_BIN:-}" ]; then
  case $PADDOCK_BIN in /*) bin=$PADDOCK_BIN ;; */*) bin=$here/$PADDOCK_BIN ;; *) bin=$(command -v "$PADDOCK_BIN" || true) ;; esac
elif [ -x target/release/paddock ]; then
  bin=$PWD/target/release/paddock
else
  bin=$PWD/target/debug/paddock
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "no paddock binary at ${bin:-$PADDOCK_BIN}: cargo build --release, or set PADDOCK_BIN" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time: apt-get install time" >&2; exit 2; }
command -v timeout >/dev/null || { echo "needs timeout (coreutils)" >&2; exit 2; }

work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill $server_pid 2>/dev/null; rm -rf "$work"' EXIT

# The first 160 characters of the last non-empty line of file $1, read from its end (stderr may be
# hundreds of MB), with control characters shown as '?'.
last_line() {
  python3 - "$1" <<'PY'
import os, re, sys
with open(sys.argv[1], "rb") as f:
    end = f.seek(0, os.SEEK_END)
    while end > 0:  # skip trailing newlines and blanks
        f.seek(max(0, end - 4096)); block = f.read(end - max(0, end - 4096))
        stripped = block.rstrip(b" \t\r\n")
        if stripped: end = max(0, end - 4096) + len(stripped); break
        end = max(0, end - 4096)
    start = end
    while start > 0:  # walk back to the start of that line
        lo = max(0, start - 65536); f.seek(lo); block = f.read(start - lo)
        nl = block.rfind(b"\n")
        if nl >= 0: start = lo + nl + 1; break
        start = lo
    f.seek(start); text = f.read(min(160, end - start)).decode("utf-8", "replace")
print(re.sub(r"[\x00-\x1f\x7f]", "?", text))
PY
}

echo "binary: $bin"
echo "goal: peak RSS <= $goal_mb MB in every case (timeout ${limit} s per run, HOSTILE_SCALE=${HOSTILE_SCALE:-1})"
printf '%-12s %9s %5s %8s  %s\n' case "peak MB" exit seconds "last stderr line"
failed=0
for case in "${cases[@]}"; do
  home=$work/$case
  mkdir -p "$home/data" "$home/state" "$home/config"
  python3 -u scripts/hostile_server.py --port 0 --case "$case" >"$work/port" 2>"$work/server.err" &
  server_pid=$!
  port=
  for _ in $(seq 100); do
    port=$(head -n 1 "$work/port" 2>/dev/null || true)
    [ -n "$port" ] && break
    kill -0 $server_pid 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "$case: hostile_server.py did not start: $(tail -n 1 "$work/server.err")" >&2
    failed=1; kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; server_pid=; continue
  fi
  flags=()
  [ "$case" = huge-json ] && flags=(--no-stream)
  rc=0
  start=$(date +%s%N)
  env -i PATH="$PATH" HOME="$home" XDG_DATA_HOME="$home/data" XDG_STATE_HOME="$home/state" \
    XDG_CONFIG_HOME="$home/config" OPENAI_API_KEY=x OPENAI_BASE_URL="http://127.0.0.1:$port/v1" \
    /usr/bin/time -v -o "$work/time" timeout -k 5 "$limit" "$bin" ask -p openai "${flags[@]}" "hi" \
    >/dev/null 2>"$work/stderr" || rc=$?
  end=$(date +%s%N)
  kill $server_pid 2>/dev/null || true
  wait $server_pid 2>/dev/null || true
  server_pid=
  kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$work/time" 2>/dev/null || true)
  note=
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then  # the peak of a cut-short run is only a lower bound
    note="(timed out after ${limit} s) "; failed=1
  fi
  if [ -z "$kb" ]; then
    mb="?"; failed=1
  else
    mb=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
    awk -v k="$kb" -v g="$goal_mb" 'BEGIN { exit !(k / 1024 > g) }' && failed=1
  fi
  secs=$(awk -v n=$((end - start)) 'BEGIN { printf "%.2f", n / 1e9 }')
  printf '%-12s %9s %5s %8s  %s\n' "$case" "$mb" "$rc" "$secs" "$note$(last_line "$work/stderr")"
  rm -rf "$home"
done
if [ $failed = 0 ]; then
  echo "PASS: every case peaked at or below $goal_mb MB"
else
  echo "FAIL: at least one case peaked above $goal_mb MB, timed out, or was not measured"
fi
exit $failed

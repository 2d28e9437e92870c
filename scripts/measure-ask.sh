#!/usr/bin/env bash
# Measures `paddock ask` against DESIGN.md §6: CPU per streamed chunk, peak RSS, start-up time.
# Starts `paddock mock` on a loopback port with a model that floods one-word chunks as fast as
# the socket allows, then reads /usr/bin/time's counts. Usage: scripts/measure-ask.sh [TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
tokens=${1:-200000}
cargo build --release --quiet
bin=target/release/paddock
work=$(mktemp -d)
trap 'kill $mock_pid 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/flood.toml" <<TOML
seed = 1
[[model]]
name = "flood"
protocol = "openai"
ttft_ms = 0
tokens_per_sec = 0
min_answer_tokens = $tokens
max_answer_tokens = $tokens
TOML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME=$work $bin mock --addr "127.0.0.1:$port" --scenario "$work/flood.toml" >/dev/null &
mock_pid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/v1/models" >/dev/null && break; sleep 0.1; done

# $1: "json" (one JSON object at the end) or "text" (the answer streamed through a pipe).
run_ask() {
  local flag=()
  [ "$1" = json ] && flag=(--json)
  HOME=$work OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY=x OPENAI_MODEL=flood \
    /usr/bin/time -f "%U %S %M" -o "$work/time" $bin ask --no-save -p openai "${flag[@]}" "go" \
    2>/dev/null | cat >/dev/null
  read -r user sys rss <"$work/time"
  python3 - "$1" "$user" "$sys" "$rss" "$tokens" <<'PY'
import sys
mode, user, sys_, rss, chunks = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"ask ({mode}): {chunks} chunks, cpu {user+sys_:.3f} s = {(user+sys_)/chunks*1e6:.2f} us/chunk, peak RSS {rss/1024:.1f} MB")
PY
}
for mode in json json text text; do run_ask $mode; done
start=$(date +%s%N); for _ in $(seq 20); do $bin --help >/dev/null; done; end=$(date +%s%N)
echo "--help: $(( (end - start) / 20000 )) us per run (mean of 20)"

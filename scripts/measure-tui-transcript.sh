#!/usr/bin/env bash
# Does a long transcript make the TUI cost more? CPU of the paddock process while one pane streams
# at ~200 chunks/s, first in a fresh conversation, then in a resumed one whose earlier answer
# holds 1 MB. DESIGN.md §6: the cost per frame is independent of the transcript's length (goal:
# the two differ by under 5%). Runs `paddock mock` as its own process and drives the TUI in tmux.
# A measurement, not a test: it asserts nothing.
# Usage: bash scripts/measure-tui-transcript.sh [SECONDS]   (default 8 s per sample)
#   BINS="before=/path/to/old/paddock after=target/release/paddock" compares builds, interleaved.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
if [ -z "${BINS:-}" ]; then
  cargo build --release --quiet
  BINS="paddock=$PWD/target/release/paddock"
fi
work=$(mktemp -d)
sock="paddock-transcript-$$"
mock_pid=
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; [ -n "$mock_pid" ] && kill $mock_pid 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$work/scenario.toml" <<EOF
seed = 1
[[model]]
name = "a"
protocol = "openai"
ttft_ms = 100
tokens_per_sec = 200
jitter = 0
min_answer_tokens = $((secs * 200 + 2000))
max_answer_tokens = $((secs * 200 + 2000))
context_window = 100000000
EOF
cat >"$work/config.toml" <<EOF
[[provider]]
name = "pa"
kind = "openai"
model = "a"
base_url = "http://127.0.0.1:$port/v1"
EOF
# The 1 MB transcript: a finished earlier turn of the same provider, as paddock saves it.
sessions="$work/data/paddock/sessions"
mkdir -p "$sessions"
python3 - "$sessions" <<'EOF'
import json, sys
para = "A paragraph of an earlier answer, with some *markdown* and `code`, long enough to wrap. " * 8
answer = ""
while len(answer) < 1_000_000:
    answer += para + "\n\n"
session = {
    "version": 1, "id": "20260101-000000-000-0000000001", "created": "2026-01-01T00:00:00Z",
    "providers": [{"name": "pa", "model": "a", "protocol": "openai", "turns": [{
        "id": "00000000000000aa", "prompt": "write a lot", "answer": answer, "complete": True,
        "metrics": {"ttft_ms": 100.0, "latency_ms": 5000.0, "input_tokens": 3,
                    "output_tokens": 250000, "finish_reason": "stop", "retries": 0,
                    "error": None, "cost_usd": None}}]}]}
json.dump(session, open(f"{sys.argv[1]}/{session['id']}.json", "w"))
EOF
cp "$sessions/20260101-000000-000-0000000001.json" "$work/pristine.json"

first_bin=${BINS%% *}; first_bin=${first_bin#*=}
$first_bin mock --addr "127.0.0.1:$port" --scenario "$work/scenario.toml" >/dev/null &
mock_pid=$!
sleep 0.5
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

sample() { # $1 label, $2 binary, $3 extra arguments
  local bin=$2
  # The 1 MB session as written, each time (a resumed run appends to it).
  cp "$work/pristine.json" "$sessions/20260101-000000-000-0000000001.json"
  tmux -L "$sock" new-session -d -x 160 -y 45 \
    "env HOME=$work XDG_DATA_HOME=$work/data XDG_STATE_HOME=$work/state TERM=xterm-256color $bin --config $work/config.toml $3"
  sleep 1.5
  local pid hz c0 c1
  pid=$(pgrep -f "^$bin --config $work/config.toml" | head -1)
  tmux -L "$sock" send-keys "go on" Enter
  sleep 1 # past the first token
  hz=$(getconf CLK_TCK)
  c0=$(cpu_ticks "$pid")
  sleep "$secs"
  c1=$(cpu_ticks "$pid")
  # A sample counts only if the pane was streaming (a refused request would measure nothing).
  tmux -L "$sock" capture-pane -p | grep -q "▶ streaming" || echo "$1: the pane was not streaming; this sample is void" >&2
  tmux -L "$sock" kill-server
  python3 -c "print(f'{($c1-$c0)/$hz/$secs*100:.2f}')" >"$work/$1"
  echo "$1: $(cat "$work/$1")% of one core over $secs s"
}

for round in 1 2; do
  for entry in $BINS; do
    name=${entry%%=*}; bin=${entry#*=}
    sample "$name-fresh-$round" "$bin" ""
    sample "$name-1MB-$round" "$bin" "--resume 20260101-000000-000-0000000001"
  done
done
for entry in $BINS; do
  name=${entry%%=*}
  python3 -c "
a = sum(float(open(f'$work/$name-fresh-{r}').read()) for r in (1, 2)) / 2
b = sum(float(open(f'$work/$name-1MB-{r}').read()) for r in (1, 2)) / 2
print(f'$name: fresh {a:.2f}%, after a 1 MB transcript {b:.2f}%: {(b - a) / a * 100:+.1f}% (goal: under 5%)')"
done

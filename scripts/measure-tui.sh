#!/usr/bin/env bash
# Measures the TUI against DESIGN.md §6: CPU of the paddock process while four panes stream at
# ~200 chunks/s each, and while four panes stream a flood (as fast as the socket allows).
# Runs `paddock mock` as a separate process so only the TUI is measured; drives the TUI in tmux.
# Usage: scripts/measure-tui.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/paddock
work=$(mktemp -d)
sock="paddock-measure-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; kill $mock_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

scenario() { # $1 tokens/s, $2 tokens per answer
  echo "seed = 1"
  for m in a b c d; do
    printf '[[model]]\nname = "%s"\nprotocol = "openai"\nttft_ms = 100\ntokens_per_sec = %s\njitter = 0\nmin_answer_tokens = %s\nmax_answer_tokens = %s\n' "$m" "$1" "$2" "$2"
  done
}
config() {
  for m in a b c d; do
    printf '[[provider]]\nname = "p%s"\nkind = "openai"\nmodel = "%s"\nbase_url = "http://127.0.0.1:%s/v1"\n' "$m" "$m" "$port"
  done
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # $1 label, $2 tokens/s, $3 tokens, $4 seconds to sample
  scenario "$2" "$3" >"$work/scenario.toml"
  config >"$work/config.toml"
  $bin mock --addr "127.0.0.1:$port" --scenario "$work/scenario.toml" >/dev/null &
  mock_pid=$!
  sleep 0.5
  tmux -L "$sock" new-session -d -x 200 -y 50 \
    "env HOME=$work TERM=xterm-256color $bin --config $work/config.toml"
  sleep 1
  local pid
  pid=$(pgrep -f "^$bin --config $work/config.toml" | head -1)
  tmux -L "$sock" send-keys "go" Enter
  local t0 c0 c1
  t0=$(date +%s%N); c0=$(cpu_ticks "$pid")
  sleep "$4"
  c1=$(cpu_ticks "$pid")
  local hz; hz=$(getconf CLK_TCK)
  python3 -c "print(f'$1: {($c1-$c0)/$hz:.2f} s CPU over $4 s = {($c1-$c0)/$hz/$4*100:.1f}% of one core')"
  # Wait until every pane says done, to see that the TUI kept up (no growing lag).
  local waited=0
  until [ "$(tmux -L "$sock" capture-pane -p | grep -o 'done (' | wc -l)" -ge 4 ] || [ $waited -ge 120 ]; do
    sleep 0.5; waited=$((waited + 1))
  done
  echo "$1: all four panes done $(( ($(date +%s%N) - t0) / 1000000 )) ms after the prompt was sent"
  tmux -L "$sock" kill-server
  kill $mock_pid; wait $mock_pid 2>/dev/null || true
}

measure "4 panes at 200 chunks/s" 200 1600 6
measure "4 panes, flood of 20000 chunks each" 0 20000 3

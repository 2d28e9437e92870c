#!/usr/bin/env bash
# Measure the shared rate budget's overhead: acquire (the reserve script) + settle against a
# loopback redis-server that the measurement starts itself, p50 and p99, with 1, 8 and 64
# concurrent acquirers. Goal: p50 <= 1 ms. A measurement, not a test: it asserts nothing.
# Usage: bash scripts/measure-redis-budget.sh   (needs redis-server: apt-get install redis-server)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }
# PROFILE=release for an optimised build (slow to compile on two cores); the default test build
# already optimises dependencies (Cargo.toml), and the time is mostly the Redis round trip.
cargo test ${PROFILE:+--profile "$PROFILE"} --test shared_budget -- --ignored --nocapture measure_acquire_settle_overhead 2>&1 \
  | grep -E "^acquire\+settle|test result"

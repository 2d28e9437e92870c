#!/usr/bin/env bash
# Fuzz every parser of outside bytes (tests/fuzz_inputs.rs) for N inputs, default 10 million, in
# release mode; prints the count, the time and "0 panics", or the input that panicked.
#   scripts/fuzz.sh [N]        PADDOCK_FUZZ_SEED=S scripts/fuzz.sh   (another reproducible run)
set -euo pipefail
cd "$(dirname "$0")/.."
export PADDOCK_FUZZ_INPUTS="${1:-10000000}"
cargo test --release --quiet --test fuzz_inputs -- --nocapture 2>&1 | grep -E '^fuzz:|panicked|test result'

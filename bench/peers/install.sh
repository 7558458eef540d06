#!/usr/bin/env bash
# Installs the optional benchmark peer `mcp-use` (Python) into .peers/bench-venv.
# The TypeScript SDK and the Python `mcp` SDK peers come from
# scripts/install-peers.sh (.peers/npm, .peers/venv).
#
# Idempotent: a second run only checks the installed version (well under a
# second). Never fails: without a network (or on any install error) it prints a
# note to stderr and exits 0, since the peers are optional. A venv left without
# an importable mcp_use is removed, so .peers/bench-venv/bin/python existing
# means the peer can run.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.peers/bench-venv"
MCP_USE=1.7.1

note() { echo "bench/peers/install.sh: $*" >&2; }

have_version() {
    "$VENV/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('mcp-use')!='$MCP_USE')" 2>/dev/null
}

if [ -x "$VENV/bin/python" ] && have_version; then
    note "mcp-use $MCP_USE ready in $VENV"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" >&2; then
        note "could not create $VENV (python3 -m venv failed); the mcp-use peer will be skipped"
        rm -rf "$VENV"
        exit 0
    fi
fi

note "installing mcp-use==$MCP_USE into $VENV"
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp-use==$MCP_USE" >&2 || ! have_version; then
    note "installing mcp-use==$MCP_USE failed (no network?); the mcp-use peer will be skipped"
    if ! "$VENV/bin/python" -c "import mcp_use" >/dev/null 2>&1; then
        rm -rf "$VENV"
    fi
    exit 0
fi
note "mcp-use $MCP_USE ready in $VENV"
exit 0

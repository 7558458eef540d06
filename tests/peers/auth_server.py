"""The Python SDK test peer (py_server.py: same tools, /mcp + /sse + /messages/)
behind an authentication check, so mcpkey's tests can prove that credentials
are sent on EVERY HTTP request: POST/GET/DELETE /mcp, GET /sse and each
POST /messages/?session_id=... . Served with uvicorn on 127.0.0.1.

    python auth_server.py --port N --log FILE --scheme SCHEME [credential flags]

  bearer       --token T            Authorization: Bearer T (RFC 6750). 401 carries
                                    WWW-Authenticate: Bearer realm="mcpkey-test"
                                    (+ error="invalid_token" when a token was wrong).
  basic        --username U --password P
                                    RFC 7617, UTF-8. 401 carries
                                    WWW-Authenticate: Basic realm="mcpkey-test", charset="UTF-8"
  digest       --username U --password P
                                    RFC 2617/7616 MD5, qop=auth, verified by
                                    flask-httpauth's HTTPDigestAuth (see below).
  api_key      --api-key K [--header-name X-API-Key]
  query_param  --api-key K [--param-name api_key]   the key on every URL, including
                                    the /messages/ URL (the SSE endpoint event does
                                    not carry it: the client must add it).
  signature    --api-key K --api-secret S [--reject-replays]
                                    X-API-Key == K; X-Timestamp = unix seconds within
                                    +-300 s of now; X-Signature = lowercase hex
                                    HMAC-SHA256(S, METHOD + PATH + TIMESTAMP), PATH
                                    without the query string ("/messages/", "/mcp").
                                    --reject-replays also refuses a (timestamp,
                                    signature) pair seen before. It is off by default:
                                    the signature covers no body or nonce, so a client
                                    that correctly re-signs two POST /mcp in the same
                                    second produces the same pair twice.
  multi_header --headers '{"X-API-Key":"k","X-Tenant-ID":"t"}'   all must match.
  none         accept everything (still logged).

Every request appends one JSON line to --log:
  {"method": ..., "path": ..., "query": ..., "verified": true|false, "reason": ...}
No credential value is ever logged (query_param's key is shown as <redacted>).
A failed check answers 401 (JSON body {"error": "unauthorized", "reason": ...})
and never reaches the MCP app. Secrets are compared with hmac.compare_digest.

The check is a plain ASGI middleware (not BaseHTTPMiddleware): SSE streams flow
through untouched and non-HTTP scopes (lifespan, which starts the SDK's session
manager) pass straight through.

Digest details. flask-httpauth is Flask/WSGI-bound, so each check runs inside a
Flask test_request_context built from the ASGI scope (method, path, query and
the Authorization header). Its default nonce/opaque store is the Flask cookie
session, which MCP clients do not keep; it is replaced by an in-memory store
(generate_nonce/verify_nonce callbacks; nonces live NONCE_TTL seconds) and one
random opaque per process. The challenge is the library's own:
  WWW-Authenticate: Digest realm="mcpkey-test",nonce="<32 hex>",opaque="<32 hex>",algorithm="MD5",qop="auth"
Nonce reuse: the library keeps no per-nonce state, so a later request reusing a
challenge (same nonce, next nc) is accepted as long as the nonce is in the store;
nothing had to be relaxed for that. The library does not check the nc at all,
nor that `uri` names this request, nor the realm, and it crashes on qop=auth
without nc/cnonce; so before calling it this server requires qop=auth, nc and
cnonce, algorithm MD5 (or absent), realm == ours and uri == this request's
target (path?query as sent), and after it verified the response, refuses an nc
already used with that nonce (replay; out-of-order nc values are fine). An
expired nonce gets a fresh challenge (the library has no stale=true).
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
from urllib.parse import parse_qsl, unquote_plus

REALM = "mcpkey-test"
SIGNATURE_WINDOW = 300  # seconds either side of now
NONCE_TTL = 3600  # seconds a Digest nonce stays valid
MAX_NONCES = 10_000
MAX_DRAIN = 1 << 20  # request body read (and dropped) before a 401


def _eq(given, expected: str) -> bool:
    """Constant-time string equality (bytes, so non-ASCII input cannot raise)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _headers(scope) -> dict:
    """Lower-case header name -> list of values (latin-1, as on the wire)."""
    out: dict = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))
    return out


def _one(headers: dict, name: str):
    values = headers.get(name.lower())
    return values[0] if values else None


class Result:
    def __init__(self, ok: bool, reason: str, challenge: str | None = None):
        self.ok, self.reason, self.challenge = ok, reason, challenge


# ------------------------------------------------------------------ schemes


class NoAuth:
    def check(self, scope, headers) -> Result:
        return Result(True, "no auth configured")


class Bearer:
    def __init__(self, token: str):
        self.token = token

    def check(self, scope, headers) -> Result:
        authz = _one(headers, "authorization")
        plain = f'Bearer realm="{REALM}"'
        if authz is None:
            return Result(False, "missing Authorization header", plain)
        scheme, _, token = authz.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Result(False, "Authorization is not a Bearer token", plain)
        if not _eq(token.strip(), self.token):
            return Result(False, "wrong bearer token", plain + ', error="invalid_token"')
        return Result(True, "bearer token ok")


class Basic:
    def __init__(self, username: str, password: str):
        self.username, self.password = username, password

    def check(self, scope, headers) -> Result:
        challenge = f'Basic realm="{REALM}", charset="UTF-8"'
        authz = _one(headers, "authorization")
        if authz is None:
            return Result(False, "missing Authorization header", challenge)
        scheme, _, blob = authz.strip().partition(" ")
        if scheme.lower() != "basic":
            return Result(False, "Authorization is not Basic", challenge)
        try:
            user_pass = base64.b64decode(blob.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Result(False, "malformed Basic credentials (base64/UTF-8)", challenge)
        if ":" not in user_pass:
            return Result(False, "malformed Basic credentials (no colon)", challenge)
        user, _, password = user_pass.partition(":")
        user_ok = _eq(user, self.username)
        pass_ok = _eq(password, self.password)
        if not (user_ok and pass_ok):
            return Result(False, "wrong username or password", challenge)
        return Result(True, "basic credentials ok")


class Digest:
    def __init__(self, username: str, password: str):
        from flask import Flask
        from flask_httpauth import HTTPDigestAuth

        self.username, self.password = username, password
        self.flask = Flask("mcpkey-digest-verifier")
        self.auth = HTTPDigestAuth(realm=REALM, qop="auth", algorithm="MD5")
        self.opaque = secrets.token_hex(16)
        self.nonces: dict = {}  # nonce -> (issued at, set of nc values used)
        self.auth.generate_nonce(self._new_nonce)
        self.auth.verify_nonce(self._nonce_ok)
        self.auth.generate_opaque(lambda: self.opaque)
        self.auth.verify_opaque(lambda opaque: _eq(opaque, self.opaque))
        self.auth.get_password(lambda user: self.password if _eq(user, self.username) else None)

    def _new_nonce(self) -> str:
        now = time.time()
        for n in [n for n, (t, _) in self.nonces.items() if now - t > NONCE_TTL]:
            del self.nonces[n]
        while len(self.nonces) >= MAX_NONCES:
            del self.nonces[next(iter(self.nonces))]
        nonce = secrets.token_hex(16)
        self.nonces[nonce] = (now, set())
        return nonce

    def _nonce_ok(self, nonce) -> bool:
        entry = self.nonces.get(nonce) if nonce else None
        return entry is not None and time.time() - entry[0] <= NONCE_TTL

    def check(self, scope, headers) -> Result:
        authz = _one(headers, "authorization")
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if query:
            target += "?" + query
        with self.flask.test_request_context(
            scope["path"],
            method=scope["method"],
            query_string=query,
            headers={"Authorization": authz} if authz is not None else {},
        ):
            a = self.auth.get_auth()
            reason = None
            if authz is None:
                reason = "missing Authorization header"
            elif a is None:
                reason = "Authorization is not Digest (or malformed)"
            elif a.qop != "auth":
                reason = "digest qop is not auth"
            elif not a.nc or not a.cnonce or not re.fullmatch(r"[0-9a-fA-F]{1,8}", a.nc):
                reason = "digest nc/cnonce missing or malformed"
            elif (a.algorithm or "MD5").upper() != "MD5":
                reason = "digest algorithm is not MD5"
            elif a.realm != REALM:
                reason = "digest realm mismatch"
            elif a.uri != target:
                reason = "digest uri does not match the request target"
            elif not self._nonce_ok(a.nonce):
                reason = "unknown or expired digest nonce"
            elif not self.auth.authenticate(a, self.auth.get_auth_password(a)):
                reason = "digest response mismatch (wrong user, password or opaque)"
            else:
                used = self.nonces[a.nonce][1]
                nc = int(a.nc, 16)
                if nc in used:
                    reason = "digest nc reused for this nonce (replay)"
                else:
                    used.add(nc)
                    return Result(True, "digest ok")
            return Result(False, reason, self.auth.authenticate_header())


class ApiKeyHeader:
    def __init__(self, key: str, header: str):
        self.key, self.header = key, header

    def check(self, scope, headers) -> Result:
        value = _one(headers, self.header)
        if value is None:
            return Result(False, f"missing {self.header} header")
        if not _eq(value, self.key):
            return Result(False, f"wrong {self.header}")
        return Result(True, f"{self.header} ok")


def _query_values(scope, name: str) -> list:
    query = scope.get("query_string", b"").decode("latin-1")
    return [v for k, v in parse_qsl(query, keep_blank_values=True) if k == name]


class QueryParam:
    def __init__(self, key: str, param: str):
        self.key, self.param = key, param

    def check(self, scope, headers) -> Result:
        values = _query_values(scope, self.param)
        if not values:
            return Result(False, f"missing query parameter {self.param}")
        if len(values) > 1:
            return Result(False, f"query parameter {self.param} given {len(values)} times")
        if not _eq(values[0], self.key):
            return Result(False, f"wrong query parameter {self.param}")
        return Result(True, f"query parameter {self.param} ok")


class Signature:
    def __init__(self, key: str, secret: str, reject_replays: bool):
        self.key, self.secret, self.reject_replays = key, secret.encode("utf-8"), reject_replays
        self.seen: dict = {}  # (timestamp, signature) -> first seen at

    def check(self, scope, headers) -> Result:
        key = _one(headers, "x-api-key")
        ts = _one(headers, "x-timestamp")
        sig = _one(headers, "x-signature")
        missing = [n for n, v in (("X-API-Key", key), ("X-Timestamp", ts), ("X-Signature", sig)) if v is None]
        if missing:
            return Result(False, "missing " + ", ".join(missing))
        if not _eq(key, self.key):
            return Result(False, "wrong X-API-Key")
        if not re.fullmatch(r"[0-9]{1,12}", ts):
            return Result(False, "X-Timestamp is not unix seconds")
        now = time.time()
        if abs(now - int(ts)) > SIGNATURE_WINDOW:
            return Result(False, f"X-Timestamp outside +-{SIGNATURE_WINDOW} s of now")
        message = f"{scope['method']}{scope['path']}{ts}".encode("utf-8")
        expected = hmac.new(self.secret, message, hashlib.sha256).hexdigest()
        if not _eq(sig, expected):
            return Result(False, "wrong X-Signature")
        if self.reject_replays:
            for old in [p for p, t in self.seen.items() if now - t > 2 * SIGNATURE_WINDOW]:
                del self.seen[old]
            if (ts, sig) in self.seen:
                return Result(False, "replayed (timestamp, signature) pair")
            self.seen[(ts, sig)] = now
        return Result(True, "signature ok")


class MultiHeader:
    def __init__(self, expected: dict):
        self.expected = expected

    def check(self, scope, headers) -> Result:
        missing = [n for n in self.expected if _one(headers, n) is None]
        wrong = [n for n, v in self.expected.items() if n not in missing and not _eq(_one(headers, n), v)]
        if missing or wrong:
            parts = (["missing " + ", ".join(missing)] if missing else []) + (["wrong " + ", ".join(wrong)] if wrong else [])
            return Result(False, "; ".join(parts))
        return Result(True, "all headers ok: " + ", ".join(self.expected))


# ------------------------------------------------------------------ middleware


class AuthMiddleware:
    """Pure ASGI: verify every HTTP request, log it, 401 or pass it on."""

    def __init__(self, app, verifier, log_path: str, redact_param: str | None = None):
        self.app, self.verifier, self.redact_param = app, verifier, redact_param
        self.log = open(log_path, "a", buffering=1, encoding="utf-8")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan (and anything else) passes through
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        try:
            result = self.verifier.check(scope, headers)
        except Exception as e:  # never let a malformed request crash the peer
            result = Result(False, f"verifier error: {type(e).__name__}")
        self._record(scope, result)
        if result.ok:
            return await self.app(scope, receive, send)
        await self._drain(receive, headers)
        body = json.dumps({"error": "unauthorized", "reason": result.reason}).encode()
        response_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if result.challenge:
            response_headers.append((b"www-authenticate", result.challenge.encode("latin-1")))
        await send({"type": "http.response.start", "status": 401, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _drain(receive, headers):
        """Read (and drop) a small request body so the connection stays usable."""
        if "expect" in headers:
            return
        total = 0
        while total <= MAX_DRAIN:
            message = await receive()
            if message["type"] != "http.request":
                return
            total += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    def _record(self, scope, result: Result):
        query = scope.get("query_string", b"").decode("latin-1")
        if self.redact_param and query:
            parts = []
            for part in query.split("&"):
                name = part.split("=", 1)[0]
                parts.append(f"{name}=<redacted>" if unquote_plus(name) == self.redact_param else part)
            query = "&".join(parts)
        entry = {
            "method": scope["method"],
            "path": scope["path"],
            "query": query,
            "verified": result.ok,
            "reason": result.reason,
        }
        self.log.write(json.dumps(entry) + "\n")


# ------------------------------------------------------------------ CLI

SCHEMES = ["bearer", "basic", "digest", "api_key", "query_param", "signature", "multi_header", "none"]


def make_verifier(p: argparse.ArgumentParser, a: argparse.Namespace):
    def need(*flags):
        for f in flags:
            if getattr(a, f.lstrip("-").replace("-", "_")) is None:
                p.error(f"--scheme {a.scheme} needs {' '.join(flags)}")

    if a.scheme == "bearer":
        need("--token")
        return Bearer(a.token)
    if a.scheme == "basic":
        need("--username", "--password")
        return Basic(a.username, a.password)
    if a.scheme == "digest":
        need("--username", "--password")
        return Digest(a.username, a.password)
    if a.scheme == "api_key":
        need("--api-key")
        return ApiKeyHeader(a.api_key, a.header_name)
    if a.scheme == "query_param":
        need("--api-key")
        return QueryParam(a.api_key, a.param_name)
    if a.scheme == "signature":
        need("--api-key", "--api-secret")
        return Signature(a.api_key, a.api_secret, a.reject_replays)
    if a.scheme == "multi_header":
        need("--headers")
        try:
            expected = json.loads(a.headers)
        except json.JSONDecodeError:
            p.error("--headers must be a JSON object")
        if not isinstance(expected, dict) or not expected or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in expected.items()
        ):
            p.error("--headers must be a non-empty JSON object of strings")
        return MultiHeader(expected)
    return NoAuth()


def main():
    p = argparse.ArgumentParser(description="py_server.py behind an auth-verifying ASGI middleware")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True, help="append one JSON line per request")
    p.add_argument("--scheme", required=True, choices=SCHEMES)
    p.add_argument("--json", action="store_true", help="JSON responses instead of SSE")
    p.add_argument("--token")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--api-key")
    p.add_argument("--header-name", default="X-API-Key")
    p.add_argument("--param-name", default="api_key")
    p.add_argument("--api-secret")
    p.add_argument("--reject-replays", action="store_true", help="signature: refuse a reused (timestamp, signature)")
    p.add_argument("--headers", help='multi_header: JSON object, e.g. {"X-API-Key":"k","X-Tenant-ID":"t"}')
    a = p.parse_args()
    verifier = make_verifier(p, a)

    import uvicorn

    from py_server import build_app

    host = "127.0.0.1"
    app = AuthMiddleware(
        build_app("both", host, a.json),
        verifier,
        a.log,
        redact_param=a.param_name if a.scheme == "query_param" else None,
    )
    uvicorn.run(app, host=host, port=a.port, log_level="warning")


if __name__ == "__main__":
    sys.exit(main())

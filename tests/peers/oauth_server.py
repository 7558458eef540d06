"""An OAuth 2.1 authorization server (AS) AND the protected MCP resource server
(RS) on one port, so mcpkey's tests can run the MCP authorization flow end to
end against real token semantics. The RS is the Python SDK test peer
(py_server.py: /mcp in both protocol eras, /sse + /messages/) behind a plain
ASGI middleware (like auth_server.py). Served with uvicorn on 127.0.0.1.

    python oauth_server.py --port N --log FILE [--expires-in SECONDS] [--no-refresh]
                           [--rotate | --no-rotate] [--require-scope SCOPE]
                           [--tricky-secret] [--confidential] [--json]

B = http://127.0.0.1:N. Endpoints:

  GET  /.well-known/oauth-protected-resource/mcp   RFC 9728 metadata: resource B/mcp,
                                    authorization_servers [B], scopes mcp:read mcp:write
  GET  /.well-known/oauth-authorization-server     RFC 8414 metadata, issuer B
                                    (grant_types_supported drops refresh_token with --no-refresh)
  POST /register    RFC 7591. JSON body; redirect_uris required (absolute, no fragment,
                    http only for loopback hosts). token_endpoint_auth_method one of
                    none / client_secret_basic (the RFC 7591 default) / client_secret_post;
                    a secret is issued unless "none". grant_types default
                    ["authorization_code"], response_types ["code"]. 201 + all metadata.
  GET  /authorize   auto-approved, answers 302. Unknown client_id or unregistered
                    redirect_uri (exact string match; may be omitted only when exactly one
                    is registered) -> 400 JSON, no redirect. Otherwise errors go to the
                    redirect_uri (error=..., state, iss): response_type != code
                    (unsupported_response_type), no S256 code_challenge (invalid_request),
                    resource missing/repeated/!= B/mcp (invalid_target), scope outside
                    mcp:read mcp:write offline_access (invalid_scope; absent -> "mcp:read").
                    Success: {redirect_uri}?code=...&state=...&iss=B (RFC 9207). The code is
                    bound to (client_id, redirect_uri, code_challenge, scope, resource), 60 s.
  POST /token       application/x-www-form-urlencoded, Cache-Control: no-store.
                    Client authentication strictly by the registered method (none: client_id
                    in the body, no secret anywhere; client_secret_basic: RFC 6749 2.3.1
                    Basic header with form-urlencoded halves, no secret in the body;
                    client_secret_post: client_id + client_secret in the body, no
                    Authorization header); failure -> 401 invalid_client.
                    authorization_code: code one-time (consumed on its client's first
                    redemption attempt), unexpired, same client; redirect_uri equal to the
                    authorization's; code_verifier 43-128 unreserved chars with
                    BASE64URL(SHA256(verifier)) == challenge; resource == the authorized one.
                    refresh_token: the token must be current and this client's; resource
                    present and == B/mcp (invalid_target); optional scope must be a subset
                    of the grant (invalid_scope). --rotate (default): a NEW refresh token is
                    issued and the old one dies; presenting the old one again -> 400
                    invalid_grant, logged as event "refresh_reuse" (the family is NOT
                    revoked). --no-rotate: the response omits refresh_token and the old one
                    stays valid. Earlier access tokens stay valid until they expire.
                    A grant_type the client did not register -> unauthorized_client; unknown
                    -> unsupported_grant_type. Access tokens "at-...", refresh "rt-...".
  /mcp, /sse, /messages/ (RS)   need Authorization: Bearer <access token> that this AS
                    issued for B/mcp, unexpired, unrevoked; tokens in the query string are
                    ignored (OAuth 2.1). Else 401, body {"error": "invalid_token"},
                    WWW-Authenticate: Bearer error="invalid_token", resource_metadata="B/.well-
                    known/oauth-protected-resource/mcp" (+ scope="S" with --require-scope).
                    With no Bearer credentials at all the error= attribute is left out
                    (RFC 6750 3.1). --require-scope S: a valid token without S -> 403
                    Bearer error="insufficient_scope", scope="S", resource_metadata=...
  POST /_revoke     TEST HOOK, unauthenticated: revokes ALL access tokens (not refresh
                    tokens), so the next MCP request gets 401. Answers {"revoked": n}.
                    /_revoke?grants=1 forgets every refresh token as well, so only a
                    new authorization gets back in.
  POST /_fail_token?mode=M[&count=N][&delay=S]   TEST HOOK, unauthenticated: the next N
                    (default: all) /token requests fail without being processed (no code
                    or refresh token is consumed): mode=500 answers 500 server_error;
                    timeout waits S seconds (default 5) and then answers 504; malformed
                    answers 200 application/json with a truncated token response;
                    invalid_grant answers 400 invalid_grant. mode=off ends it. Each such
                    request is logged as event "token_fault" (with its grant_type) and
                    counted in the "token_fault" stat.
  GET  /_stats      TEST HOOK: {"registrations", "authorizations", "token_code",
                    "token_refresh", "refresh_reuse", "invalid_client", "rs_401", plus
                    "rs_403", "rs_ok", "code_reuse", "token_error", "token_fault"}.
  anything else     404 JSON (so clients probing other well-known URLs fall back).

--tricky-secret issues client secrets containing ' :+/%&=' so only a client that
form-urlencodes the Basic halves (RFC 6749 2.3.1) authenticates.
--confidential drops "none" from the supported token endpoint auth methods, so
every registered client gets (and must use) a secret.

LOG. Every HTTP request appends one JSON line to --log:
  {"event": "rs" | "prm" | "as_metadata" | "register" | "authorize" | "token" |
            "refresh_reuse" | "code_reuse" | "revoke" | "stats" | "fail_token" |
            "token_fault" | "not_found",
   "method": ..., "path": ..., "grant_type": ... | null, "ok": bool,
   "status": int, "error": ... | null, "reason": ..., "client_id": ... | null}
THIS LOG CONTAINS SECRETS ON PURPOSE: issued values appear under
"issued_access_token", "issued_refresh_token", "issued_client_secret" and "code".
It is the tests' list of values that must NEVER appear in the client's output,
logs or error messages. Presented credentials are never logged.

Tokens, codes and refresh tokens are stored under their SHA-256 digest and looked
up by digest (no secret-dependent string comparison); client secrets are compared
with hmac.compare_digest. All state lives in plain dicts touched only by
synchronous code after the request body was read, so on uvicorn's single event
loop every check-and-update is atomic without locks.
"""

import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

SCOPES_RS = ["mcp:read", "mcp:write"]
SCOPES_AS = ["mcp:read", "mcp:write", "offline_access"]
DEFAULT_SCOPE = "mcp:read"
AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]
CODE_TTL = 60  # seconds an authorization code lives
MAX_BODY = 64 * 1024  # largest /register or /token body read
MAX_DRAIN = 1 << 20  # request body read (and dropped) before a 401/403
PROTECTED = ("/mcp", "/sse", "/messages")
UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
EVENTS = {
    "/.well-known/oauth-protected-resource/mcp": "prm",
    "/.well-known/oauth-authorization-server": "as_metadata",
    "/register": "register",
    "/authorize": "authorize",
    "/token": "token",
    "/_revoke": "revoke",
    "/_stats": "stats",
    "/_fail_token": "fail_token",
}
TOKEN_FAULTS = ("500", "timeout", "malformed", "invalid_grant")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


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


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class OAuthError(Exception):
    """An RFC 6749 error response: status, error code, human reason."""

    def __init__(self, status: int, error: str, reason: str, event: str | None = None):
        super().__init__(reason)
        self.status, self.error, self.reason, self.event = status, error, reason, event


class Params:
    """Form/query parameters; a repeated parameter is an error (RFC 6749 3.1)."""

    def __init__(self, pairs):
        self.multi: dict = {}
        for k, v in pairs:
            self.multi.setdefault(k, []).append(v)

    def count(self, name: str) -> int:
        return len(self.multi.get(name, []))

    def get(self, name: str, repeat_error: str = "invalid_request"):
        values = self.multi.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise OAuthError(400, repeat_error, f"parameter {name} given {len(values)} times")
        return values[0]


class State:
    def __init__(self, base: str, expires_in: int, refresh: bool, rotate: bool, require_scope, tricky: bool,
                 confidential: bool = False):
        self.base, self.expires_in, self.refresh, self.rotate = base, expires_in, refresh, rotate
        self.require_scope, self.tricky = require_scope, tricky
        self.auth_methods = [m for m in AUTH_METHODS if not (confidential and m == "none")]
        self.resource = base + "/mcp"
        self.prm_url = base + "/.well-known/oauth-protected-resource/mcp"
        self.clients: dict = {}  # client_id -> registered metadata (+ "client_secret")
        self.codes: dict = {}  # sha256(code) -> grant dict (+ "used")
        self.access: dict = {}  # sha256(token) -> {client_id, scope, resource, exp, revoked}
        self.refresh_tokens: dict = {}  # sha256(token) -> {client_id, scope, resource, current}
        self.stats = dict.fromkeys(
            [
                "registrations",
                "authorizations",
                "token_code",
                "token_refresh",
                "refresh_reuse",
                "invalid_client",
                "rs_401",
                "rs_403",
                "rs_ok",
                "code_reuse",
                "token_error",
                "token_fault",
            ],
            0,
        )
        self.token_fault = None  # {"mode", "left" (None: every request), "delay"}

    def take_token_fault(self):
        """The fault for this /token request, if one is set (counting it down)."""
        f = self.token_fault
        if f is None:
            return None
        if f["left"] is not None:
            f["left"] -= 1
            if f["left"] <= 0:
                self.token_fault = None
        self.stats["token_fault"] += 1
        return f

    # ---------------------------------------------------------------- metadata

    def prm(self) -> dict:
        return {"resource": self.resource, "authorization_servers": [self.base], "scopes_supported": SCOPES_RS}

    def as_metadata(self) -> dict:
        grants = ["authorization_code", "refresh_token"] if self.refresh else ["authorization_code"]
        return {
            "issuer": self.base,
            "authorization_endpoint": self.base + "/authorize",
            "token_endpoint": self.base + "/token",
            "registration_endpoint": self.base + "/register",
            "response_types_supported": ["code"],
            "grant_types_supported": grants,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": self.auth_methods,
            "authorization_response_iss_parameter_supported": True,
            "scopes_supported": SCOPES_AS,
        }

    # ---------------------------------------------------------------- RS check

    def check_bearer(self, headers) -> tuple:
        """-> (status, error, reason, client_id); status 200 means pass."""
        authz = _one(headers, "authorization")
        scheme, _, token = (authz or "").strip().partition(" ")
        token = token.strip()
        if authz is None or scheme.lower() != "bearer" or not token:
            return 401, None, "no Bearer credentials", None
        entry = self.access.get(_digest(token))
        if entry is None:
            return 401, "invalid_token", "unknown access token", None
        cid = entry["client_id"]
        if entry["revoked"]:
            return 401, "invalid_token", "access token revoked", cid
        if time.time() >= entry["exp"]:
            return 401, "invalid_token", "access token expired", cid
        if entry["resource"] != self.resource:
            return 401, "invalid_token", "access token issued for another resource", cid
        if self.require_scope and self.require_scope not in entry["scope"].split():
            return 403, "insufficient_scope", f"token scope {entry['scope']!r} lacks {self.require_scope}", cid
        return 200, None, "access token ok", cid

    def challenge(self, error) -> str:
        parts = [f'error="{error}"'] if error else []
        if self.require_scope:
            parts.append(f'scope="{self.require_scope}"')
        parts.append(f'resource_metadata="{self.prm_url}"')
        return "Bearer " + ", ".join(parts)

    # ---------------------------------------------------------------- /register

    def register(self, body: bytes, ctype: str, log: dict) -> tuple:
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise OAuthError(400, "invalid_client_metadata", "Content-Type is not application/json")
        try:
            meta = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise OAuthError(400, "invalid_client_metadata", "body is not JSON")
        if not isinstance(meta, dict):
            raise OAuthError(400, "invalid_client_metadata", "body is not a JSON object")
        uris = meta.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            raise OAuthError(400, "invalid_redirect_uri", "redirect_uris must be a non-empty list of strings")
        for u in uris:
            parts = urlsplit(u)
            if not parts.scheme or "#" in u:
                raise OAuthError(400, "invalid_redirect_uri", f"redirect URI {u!r} is not absolute or has a fragment")
            if parts.scheme == "http" and parts.hostname not in LOOPBACK:
                raise OAuthError(400, "invalid_redirect_uri", f"http redirect URI {u!r} is not loopback")
        method = meta.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in self.auth_methods:
            raise OAuthError(400, "invalid_client_metadata", f"token_endpoint_auth_method {method!r} unsupported")
        grants = meta.get("grant_types", ["authorization_code"])
        rtypes = meta.get("response_types", ["code"])
        for name, v in (("grant_types", grants), ("response_types", rtypes)):
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise OAuthError(400, "invalid_client_metadata", f"{name} must be a list of strings")
        if "scope" in meta:
            if not isinstance(meta["scope"], str) or any(s not in SCOPES_AS for s in meta["scope"].split()):
                raise OAuthError(400, "invalid_client_metadata", "scope has unsupported values")
        client_id = "client-" + secrets.token_hex(8)
        out = dict(meta)
        out.update(
            client_id=client_id,
            client_id_issued_at=int(time.time()),
            redirect_uris=uris,
            token_endpoint_auth_method=method,
            grant_types=grants,
            response_types=rtypes,
            application_type=meta.get("application_type", "web"),
        )
        if method != "none":
            secret = "cs-" + secrets.token_urlsafe(24)
            if self.tricky:
                secret += " :+/%&=" + secrets.token_hex(4)
            out["client_secret"] = secret
            out["client_secret_expires_at"] = 0
            log["issued_client_secret"] = secret
        self.clients[client_id] = out
        log["client_id"] = client_id
        self.stats["registrations"] += 1
        return 201, out

    # ---------------------------------------------------------------- /authorize

    def authorize(self, query: str, log: dict) -> tuple:
        """-> (status, location or JSON body)."""
        q = Params(parse_qsl(query, keep_blank_values=True))
        client_id = q.get("client_id")
        log["client_id"] = client_id
        client = self.clients.get(client_id) if client_id else None
        if client is None:
            raise OAuthError(400, "invalid_client" if client_id else "invalid_request",
                             "unknown client_id" if client_id else "client_id missing")
        redirect_uri = q.get("redirect_uri")
        if redirect_uri is None:
            if len(client["redirect_uris"]) != 1:
                raise OAuthError(400, "invalid_request", "redirect_uri missing and several are registered")
            target = client["redirect_uris"][0]
        elif redirect_uri in client["redirect_uris"]:
            target = redirect_uri
        else:
            raise OAuthError(400, "invalid_request", "redirect_uri not registered for this client (exact match)")
        state = q.get("state")

        def back(params: dict) -> tuple:
            if state is not None:
                params["state"] = state
            params["iss"] = self.base
            sep = "&" if urlsplit(target).query else "?"
            return 302, target + sep + urlencode(params)

        try:
            if q.get("response_type") != "code":
                raise OAuthError(302, "unsupported_response_type", "response_type is not code")
            if "code" not in client["response_types"]:
                raise OAuthError(302, "unauthorized_client", "client did not register response type code")
            challenge = q.get("code_challenge")
            if not challenge:
                raise OAuthError(302, "invalid_request", "code_challenge missing (PKCE required)")
            if q.get("code_challenge_method") != "S256":
                raise OAuthError(302, "invalid_request", "code_challenge_method is not S256")
            if not S256_CHALLENGE.fullmatch(challenge):
                raise OAuthError(302, "invalid_request", "code_challenge is not a 43-char base64url S256 value")
            if q.count("resource") != 1:
                raise OAuthError(302, "invalid_target", f"resource given {q.count('resource')} times (need 1)")
            resource = q.get("resource")
            if resource != self.resource:
                raise OAuthError(302, "invalid_target", f"resource {resource!r} is not {self.resource}")
            scope = q.get("scope")
            scope = DEFAULT_SCOPE if scope is None or not scope.strip() else " ".join(scope.split())
            bad = [s for s in scope.split() if s not in SCOPES_AS]
            if bad:
                raise OAuthError(302, "invalid_scope", f"unsupported scope {' '.join(bad)}")
        except OAuthError as e:
            log.update(error=e.error, reason=e.reason)
            return back({"error": e.error, "error_description": e.reason})
        code = secrets.token_urlsafe(32)
        self.codes[_digest(code)] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,  # None: omitted, then the token request may omit it too
            "code_challenge": challenge,
            "scope": scope,
            "resource": resource,
            "exp": time.time() + CODE_TTL,
            "used": False,
        }
        log.update(code=code, scope=scope, reason="code issued")
        self.stats["authorizations"] += 1
        return back({"code": code})

    # ---------------------------------------------------------------- /token

    def authenticate(self, form: Params, headers: dict) -> dict:
        authz = _one(headers, "authorization")
        body_id, body_secret = form.get("client_id"), form.get("client_secret")
        basic_id = basic_secret = None
        if authz is not None:
            scheme, _, blob = authz.strip().partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError(401, "invalid_client", "Authorization header is not Basic")
            try:
                user_pass = base64.b64decode(blob.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "malformed Basic credentials (base64/UTF-8)")
            if ":" not in user_pass:
                raise OAuthError(401, "invalid_client", "malformed Basic credentials (no colon)")
            raw_id, _, raw_secret = user_pass.partition(":")
            basic_id, basic_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        client_id = basic_id if basic_id is not None else body_id
        client = self.clients.get(client_id) if client_id else None
        if client is None:
            raise OAuthError(401, "invalid_client", "unknown or missing client_id")
        if basic_id is not None and body_id is not None and body_id != basic_id:
            raise OAuthError(401, "invalid_client", "client_id in body differs from the Basic user")
        method = client["token_endpoint_auth_method"]
        if method == "none":
            if authz is not None or body_secret is not None:
                raise OAuthError(401, "invalid_client", "public client (none) sent a secret")
            if body_id is None:
                raise OAuthError(401, "invalid_client", "public client must send client_id in the body")
        elif method == "client_secret_basic":
            if body_secret is not None:
                raise OAuthError(401, "invalid_client", "client_secret_basic client sent client_secret in the body")
            if authz is None:
                raise OAuthError(401, "invalid_client", "client_secret_basic client sent no Basic header")
            if not _eq(basic_secret, client["client_secret"]):
                raise OAuthError(401, "invalid_client", "wrong client secret (Basic; halves form-urlencoded?)")
        else:  # client_secret_post
            if authz is not None:
                raise OAuthError(401, "invalid_client", "client_secret_post client sent an Authorization header")
            if body_secret is None or not _eq(body_secret, client["client_secret"]):
                raise OAuthError(401, "invalid_client", "missing or wrong client_secret in the body")
        return client

    def issue(self, client_id: str, scope: str, resource: str, log: dict, refresh: bool) -> dict:
        at = "at-" + secrets.token_urlsafe(32)
        self.access[_digest(at)] = {
            "client_id": client_id,
            "scope": scope,
            "resource": resource,
            "exp": time.time() + self.expires_in,
            "revoked": False,
        }
        out = {"access_token": at, "token_type": "Bearer", "expires_in": self.expires_in, "scope": scope}
        log["issued_access_token"] = at
        if refresh:
            rt = "rt-" + secrets.token_urlsafe(32)
            self.refresh_tokens[_digest(rt)] = {"client_id": client_id, "scope": scope, "resource": resource, "current": True}
            out["refresh_token"] = rt
            log["issued_refresh_token"] = rt
        log["scope"] = scope
        return out

    def token(self, body: bytes, ctype: str, headers: dict, log: dict) -> tuple:
        if ctype.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "Content-Type is not application/x-www-form-urlencoded")
        try:
            form = Params(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise OAuthError(400, "invalid_request", "body is not UTF-8")
        grant = form.get("grant_type")
        log["grant_type"] = grant
        try:
            client = self.authenticate(form, headers)
        except OAuthError:
            self.stats["invalid_client"] += 1
            raise
        cid = client["client_id"]
        log["client_id"] = cid
        if grant is None:
            raise OAuthError(400, "invalid_request", "grant_type missing")
        known = ["authorization_code"] + (["refresh_token"] if self.refresh else [])
        if grant not in known:
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} not supported")
        if grant not in client["grant_types"]:
            raise OAuthError(400, "unauthorized_client", f"client did not register grant type {grant}")
        if form.count("resource") > 1:
            raise OAuthError(400, "invalid_target", "resource given more than once")
        resource = form.get("resource")
        if grant == "authorization_code":
            return 200, self.redeem_code(form, cid, resource, log)
        return 200, self.redeem_refresh(form, cid, resource, log)

    def redeem_code(self, form: Params, cid: str, resource, log: dict) -> dict:
        code = form.get("code")
        if not code:
            raise OAuthError(400, "invalid_request", "code missing")
        grant = self.codes.get(_digest(code))
        if grant is None:
            raise OAuthError(400, "invalid_grant", "unknown authorization code")
        if grant["client_id"] != cid:
            raise OAuthError(400, "invalid_grant", "code was issued to another client")
        if grant["used"]:
            self.stats["code_reuse"] += 1
            raise OAuthError(400, "invalid_grant", "authorization code already used", event="code_reuse")
        grant["used"] = True  # one-time: consumed by this attempt, success or not
        if time.time() >= grant["exp"]:
            raise OAuthError(400, "invalid_grant", "authorization code expired")
        redirect_uri = form.get("redirect_uri")
        if grant["redirect_uri"] is not None and redirect_uri != grant["redirect_uri"]:
            raise OAuthError(400, "invalid_grant", "redirect_uri differs from the authorization request")
        if grant["redirect_uri"] is None and redirect_uri is not None and redirect_uri not in self.clients[cid]["redirect_uris"]:
            raise OAuthError(400, "invalid_grant", "redirect_uri not registered")
        verifier = form.get("code_verifier")
        if verifier is None:
            raise OAuthError(400, "invalid_request", "code_verifier missing (PKCE)")
        if not UNRESERVED.fullmatch(verifier):
            raise OAuthError(400, "invalid_grant", "code_verifier is not 43-128 unreserved characters")
        if not _eq(_s256(verifier), grant["code_challenge"]):
            raise OAuthError(400, "invalid_grant", "PKCE: BASE64URL(SHA256(code_verifier)) != code_challenge")
        if resource is None:
            raise OAuthError(400, "invalid_target", "resource missing from the token request")
        if resource != grant["resource"]:
            raise OAuthError(400, "invalid_target", f"resource {resource!r} differs from the authorized one")
        out = self.issue(cid, grant["scope"], grant["resource"], log, refresh=self.refresh)
        self.stats["token_code"] += 1
        log["reason"] = "code redeemed"
        return out

    def redeem_refresh(self, form: Params, cid: str, resource, log: dict) -> dict:
        rt = form.get("refresh_token")
        if not rt:
            raise OAuthError(400, "invalid_request", "refresh_token missing")
        key = _digest(rt)
        entry = self.refresh_tokens.get(key)
        if entry is None:
            raise OAuthError(400, "invalid_grant", "unknown refresh token")
        if entry["client_id"] != cid:
            raise OAuthError(400, "invalid_grant", "refresh token belongs to another client")
        if not entry["current"]:
            self.stats["refresh_reuse"] += 1
            raise OAuthError(400, "invalid_grant", "rotated-out refresh token reused", event="refresh_reuse")
        if resource is None:
            raise OAuthError(400, "invalid_target", "resource missing from the refresh request")
        if resource != self.resource or resource != entry["resource"]:
            raise OAuthError(400, "invalid_target", f"resource {resource!r} is not {self.resource}")
        scope = entry["scope"]
        asked = form.get("scope")
        if asked is not None and asked.strip():
            extra = [s for s in asked.split() if s not in scope.split()]
            if extra:
                raise OAuthError(400, "invalid_scope", f"scope beyond the grant: {' '.join(extra)}")
            scope = " ".join(asked.split())
        if self.rotate:
            entry["current"] = False
        out = self.issue(cid, scope, entry["resource"], log, refresh=self.rotate)
        if self.rotate:  # the new refresh token keeps the whole original grant
            self.refresh_tokens[_digest(out["refresh_token"])]["scope"] = entry["scope"]
        self.stats["token_refresh"] += 1
        log["reason"] = "refreshed (rotated)" if self.rotate else "refreshed (refresh token kept)"
        return out

    def revoke_all(self, grants: bool = False) -> int:
        if grants:
            self.refresh_tokens.clear()
        n = 0
        for entry in self.access.values():
            if not entry["revoked"]:
                entry["revoked"] = True
                n += 1
        return n


# ------------------------------------------------------------------ ASGI app


class OAuthApp:
    """Pure ASGI: AS endpoints, metadata and test hooks answered here; the MCP
    paths are bearer-checked and passed to the SDK app untouched (SSE streams
    flow through; lifespan passes straight through)."""

    def __init__(self, app, state: State, log_path: str):
        self.app, self.s = app, state
        self.log = open(log_path, "a", buffering=1, encoding="utf-8")

    def _record(self, asgi_scope, event: str, ok: bool, status: int, **extra):
        entry = {
            "event": event,
            "method": asgi_scope["method"],
            "path": asgi_scope["path"],
            "grant_type": None,
            "ok": ok,
            "status": status,
            "error": None,
            "reason": None,
            "client_id": None,
        }
        entry.update(extra)
        self.log.write(json.dumps(entry) + "\n")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        headers = _headers(scope)
        if any(path == p or path.startswith(p + "/") for p in PROTECTED):
            return await self._rs(scope, receive, send, headers)
        event = EVENTS.get(path, "not_found")
        ctype = _one(headers, "content-type") or ""
        log: dict = {}
        extra: list = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")] if path == "/token" else []
        try:
            if event == "prm":
                self._only(method, "GET", "HEAD")
                status, body = 200, self.s.prm()
            elif event == "as_metadata":
                self._only(method, "GET", "HEAD")
                status, body = 200, self.s.as_metadata()
            elif event == "register":
                self._only(method, "POST")
                status, body = self.s.register(await self._body(receive), ctype, log)
            elif event == "authorize":
                self._only(method, "GET")
                status, where = self.s.authorize(scope.get("query_string", b"").decode("latin-1"), log)
                self._record(scope, event, "error" not in log, status, **log)
                return await self._send(send, status, None, [(b"location", where.encode("latin-1"))])
            elif event == "token":
                self._only(method, "POST")
                raw = await self._body(receive)
                fault = self.s.take_token_fault()
                if fault is not None:
                    return await self._token_fault(scope, send, fault, raw, extra)
                status, body = self.s.token(raw, ctype, headers, log)
            elif event == "fail_token":
                self._only(method, "POST")
                await self._body(receive)
                q = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
                mode = q.get("mode", "off")
                if mode not in TOKEN_FAULTS + ("off",):
                    raise OAuthError(400, "invalid_request", f"unknown fault mode {mode!r}")
                try:
                    left = int(q["count"]) if "count" in q else None
                    delay = float(q.get("delay", "5"))
                except ValueError:
                    raise OAuthError(400, "invalid_request", "count and delay must be numbers")
                self.s.token_fault = None if mode == "off" else {"mode": mode, "left": left, "delay": delay}
                status, body = 200, {"mode": mode, "count": left}
                log["reason"] = f"token endpoint fault: {mode}"
            elif event == "revoke":
                self._only(method, "POST")
                await self._body(receive)
                grants = "grants=1" in scope.get("query_string", b"").decode("latin-1")
                status, body = 200, {"revoked": self.s.revoke_all(grants)}
                log["reason"] = f"revoked {body['revoked']} access tokens"
            elif event == "stats":
                self._only(method, "GET")
                status, body = 200, dict(self.s.stats)
            else:
                raise OAuthError(404, "not_found", "no such endpoint")
        except OAuthError as e:
            if event == "token":
                self.s.stats["token_error"] += 1
            log.update(error=e.error, reason=e.reason)
            self._record(scope, e.event or event, False, e.status, **log)
            if e.status == 401 and _one(headers, "authorization"):
                extra.append((b"www-authenticate", b'Basic realm="mcpkey-oauth"'))
            return await self._send(send, e.status, {"error": e.error, "error_description": e.reason}, extra)
        self._record(scope, event, True, status, **log)
        await self._send(send, status, body, extra, head=method == "HEAD")

    async def _token_fault(self, scope, send, fault, raw: bytes, extra):
        """Fails a /token request as the fault says, without processing it."""
        try:
            grant = dict(parse_qsl(raw.decode("utf-8"))).get("grant_type")
        except UnicodeDecodeError:
            grant = None
        mode = fault["mode"]
        status = {"500": 500, "timeout": 504, "malformed": 200, "invalid_grant": 400}[mode]
        self._record(scope, "token_fault", False, status, grant_type=grant, error=mode, reason="injected")
        if mode == "timeout":
            await asyncio.sleep(fault["delay"])
        if mode == "malformed":
            data = b'{"access_token": "at-trunc'
            hs = [(b"content-length", str(len(data)).encode()), (b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": hs + list(extra)})
            await send({"type": "http.response.body", "body": data})
            return
        error = "invalid_grant" if mode == "invalid_grant" else "server_error"
        try:
            await self._send(send, status, {"error": error, "error_description": "injected fault"}, extra)
        except Exception:  # the client gave up waiting and closed the connection
            pass

    @staticmethod
    def _only(method: str, *allowed):
        if method not in allowed:
            raise OAuthError(405, "method_not_allowed", f"{method} not allowed")

    @staticmethod
    async def _body(receive, limit: int = MAX_BODY) -> bytes:
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise OAuthError(413, "invalid_request", "request body too large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _send(send, status: int, body, extra, head: bool = False):
        data = json.dumps(body).encode() if body is not None else b""
        hs = [(b"content-length", str(len(data)).encode())]
        if body is not None:
            hs.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": hs + list(extra)})
        await send({"type": "http.response.body", "body": b"" if head else data})

    async def _rs(self, scope, receive, send, headers):
        status, error, reason, cid = self.s.check_bearer(headers)
        query = scope.get("query_string", b"").decode("latin-1")
        in_query = any(k == "access_token" for k, _ in parse_qsl(query, keep_blank_values=True))
        extra = {"client_id": cid, "reason": reason, "error": error}
        if in_query:
            extra["token_in_query"] = True
        if status == 200:
            self.s.stats["rs_ok"] += 1
            self._record(scope, "rs", True, 200, **extra)
            return await self.app(scope, receive, send)
        self.s.stats["rs_401" if status == 401 else "rs_403"] += 1
        self._record(scope, "rs", False, status, **extra)
        if "expect" not in headers:  # read (and drop) a small body so the connection stays usable
            total = 0
            while total <= MAX_DRAIN:
                message = await receive()
                if message["type"] != "http.request":
                    break
                total += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        challenge = self.s.challenge(error)
        body = {"error": error or "invalid_token"}
        await self._send(send, status, body, [(b"www-authenticate", challenge.encode("latin-1"))])


# ------------------------------------------------------------------ CLI


def main():
    p = argparse.ArgumentParser(description="OAuth 2.1 AS + py_server.py as the protected MCP resource")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True, help="append one JSON line per request (contains issued secrets)")
    p.add_argument("--expires-in", type=int, default=3600, help="access token lifetime, seconds")
    p.add_argument("--no-refresh", action="store_true", help="issue no refresh tokens")
    p.add_argument("--rotate", action=argparse.BooleanOptionalAction, default=True, help="rotate refresh tokens")
    p.add_argument("--require-scope", help="RS demands this scope (403 insufficient_scope otherwise)")
    p.add_argument("--tricky-secret", action="store_true", help="client secrets containing ' :+/%%&='")
    p.add_argument("--confidential", action="store_true", help="register confidential clients only (no 'none')")
    p.add_argument("--json", action="store_true", help="MCP JSON responses instead of SSE")
    a = p.parse_args()
    if a.expires_in < 1:
        p.error("--expires-in must be >= 1")

    import uvicorn

    from py_server import build_app

    host = "127.0.0.1"
    base = f"http://{host}:{a.port}"
    state = State(base, a.expires_in, not a.no_refresh, a.rotate, a.require_scope, a.tricky_secret, a.confidential)
    app = OAuthApp(build_app("both", host, a.json), state, a.log)
    uvicorn.run(app, host=host, port=a.port, log_level="warning")


if __name__ == "__main__":
    sys.exit(main())

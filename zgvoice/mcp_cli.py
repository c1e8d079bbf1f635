"""`zgv mcp chain [--http HOST:PORT]` and `zgv token --audience URL --scope S ...`.

Token keys come from the environment only (`ZGV_MCP__TOKEN_SECRET`, or for EdDSA
`ZGV_MCP__TOKEN_ALGORITHM=EdDSA` with the private key PEM in `ZGV_MCP__TOKEN_SECRET` and/or the
public key PEM in `ZGV_MCP__TOKEN_PUBLIC_KEY`), never from argv, so they stay out of shell history
and process listings.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcp_servers.auth import DEFAULT_MAX_TTL_S, SCOPES, Algorithm, TokenError, mint_token
from mcp_servers.http import DEFAULT_MAX_BODY_BYTES, HttpServerSettings, serve_http
from mcp_servers.scopes import SERVER_SCOPES, TOOL_SCOPES
from zgvoice.cli_errors import UsageError
from zgvoice.mcp_wiring import SERVERS, built_server
from zgvoice.settings import Settings

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class McpEnv(BaseSettings):
    """The HTTP MCP settings from `ZGV_MCP__*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ZGV_MCP__", extra="ignore", frozen=True)

    token_algorithm: Algorithm = "HS256"
    token_secret: SecretStr | None = None
    token_public_key: str | None = None
    resource_url: AnyHttpUrl | None = None
    issuer: AnyHttpUrl | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)
    # Unset: the server's own scope (chain:read, storage:read, kv:read or knowledge:read).
    required_scopes: list[str] | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tools_call_rate_per_s: float = 2.0
    tools_call_burst: int = 20


def add_parser(commands: Any) -> None:
    """Register `zgv mcp` (stdio or `--http`) and `zgv token`."""
    mcp = commands.add_parser("mcp", help="run an MCP tool server (stdio, or streamable HTTP with --http)")
    mcp.add_argument("server", choices=list(SERVERS), help="which server")
    mcp.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP on HOST:PORT (bearer tokens required; see `zgv token`)",
    )
    token = commands.add_parser(
        "token", help="mint a bearer token for an HTTP MCP server (key from ZGV_MCP__TOKEN_SECRET)"
    )
    token.add_argument(
        "--audience", required=True, help="the server's resource URL, e.g. http://127.0.0.1:8765/mcp"
    )
    token.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=sorted(SCOPES),
        help="a scope to grant (repeat for more)",
    )
    token.add_argument("--ttl", type=int, default=600, help=f"lifetime in seconds (max {DEFAULT_MAX_TTL_S})")
    token.add_argument("--subject", default="zgv-cli", help="the token subject (default zgv-cli)")


async def run(settings: Settings, args: argparse.Namespace) -> None:
    """Carry out `zgv mcp ...` or `zgv token ...`."""
    if args.command == "token":
        print(_token(env(), args.audience, args.scope, args.ttl, args.subject))
    elif args.command == "mcp":
        if args.http is None:
            await _stdio(settings, args.server)
        else:
            host, port = parse_host_port(args.http)
            await _http(settings, args.server, http_settings(env(), host, port, args.server), host, port)
    else:  # pragma: no cover - argparse only routes the commands registered above
        raise UsageError(f"unknown command {args.command}")


def parse_host_port(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `[v6]:PORT` as (host, port).

    Raises:
        UsageError: not HOST:PORT with a port in 1..65535.
    """
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--http wants HOST:PORT, e.g. 127.0.0.1:8765; got {value!r}")
    return host.removeprefix("[").removesuffix("]"), int(port_text)


def http_settings(env: McpEnv, host: str, port: int, server: str = "chain") -> HttpServerSettings:
    """The server settings for a bind on `host:port`.

    Raises:
        UsageError: no key configured, or a non-loopback bind without `ZGV_MCP__RESOURCE_URL`.
    """
    if env.resource_url is None and host not in _LOOPBACK:
        raise UsageError(
            "binding a non-loopback address needs ZGV_MCP__RESOURCE_URL, the URL clients use "
            "(e.g. https://mcp.example.com/mcp); it is the token audience and the allowed Host"
        )
    url_host = f"[{host}]" if ":" in host else host
    resource = str(env.resource_url) if env.resource_url is not None else f"http://{url_host}:{port}/mcp"
    try:
        return HttpServerSettings.model_validate(
            {
                "resource_url": resource,
                "issuer": env.issuer,
                "token_algorithm": env.token_algorithm,
                "token_secret": env.token_secret,
                "token_public_key": env.token_public_key,
                "required_scopes": (
                    env.required_scopes if env.required_scopes is not None else list(SERVER_SCOPES[server])
                ),
                "allowed_hosts": env.allowed_hosts,
                "allowed_origins": env.allowed_origins,
                "max_body_bytes": env.max_body_bytes,
                "tools_call_rate_per_s": env.tools_call_rate_per_s,
                "tools_call_burst": env.tools_call_burst,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mcp'}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"ZGV_MCP__* settings: {problems} (set ZGV_MCP__TOKEN_SECRET)") from None


def env() -> McpEnv:
    """The `ZGV_MCP__*` settings.

    Raises:
        UsageError: one is invalid.
    """
    try:
        return McpEnv()
    except ValidationError as exc:
        problems = "; ".join(
            f"ZGV_MCP__{'__'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(problems) from None


def _token(env: McpEnv, audience: str, scopes: list[str], ttl: int, subject: str) -> str:
    try:
        return mint_for(env, audience, scopes, ttl, subject)
    except (TokenError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def mint_for(env: McpEnv, audience: str, scopes: list[str], ttl: int, subject: str) -> str:
    """A token for the server whose resource URL is `audience`, signed with the configured key.

    Raises:
        UsageError: `audience` is not an http(s) URL, or no key is configured.
        TokenError, ValueError: the token cannot be minted (bad TTL, scope or key).
    """
    try:
        audience_url = str(AnyHttpUrl(audience)).rstrip("/")
    except ValidationError:
        raise UsageError(f"--audience must be an http(s) URL; got {audience!r}") from None
    if env.token_secret is None:
        raise UsageError("set ZGV_MCP__TOKEN_SECRET (the HS256 secret or the EdDSA private key PEM)")
    # The same issuer the server expects by default: the audience's origin unless configured.
    issuer = (
        str(env.issuer).rstrip("/")
        if env.issuer is not None
        else HttpServerSettings(
            resource_url=AnyHttpUrl(audience_url), token_secret=env.token_secret
        ).issuer_url
    )
    return mint_token(
        env.token_secret.get_secret_value(),
        subject,
        audience_url,
        scopes,
        ttl,
        issuer=issuer,
        algorithm=env.token_algorithm,
    )


class RollingToken:
    """A bearer token for one server that renews itself before it expires (service-to-service calls).

    Args:
        env: where the signing key comes from.
        audience: the server's resource URL.
        scopes: what the calls need.
        subject: who is calling, as the server will see it.
        ttl_s: each token's lifetime; a new one is minted once less than a third remains.
        clock: monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        env: McpEnv,
        audience: str,
        scopes: list[str],
        subject: str,
        ttl_s: int = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._args = (env, audience, scopes, ttl_s, subject)
        self._ttl_s = ttl_s
        self._clock = clock
        self._token = mint_for(*self._args)  # fails now, at start-up, if the key or audience is wrong
        self._renew_at = clock() + ttl_s * 2 / 3

    def __repr__(self) -> str:
        return "RollingToken(<hidden>)"

    def __call__(self) -> str:
        """The current token."""
        if self._clock() >= self._renew_at:
            self._token = mint_for(*self._args)
            self._renew_at = self._clock() + self._ttl_s * 2 / 3
        return self._token


async def _stdio(settings: Settings, name: str) -> None:
    async with built_server(settings, name) as server:
        await server.run_stdio_async()


async def _http(settings: Settings, name: str, http: HttpServerSettings, host: str, port: int) -> None:
    async with built_server(settings, name) as server:
        await serve_http(server, host, port, http, tool_scopes=TOOL_SCOPES[name])

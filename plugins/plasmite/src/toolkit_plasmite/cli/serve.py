"""`serve`, `serve init` and `serve check`: the HTTP server's options, safety rules and startup."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from toolkit.cliutil import json_option
from toolkit_kernel.exposure import ExposureError, ExposurePolicy, guard_asgi, uvicorn_options
from toolkit_plasmite.cli.ui import get_settings
from toolkit_plasmite.core.values import default_pool_dir, parse_size
from toolkit_plasmite.errors import UsageError

__all__ = ["ServeOptions", "serve_group"]


@dataclass
class ServeOptions:
    """Parsed `serve` options, validated by `check()`."""

    bind: str = "127.0.0.1:9700"
    access: str = "read-write"
    cors_origins: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    token: str | None = None
    token_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_self_signed: bool = False
    allow_non_loopback: bool = False
    insecure_no_tls: bool = False
    max_body_bytes: int = 1024 * 1024
    max_tail_timeout_ms: int = 30_000
    max_tail_concurrency: int = 64
    udp: str | None = None
    udp_follow: bool = False
    host: str = ""
    port: int = 0
    resolved_token: str | None = None
    udp_host: str = ""
    udp_port: int = 0

    def check(self) -> None:
        """Validate every rule without binding (Usage errors with hints)."""
        host, sep, port = self.bind.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise UsageError(f"invalid --bind {self.bind!r}", hint="use HOST:PORT, e.g. 127.0.0.1:9700")
        self.host, self.port = host.strip("[]"), int(port)
        if self.port > 65535:
            raise UsageError(f"invalid port {self.port}")
        for origin in self.cors_origins:
            if origin == "*" or "://" not in origin:
                raise UsageError(
                    f"invalid --cors-origin {origin!r}", hint="give exact origins like https://app.example"
                )
        self.resolved_token = self._read_token()
        if bool(self.tls_cert) != bool(self.tls_key):
            raise UsageError("--tls-cert and --tls-key go together")
        if self.tls_self_signed and self.tls_cert:
            raise UsageError("give --tls-cert/--tls-key or --tls-self-signed, not both")
        for limit, name in (
            (self.max_body_bytes, "--max-body-bytes"),
            (self.max_tail_timeout_ms, "--max-tail-timeout-ms"),
            (self.max_tail_concurrency, "--max-tail-concurrency"),
        ):
            if limit <= 0:
                raise UsageError(f"{name} must be > 0")
        if not self.loopback:
            if not self.allow_non_loopback:
                raise UsageError(
                    f"refusing to bind non-loopback address {self.host}",
                    hint="pass --allow-non-loopback if you mean it",
                )
            if self.access != "read-only" and not self.insecure_no_tls and not (self.token_file and self.tls):
                raise UsageError(
                    "a non-loopback server that accepts writes needs --token-file and TLS",
                    hint="run `plasmite serve init`, or pass --insecure-no-tls for a trusted network",
                )
        self._check_udp()
        # The kernel rule on top: no non-loopback listener without a token, reads included.
        try:
            ExposurePolicy.for_bind(self.host, self.port, token=self.resolved_token, tls=self.tls)
        except ExposureError as exc:
            raise UsageError(exc.message, hint=exc.hint) from None

    def _check_udp(self) -> None:
        """`--udp[=IP:PORT]` (numeric, unicast); `--udp-follow` implies `--udp` at 127.0.0.1:9701."""
        if self.udp_follow and self.udp is None:
            self.udp = _UDP_DEFAULT
        if self.udp is None:
            return
        host, sep, port = self.udp.rpartition(":")
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise UsageError(f"invalid --udp {self.udp!r}", hint="use a numeric IP:PORT, e.g. 127.0.0.1:9701") from None
        if not sep or not port.isdigit() or int(port) > 65535 or ip.is_multicast:
            raise UsageError(f"invalid --udp {self.udp!r}", hint="use a numeric unicast IP:PORT, e.g. 127.0.0.1:9701")
        if not ip.is_loopback and not self.allow_non_loopback:
            # UDP has no authentication at all: anyone who can reach the port can append.
            raise UsageError(
                f"refusing to bind non-loopback UDP address {ip}", hint="pass --allow-non-loopback if you mean it"
            )
        self.udp_host, self.udp_port = str(ip), int(port)

    def _read_token(self) -> str | None:
        if self.token and self.token_file:
            raise UsageError("give --token or --token-file, not both")
        if not self.token_file:
            return self.token
        try:
            token = Path(self.token_file).read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read --token-file: {exc.strerror}") from None
        if not token:
            raise UsageError("--token-file is empty")
        return token

    @property
    def loopback(self) -> bool:
        """True when the bind address is loopback."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def tls(self) -> bool:
        """True when TLS is configured."""
        return bool(self.tls_cert or self.tls_self_signed)

    def base_url(self, port: int | None = None) -> str:
        """The URL clients use."""
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{port if port is not None else self.port}"

    def summary(self, pool_dir: Path, port: int | None = None) -> dict[str, Any]:
        """The `serve check` document."""
        return {
            "status": "ok",
            "listen": f"{self.host}:{port if port is not None else self.port}",
            "base_url": self.base_url(port),
            "mcp": f"{self.base_url(port)}/mcp",
            "ui": f"{self.base_url(port)}/ui",
            "auth": "bearer" if self.resolved_token else "none",
            "tls": "self-signed" if self.tls_self_signed else ("cert" if self.tls_cert else "none"),
            "access": self.access,
            "limits": {
                "max_body_bytes": self.max_body_bytes,
                "max_tail_timeout_ms": self.max_tail_timeout_ms,
                "max_tail_concurrency": self.max_tail_concurrency,
            },
            "cors_origins": self.cors_origins,
            "pool_dir": str(pool_dir),
        } | ({"udp": {"listen": self.udp, "follow": self.udp_follow}} if self.udp else {})


_UDP_DEFAULT = "127.0.0.1:9701"


def _pool_dir() -> Path:
    return get_settings().pool_dir or default_pool_dir()


@click.group("serve", invoke_without_command=True)
@click.option(
    "--bind",
    default="127.0.0.1:9700",
    show_default=True,
    envvar="TOOLKIT_PLASMITE_BIND",
    show_envvar=True,
    help="HOST:PORT to listen on (port 0: any free port).",
)
@click.option(
    "--access", type=click.Choice(["read-only", "write-only", "read-write"]), default="read-write", show_default=True
)
@click.option("--cors-origin", "cors_origins", multiple=True, help="Exact origin allowed by CORS (repeatable).")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Another Host header value clients use to reach this server (repeatable; loopback names are implied).",
)
@click.option("--token", help="Require this bearer token.")
@click.option("--token-file", type=click.Path(dir_okay=False), help="Require the bearer token in this file.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), help="TLS certificate (PEM).")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="TLS private key (PEM).")
@click.option("--tls-self-signed", is_flag=True, help="Serve TLS with a fresh self-signed certificate.")
@click.option("--allow-non-loopback", is_flag=True, help="Allow binding a non-loopback address.")
@click.option("--insecure-no-tls", is_flag=True, help="Allow non-loopback writes without TLS (trusted networks only).")
@click.option("--max-body-bytes", default="1048576", show_default=True, help="Largest request body (N, NK, NM).")
@click.option("--max-tail-timeout-ms", type=int, default=30_000, show_default=True)
@click.option("--max-tail-concurrency", type=int, default=64, show_default=True)
@click.option(
    "--udp",
    is_flag=False,
    flag_value=_UDP_DEFAULT,
    default=None,
    metavar="[=IP:PORT]",
    help="Also take appends over UDP (plasmite's datagrams; default address 127.0.0.1:9701).",
)
@click.option("--udp-follow", is_flag=True, help="Also serve UDP follow subscriptions (implies --udp).")
@click.pass_context
def serve_group(ctx: click.Context, /, **kwargs: Any) -> None:
    """Serve the pools in --dir over HTTP (/v0 API, JSONL tails)."""
    opts = ServeOptions(
        bind=kwargs["bind"],
        access=kwargs["access"],
        cors_origins=list(kwargs["cors_origins"]),
        allowed_hosts=list(kwargs["allowed_hosts"]),
        token=kwargs["token"],
        token_file=kwargs["token_file"],
        tls_cert=kwargs["tls_cert"],
        tls_key=kwargs["tls_key"],
        tls_self_signed=kwargs["tls_self_signed"],
        allow_non_loopback=kwargs["allow_non_loopback"],
        insecure_no_tls=kwargs["insecure_no_tls"],
        max_body_bytes=parse_size(kwargs["max_body_bytes"]),
        max_tail_timeout_ms=kwargs["max_tail_timeout_ms"],
        max_tail_concurrency=kwargs["max_tail_concurrency"],
        udp=kwargs["udp"],
        udp_follow=kwargs["udp_follow"],
    )
    ctx.obj = opts
    if ctx.invoked_subcommand is not None:
        return
    opts.check()
    _run(opts)


def _run(opts: ServeOptions) -> None:
    import uvicorn

    from toolkit_plasmite.http.server import ServeConfig, create_app

    pool_dir = _pool_dir()
    config = ServeConfig(
        pool_dir=pool_dir,
        access=opts.access,
        token=opts.resolved_token,
        max_body_bytes=opts.max_body_bytes,
        max_tail_timeout_ms=opts.max_tail_timeout_ms,
        max_tail_concurrency=opts.max_tail_concurrency,
        cors_origins=opts.cors_origins,
    )
    family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every small response waits out a 40 ms delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((opts.host, opts.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot bind {opts.bind}: {exc.strerror}", hint="pick another --bind port") from None
    port = sock.getsockname()[1]
    # Listen before announcing serve_ready: connections made right after the banner wait in
    # the backlog until uvicorn accepts them instead of being refused.
    sock.listen(2048)
    certdir: tempfile.TemporaryDirectory[str] | None = None
    cert, key = opts.tls_cert, opts.tls_key
    fp = None
    if opts.tls_self_signed:
        from toolkit_plasmite.http.tls import write_self_signed

        certdir = tempfile.TemporaryDirectory(prefix="plasmite-tls-")
        cert, key = str(Path(certdir.name) / "cert.pem"), str(Path(certdir.name) / "key.pem")
        fp = write_self_signed(Path(cert), Path(key), ["localhost", "127.0.0.1", "::1", opts.host])
    elif cert:
        from toolkit_plasmite.http.tls import cert_fingerprint

        fp = cert_fingerprint(Path(cert))
    # The kernel's exposure policy: a token for any non-loopback bind, Host/Origin checks on
    # every request, header/body/idle deadlines. Token refusals stay in plasmite's own error
    # envelope (GuardMiddleware), so the ASGI guard gets the policy without the token.
    policy = ExposurePolicy.for_bind(
        opts.host,
        port,
        token=opts.resolved_token,
        tls=bool(cert),
        extra_hosts=opts.allowed_hosts,
        extra_origins=opts.cors_origins,
    )
    udp = _start_udp(opts, pool_dir)
    summary = opts.summary(pool_dir, port)
    if udp is not None:
        summary["udp"]["listen"] = _hostport(udp.address)
    if fp:
        summary["tls_fingerprint"] = fp
    # A SIGTERM between serve_ready and uvicorn taking over the signals must still end in a
    # clean exit 0: remember it here, and the server stops as soon as it runs.
    early: list[int] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, _frame: early.append(signum))
    get_settings().notice("serve_ready", None, f"plasmite serving {pool_dir} at {summary['base_url']}", summary)
    sys.stderr.flush()
    uv_config = uvicorn.Config(
        guard_asgi(create_app(config), dataclasses.replace(policy, token=None)),
        **uvicorn_options(policy),
        log_level="warning",
        access_log=False,
        ssl_certfile=cert,
        ssl_keyfile=key,
        timeout_graceful_shutdown=2,
    )
    try:
        _draining_server(uv_config, early).run(sockets=[sock])
    finally:
        if udp is not None:
            udp.close()
        sock.close()
        if certdir is not None:
            certdir.cleanup()


def _start_udp(opts: ServeOptions, pool_dir: Path) -> Any:
    """The UDP listener, bound and running before serve_ready (None without --udp)."""
    if opts.udp is None:
        return None
    from toolkit_plasmite.udp.server import UdpServer

    try:
        server = UdpServer(
            pool_dir, opts.udp_host, opts.udp_port, follow=opts.udp_follow, max_followers=opts.max_tail_concurrency
        )
    except OSError as exc:
        raise UsageError(f"cannot bind UDP {opts.udp}: {exc.strerror}", hint="pick another --udp port") from None
    server.start()
    return server


def _hostport(address: tuple[Any, ...]) -> str:
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"{host}:{address[1]}"


def _draining_server(config: Any, early: list[int]) -> Any:
    """Uvicorn's Server, except that SIGTERM/SIGINT end in exit status 0 after draining.

    uvicorn re-raises the captured signal once it has shut down, so the process would die
    by that signal; plasmite's server exits 0, and supervisors read that as a clean stop.
    `early` holds the signals that arrived before the server installed its handlers.
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            for signum in early:  # arrived after serve_ready, before this: stop now, cleanly
                self.handle_exit(signum, None)
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return DrainingServer(config)


@serve_group.command("check")
@json_option
@click.pass_obj
def serve_check(opts: ServeOptions) -> None:
    """Validate the serve options without starting the server."""
    opts.check()
    get_settings().out({"check": opts.summary(_pool_dir())})


@serve_group.command("init")
@click.option("--bind", "init_bind", default="0.0.0.0:9700", show_default=True)
@click.option("--output-dir", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--token-file", "init_token_file", default="plasmite-auth-token.txt", show_default=True)
@click.option("--tls-cert", "init_cert", default="plasmite-tls-cert.pem", show_default=True)
@click.option("--tls-key", "init_key", default="plasmite-tls-key.pem", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def serve_init(
    init_bind: str, output_dir: Path, init_token_file: str, init_cert: str, init_key: str, force: bool
) -> None:
    """Write a token, a self-signed certificate and key for a non-loopback server."""
    from toolkit_plasmite.http.tls import _write_private, new_token, write_self_signed

    output_dir.mkdir(parents=True, exist_ok=True)
    paths = [output_dir / init_token_file, output_dir / init_cert, output_dir / init_key]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise UsageError(f"refusing to overwrite {', '.join(existing)}", hint="pass --force to replace them")
    host = init_bind.rpartition(":")[0] or "0.0.0.0"
    hosts = ["localhost", "127.0.0.1"] + ([host] if host not in ("0.0.0.0", "::") else [socket.gethostname()])
    _write_private(paths[0], (new_token() + "\n").encode())
    fp = write_self_signed(paths[1], paths[2], hosts)
    click.echo(f"token_file: {paths[0]}")
    click.echo(f"tls_cert: {paths[1]}")
    click.echo(f"tls_key: {paths[2]}")
    click.echo(f"tls_fingerprint: {fp}")
    click.echo(
        f"next: plasmite serve --bind {init_bind} --allow-non-loopback --token-file {paths[0]} "
        f"--tls-cert {paths[1]} --tls-key {paths[2]}"
    )

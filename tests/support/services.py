"""Real PostgreSQL, Centrifugo and Redis servers for the test suite.

The servers run as child processes on 127.0.0.1 at free ports, with their files in a fresh
temporary directory, so tests never depend on (or disturb) a server someone left running.
`scripts/test` makes sure the binaries exist and exports where they are:

- ``ACTIVITY_TEST_PG_BINDIR``: PostgreSQL's bin directory (``initdb``, ``pg_ctl``, ``postgres``).
- ``ACTIVITY_TEST_CENTRIFUGO_BIN``: the Centrifugo v6 binary.
- ``ACTIVITY_TEST_REDIS_BIN``: ``redis-server`` (the engine of a Centrifugo cluster).

Without them the usual places are searched (see `find_pg_bindir`, `default_centrifugo_bin`
and `default_redis_bin`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import jwt
import psycopg
from psycopg import sql

CENTRIFUGO_VERSION = "v6.9.1"
STARTUP_TIMEOUT = 30.0
LOCALHOST = "127.0.0.1"


class ServiceUnavailable(RuntimeError):
    """A test server could not be found or started; the message says why (with its log)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def _is_root() -> bool:
    return os.geteuid() == 0


class Lifecycle(ABC):
    """Something a test starts and closes, also as a ``with`` block (started on entry,
    closed on exit)."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Stop and release everything ``start`` took."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ServerProcess(Lifecycle):
    """A server run as a child process, with its files in a temporary directory."""

    tmpdir: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise ServiceUnavailable(f"{type(self).__name__} is not started")
        return self.tmpdir


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _pg_version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: sort "9.6" < "15" < "16" numerically, not as text.
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bindir() -> Path:
    """PostgreSQL's bin dir: ``$ACTIVITY_TEST_PG_BINDIR``, else the newest Debian install."""
    configured = os.environ.get("ACTIVITY_TEST_PG_BINDIR")
    if configured:
        bindir = Path(configured)
        if not (bindir / "initdb").is_file():
            raise ServiceUnavailable(
                f"ACTIVITY_TEST_PG_BINDIR={configured} has no initdb; point it at PostgreSQL's"
                " bin directory (for example /usr/lib/postgresql/15/bin)"
            )
        return bindir
    candidates = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file()
    ]
    if not candidates:
        raise ServiceUnavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin;"
            " run scripts/test (it installs them) or `apt-get install postgresql`,"
            " or set ACTIVITY_TEST_PG_BINDIR"
        )
    return max(candidates, key=_pg_version_key)


def _replace_dbname(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"expected a postgresql:// URL, got {url!r}")
    return parts._replace(path="/" + urllib.parse.quote(dbname)).geturl()


class PostgresService(Protocol):
    """What tests need from a PostgreSQL server, whether started here or external."""

    @property
    def url(self) -> str: ...

    def url_for(self, dbname: str) -> str: ...

    def create_database(self, name: str) -> str: ...

    def drop_database(self, name: str) -> None: ...


class _DatabaseAdmin:
    """CREATE/DROP DATABASE through a superuser connection (shared by both server kinds)."""

    admin_dbname = "postgres"

    def url_for(self, dbname: str) -> str:
        raise NotImplementedError

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its URL (for per-test isolation)."""
        with psycopg.connect(self.url_for(self.admin_dbname), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database even if a test left connections open to it."""
        with psycopg.connect(self.url_for(self.admin_dbname), autocommit=True) as conn:
            # WITH (FORCE) (PostgreSQL 13+) ends leftover sessions, e.g. a pool a test leaked.
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force)
            )


class ExternalPostgres(_DatabaseAdmin):
    """A server someone else runs (``ACTIVITY_TEST_DATABASE_URL``): nothing to start or stop."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.admin_dbname = urllib.parse.urlsplit(url).path.lstrip("/") or "postgres"

    @property
    def url(self) -> str:
        return self._url

    def url_for(self, dbname: str) -> str:
        return _replace_dbname(self._url, dbname)

    def start(self) -> None:
        """Only checks that the server answers."""
        try:
            with psycopg.connect(self._url, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise ServiceUnavailable(
                f"cannot connect to ACTIVITY_TEST_DATABASE_URL: {exc}"
            ) from exc

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""

    close = stop


class PostgresServer(_DatabaseAdmin, ServerProcess):
    """A throw-away PostgreSQL cluster tuned for tests (no fsync, trust auth, loopback only).

    As root the server programs run as the ``postgres`` system user (created by Debian's
    package): PostgreSQL refuses to run as root.
    """

    user = "postgres"

    def __init__(
        self,
        bindir: Path | None = None,
        dbname: str = "activity_test",
        max_connections: int = 200,
    ) -> None:
        self._bindir = bindir
        self.dbname = dbname
        self.max_connections = max_connections
        self.host = LOCALHOST
        self.port = 0
        self._running_bindir: Path | None = None

    # -- addresses -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """URL of the ``activity_test`` database."""
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        if not self.port:
            raise ServiceUnavailable("PostgresServer is not started")
        return f"postgresql://{self.user}@{self.host}:{self.port}/{urllib.parse.quote(dbname)}"

    @property
    def datadir(self) -> Path:
        return self._require_tmpdir() / "data"

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / "postgres.log"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Create a fresh cluster, start it and create the ``activity_test`` database."""
        if self.running:
            return
        bindir = self._running_bindir = self._bindir or find_pg_bindir()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="activity-pg-"))
        try:
            self._start(bindir, self.tmpdir)
        except BaseException:
            self.stop()
            raise

    def _start(self, bindir: Path, tmpdir: Path) -> None:
        if _is_root():
            shutil.chown(tmpdir, user=self.user, group=self.user)
        self.port = free_port()
        self._run(
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(self.datadir),
                "--username",
                self.user,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                # C locale: the same on every machine, whatever locales are installed.
                "--no-locale",
                # A throw-away cluster needs no fsync during initdb either.
                "--no-sync",
            ],
            what="initdb",
        )
        settings = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{tmpdir}'",
            # Durability is irrelevant for test data; these make commits much cheaper.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Several connection pools (app, projections, notifier) run at once in tests.
            "max_connections": str(self.max_connections),
        }
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# added by tests/support/services.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._launch(bindir, tmpdir)
        self.create_database(self.dbname)

    def _launch(self, bindir: Path, tmpdir: Path) -> None:
        with self.log_path.open("ab") as log:
            if _is_root():
                shutil.chown(self.log_path, user=self.user, group=self.user)
            # postgres itself (not pg_ctl start) so that an early exit is noticed at once.
            self._proc = subprocess.Popen(
                [*self._as_postgres(), str(bindir / "postgres"), "-D", str(self.datadir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmpdir,
            )
        self._wait_until_ready()

    # -- outages (drills) ------------------------------------------------------------------

    def halt(self) -> None:
        """Stop the server as an operator would (fast mode: clients are disconnected), keeping
        its files and its port; `resume` starts it again on the same data."""
        bindir, proc = self._running_bindir, self._proc
        if bindir is None or proc is None:
            raise ServiceUnavailable("PostgresServer is not started")
        subprocess.run(
            [
                *self._as_postgres(),
                str(bindir / "pg_ctl"),
                "stop",
                "--pgdata",
                str(self.datadir),
                "--mode",
                "fast",
            ],
            check=True,
            capture_output=True,
            cwd=self.tmpdir,
            timeout=STARTUP_TIMEOUT,
        )
        proc.wait(timeout=STARTUP_TIMEOUT)
        self._proc = None

    def resume(self) -> None:
        """Start a halted server again: same data, same port."""
        bindir = self._running_bindir
        if bindir is None or self.tmpdir is None or self._proc is not None:
            raise ServiceUnavailable("PostgresServer is not halted")
        self._launch(bindir, self.tmpdir)

    def restart(self) -> None:
        """``pg_ctl restart``, in effect: every connection is cut, the server is back at once."""
        self.halt()
        self.resume()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise ServiceUnavailable(
                    "PostgreSQL exited during startup; its log:\n" + _log_tail(self.log_path)
                )
            try:
                with psycopg.connect(self.url_for(self.admin_dbname), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(0.1)
        raise ServiceUnavailable(
            f"PostgreSQL did not accept connections on port {self.port} within"
            f" {STARTUP_TIMEOUT:.0f}s (last error: {last_error}); its log:\n"
            + _log_tail(self.log_path)
        )

    def stop(self) -> None:
        """Stop the server at once (no checkpoint) and delete its files."""
        bindir = self._running_bindir
        if self.running and bindir is not None:
            # Immediate mode: no shutdown checkpoint, the cluster is about to be deleted anyway.
            # (A failure here is handled below: the postmaster gets killed.)
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(
                    [
                        *self._as_postgres(),
                        str(bindir / "pg_ctl"),
                        "stop",
                        "--pgdata",
                        str(self.datadir),
                        "--mode",
                        "immediate",
                    ],
                    check=False,
                    capture_output=True,
                    cwd=self.tmpdir,
                    timeout=STARTUP_TIMEOUT,
                )
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    # pg_ctl failed: kill the postmaster itself (killing runuser would not).
                    self._kill_postmaster()
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        self.port = 0
        self._running_bindir = None

    def close(self) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError, ServiceUnavailable):
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)

    def _as_postgres(self) -> list[str]:
        # PostgreSQL refuses to run as root; runuser (util-linux) switches without a password.
        return ["runuser", "-u", self.user, "--"] if _is_root() else []

    def _run(self, command: list[str], what: str) -> None:
        try:
            result = subprocess.run(
                [*self._as_postgres(), *command],
                check=False,
                capture_output=True,
                text=True,
                cwd=self.tmpdir,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServiceUnavailable(f"{what} failed to run: {exc}") from exc
        if result.returncode != 0:
            raise ServiceUnavailable(
                f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )


# --------------------------------------------------------------------------------------------
# Centrifugo
# --------------------------------------------------------------------------------------------


def default_centrifugo_bin() -> Path:
    """``$ACTIVITY_TEST_CENTRIFUGO_BIN``, else where scripts/test builds it."""
    configured = os.environ.get("ACTIVITY_TEST_CENTRIFUGO_BIN")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "optaic-activity" / "bin" / f"centrifugo-{CENTRIFUGO_VERSION}" / "centrifugo"


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def postgresql_consumer(
    dsn: str,
    *,
    partitions: int = 1,
    poll_interval: str = "100ms",
    notification_channel: str | None = None,
) -> dict[str, Any]:
    """A ``consumers`` entry: Centrifugo drains the ``centrifugo_outbox`` table at ``dsn``
    (see `CentrifugoServer`)."""
    settings: dict[str, Any] = {
        "dsn": dsn,
        "outbox_table_name": "centrifugo_outbox",
        "num_partitions": partitions,
        "partition_select_limit": 100,
        "partition_poll_interval": poll_interval,
    }
    if notification_channel is not None:
        settings["partition_notification_channel"] = notification_channel
    return {
        "name": "activity_outbox",
        "enabled": True,
        "type": "postgresql",
        "postgresql": settings,
    }


class CentrifugoServer(ServerProcess):
    """A Centrifugo v6 server with a fresh config, API key and token secret.

    Channels: the ``notifications`` namespace holds user-limited channels
    ``notifications:#<user id>``, which only a connection authenticated as that user may
    subscribe to. Connection tokens are HS256 JWTs signed with `token_secret` (see
    `connection_token`); the server HTTP API at `api_url` takes `api_key` in ``X-API-Key``.

    The port is chosen once, in the constructor, so it stays the same across `stop`/`start`,
    `restart` and `kill`/`start`: clients reconnect to the same address, as after a real
    Centrifugo restart. `stop` keeps the config and log (``tmpdir``) for that reason; `close`
    (or leaving the ``with`` block) also deletes them.

    ``extra_config`` is deep-merged into the generated config (dicts merge, other values
    replace). Centrifugo's built-in asynchronous consumer of a PostgreSQL outbox table goes
    under the top-level ``consumers`` key (a list), for example::

        CentrifugoServer(extra_config={"consumers": [{
            "name": "activity_outbox",
            "enabled": True,
            "type": "postgresql",
            "postgresql": {
                "dsn": "postgresql://postgres@127.0.0.1:5432/activity_test",
                "outbox_table_name": "centrifugo_outbox",
                "num_partitions": 1,
                "partition_select_limit": 100,
                "partition_poll_interval": "300ms",
                # optional: LISTEN channel; NOTIFY it with the partition number to wake
                # the consumer at once instead of at the next poll
                "partition_notification_channel": "centrifugo_partition_change",
            },
        }]})

    The table needs the columns ``id BIGSERIAL PRIMARY KEY, method TEXT NOT NULL,
    payload BYTEA NOT NULL, partition INTEGER NOT NULL``; each row is one server API command
    (``method`` such as ``'publish'``, ``payload`` the JSON of its request, for example
    ``{"channel": ..., "data": ...}``). Rows are deleted once processed, in ``id`` order per
    partition. (Keys from ``internal/configtypes`` ``Consumer``/``PostgresConsumerConfig``
    and ``internal/consuming/postgresql.go`` of Centrifugo v6.9.1.)

    The config is checked with ``centrifugo checkconfig --strict`` before the first start, so
    a misspelt key fails loudly instead of being ignored with a warning in the log.
    """

    namespace = "notifications"

    def __init__(
        self,
        binary: Path | None = None,
        extra_config: Mapping[str, Any] | None = None,
        log_level: str = "info",
        *,
        api_key: str | None = None,
        token_secret: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary or default_centrifugo_bin()
        self.extra_config: Mapping[str, Any] = extra_config or {}
        # CENTRIFUGO_* variables for the process (they override the config file), as a
        # deployment sets them (deploy/docker-compose*.yml); the developer's are never passed.
        self.environment: Mapping[str, str] = environment or {}
        self.log_level = log_level
        # Given, they are shared with other nodes of one cluster (see `CentrifugoCluster`).
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.token_secret = token_secret or secrets.token_urlsafe(32)
        self.host = LOCALHOST
        self.port = free_port()

    # -- addresses -----------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Base URL of the server HTTP API (``<api_url>/publish``, ``<api_url>/info``...)."""
        return f"{self.http_url}/api"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/connection/websocket"

    @property
    def health_url(self) -> str:
        return f"{self.http_url}/health"

    @property
    def config_path(self) -> Path:
        return self._require_tmpdir() / "config.json"

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / "centrifugo.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def user_channel(self, user_id: str) -> str:
        """The notifications channel only `user_id` may subscribe to."""
        return f"{self.namespace}:#{user_id}"

    def connection_token(self, user_id: str, ttl_seconds: int = 3600, **claims: Any) -> str:
        """An HS256 connection JWT for `user_id` (claims ``sub`` and ``exp``, plus `claims`)."""
        payload = {"sub": user_id, "exp": int(time.time()) + ttl_seconds, **claims}
        return jwt.encode(payload, self.token_secret, algorithm="HS256")

    # -- config --------------------------------------------------------------------------

    def build_config(self) -> dict[str, Any]:
        """The config file's content (Centrifugo v6 layout, keys from internal/configtypes)."""
        config: dict[str, Any] = {
            "log": {"level": self.log_level},
            # One listener for everything: websocket, API and health share the external port.
            "http_server": {"address": self.host, "port": self.port},
            "http_api": {"key": self.api_key},
            "client": {
                "token": {"hmac_secret_key": self.token_secret},
                # Browsers on a local dev page; clients that send no Origin are always allowed.
                "allowed_origins": ["http://127.0.0.1:*", "http://localhost:*"],
            },
            "channel": {
                "namespaces": [
                    {
                        "name": self.namespace,
                        "allow_user_limited_channels": True,
                        # History lets a reconnecting client recover what it missed.
                        "history_size": 100,
                        "history_ttl": "300s",
                        "force_recovery": True,
                        "allow_history_for_subscriber": True,
                    }
                ]
            },
            "health": {"enabled": True},
            # Tests must not phone home (and the network here reaches only package registries).
            "usage_stats": {"disabled": True},
            # SIGTERM should end the process quickly even with clients connected.
            "shutdown": {"timeout": "5s"},
        }
        return _deep_merge(config, self.extra_config)

    def check_config(self) -> None:
        """Run ``centrifugo checkconfig --strict`` on the written config (unknown keys fail)."""
        self._check_binary()
        result = subprocess.run(
            [str(self.binary), "checkconfig", "--strict", "--config", str(self.config_path)],
            check=False,
            capture_output=True,
            text=True,
            env=self._env(),
            timeout=60,
        )
        if result.returncode != 0:
            raise ServiceUnavailable(
                f"Centrifugo rejected config {self.config_path}:"
                f" {result.stdout.strip()} {result.stderr.strip()}"
            )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start (or start again, on the same port) and wait until ``/health`` answers 200."""
        if self.running:
            return
        self._check_binary()
        if self.tmpdir is None:
            self.tmpdir = Path(tempfile.mkdtemp(prefix="activity-centrifugo-"))
            self.config_path.write_text(json.dumps(self.build_config(), indent=2))
            self.check_config()
        with self.log_path.open("ab") as log:
            # Restarts append to the same log; the marker shows where each run begins.
            log.write(f"--- starting centrifugo on port {self.port} ---\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [str(self.binary), "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmpdir,
                env={**self._env(), **self.environment},
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.kill()
            raise

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise ServiceUnavailable(
                    f"Centrifugo exited during startup; log {self.log_path}:\n"
                    + _log_tail(self.log_path)
                )
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except (OSError, http.client.HTTPException) as exc:
                last_error = str(exc)
            time.sleep(0.05)
        raise ServiceUnavailable(
            f"Centrifugo /health did not answer 200 within {STARTUP_TIMEOUT:.0f}s"
            f" ({last_error}); log {self.log_path}:\n" + _log_tail(self.log_path)
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL after `timeout` seconds."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests (clients see the connection drop, no goodbye)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and delete the config and log."""
        self.stop()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    # -- helpers -------------------------------------------------------------------------

    def _check_binary(self) -> None:
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise ServiceUnavailable(
                f"Centrifugo binary not found at {self.binary}; run scripts/test (it builds"
                f" Centrifugo {CENTRIFUGO_VERSION} once) or set ACTIVITY_TEST_CENTRIFUGO_BIN"
            )

    @staticmethod
    def _env() -> dict[str, str]:
        # CENTRIFUGO_* variables override the config file; keep a developer's out of tests.
        return {
            key: value for key, value in os.environ.items() if not key.startswith("CENTRIFUGO_")
        }


# --------------------------------------------------------------------------------------------
# Redis, and Centrifugo nodes sharing it
# --------------------------------------------------------------------------------------------


def default_redis_bin() -> Path:
    """``$ACTIVITY_TEST_REDIS_BIN``, else Debian's ``redis-server`` (scripts/test installs it)."""
    return Path(os.environ.get("ACTIVITY_TEST_REDIS_BIN") or "/usr/bin/redis-server")


class RedisServer(ServerProcess):
    """A throw-away ``redis-server`` on a free loopback port, without persistence.

    Persistence is off because what the tests restart is Centrifugo, never Redis: history
    outlives a Centrifugo node because it lives in this process's memory. The port is chosen
    in the constructor, like `CentrifugoServer`'s.
    """

    def __init__(self, binary: Path | None = None) -> None:
        self.binary = binary or default_redis_bin()
        self.host = LOCALHOST
        self.port = free_port()

    @property
    def address(self) -> str:
        """The ``redis://`` URL Centrifugo's ``engine.redis.address`` takes."""
        return f"redis://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / "redis.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> None:
        """Start and wait until the server answers ``PING``."""
        if self.running:
            return
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise ServiceUnavailable(
                f"redis-server not found at {self.binary}; run scripts/test (it installs"
                " Debian's redis-server) or set ACTIVITY_TEST_REDIS_BIN"
            )
        self.tmpdir = Path(tempfile.mkdtemp(prefix="activity-redis-"))
        command = [
            str(self.binary),
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.tmpdir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=self.tmpdir,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.close()
            raise

    def ping(self) -> bool:
        """Whether the server answers ``PING`` (an inline command: no client library needed)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise ServiceUnavailable(
                    f"redis-server exited during startup; log {self.log_path}:\n"
                    + _log_tail(self.log_path)
                )
            if self.ping():
                return
            time.sleep(0.05)
        raise ServiceUnavailable(
            f"redis-server did not answer PING within {STARTUP_TIMEOUT:.0f}s; log"
            f" {self.log_path}:\n" + _log_tail(self.log_path)
        )

    def close(self) -> None:
        """SIGTERM, SIGKILL after 10 s, then delete the temporary directory."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def redis_engine(redis: RedisServer, prefix: str) -> dict[str, Any]:
    """The ``engine`` config of a Centrifugo node on `redis` (keys from v6.9.1's
    ``internal/configtypes/engine.go`` and ``redis.go``). Nodes with the same `prefix` form
    one cluster; another prefix on the same Redis is another, separate cluster."""
    return {"engine": {"type": "redis", "redis": {"address": [redis.address], "prefix": prefix}}}


class CentrifugoCluster(Lifecycle):
    """Centrifugo nodes that form one cluster over one Redis.

    Each node is a `CentrifugoServer` with the config every single-node test uses plus the
    Redis engine (`redis_engine`), and with the same API key and token secret: a publish to
    any node reaches subscribers on every node, a token works on every node, and history
    (kept in Redis) survives the restart of any node. The prefix is fresh per cluster, so
    clusters sharing a Redis never see each other's channels.
    """

    def __init__(
        self,
        redis: RedisServer,
        nodes: int = 2,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = f"activity-{secrets.token_hex(4)}"
        config = _deep_merge(redis_engine(redis, self.prefix), extra_config or {})
        first = CentrifugoServer(extra_config=config)
        self.nodes = [first] + [
            CentrifugoServer(
                extra_config=config, api_key=first.api_key, token_secret=first.token_secret
            )
            for _ in range(nodes - 1)
        ]

    def start(self) -> None:
        try:
            for node in self.nodes:
                node.start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for node in self.nodes:
            node.close()


def nodes_seen_by(node: CentrifugoServer) -> int:
    """How many nodes `node` knows of (its ``info`` API), itself included: a cluster has
    formed when each of its nodes counts them all."""
    request = urllib.request.Request(
        f"{node.api_url}/info",
        data=b"{}",
        headers={"X-API-Key": node.api_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return len(answer.get("result", {}).get("nodes", []))

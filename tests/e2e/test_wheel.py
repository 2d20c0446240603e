"""The wheel, installed into a fresh venv, is all a service needs.

The wheel is built from the repository and installed (with pytest and mypy) into a new venv.
Next to it, a copy of ``examples/sample_service``, a service with its own top-level ``domain``
and ``api`` packages, runs its own tests through the framework's pytest plugin and passes
``mypy --strict``; and ``activity serve`` from that venv serves the live page and its assets.
Everything runs outside the repository with a clean environment, so nothing of the checkout
can be imported by accident.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest

from optaic_activity.api.auth import mint_api_token
from optaic_activity.client import SyncActivityClient
from tests.support.services import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SERVICE = ROOT / "examples" / "sample_service"
WEB = ROOT / "web"
BUNDLE = WEB / "node_modules" / "centrifuge" / "dist" / "centrifuge.js"
INSTALL_TIMEOUT = 900
SERVE_TIMEOUT = 60

NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".cache",
    "build",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "artifacts",
    "*.sqlite",
    "*.sqlite-*",
)
"""What a checkout holds besides its sources (the names of .gitignore)."""


def run(command: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    """Run ``command``; its output, or a failure that shows it."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{command} exited with {result.returncode}:\n{output}"
    return output


def clean_env(venv: Path | None = None) -> dict[str, str]:
    """This process's environment without what would change imports, settings or pytest."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "VIRTUAL_ENV", "ACTIVITY_", "PYTEST", "MYPY"))
    }
    if venv is not None:
        env["PATH"] = os.pathsep.join((str(venv / "bin"), env.get("PATH", os.defpath)))
        env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert BUNDLE.is_file(), f"{BUNDLE} is missing: scripts/bootstrap installs it (npm ci)"
    # setuptools builds in the source tree (build/, *.egg-info): build a copy, so the
    # checkout's editable install (build/__editable__...) is left alone.
    source = tmp_path_factory.mktemp("source") / "optaic-activity"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("dist")
    command: list[str | Path] = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    run([*command, "-w", out, source], cwd=out, env=clean_env(), timeout=INSTALL_TIMEOUT)
    (built,) = out.glob("optaic_activity-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel, and the dev environment's pytest and mypy, installed."""
    path = tmp_path_factory.mktemp("venv") / "venv"
    env = clean_env()
    run([sys.executable, "-m", "venv", path], cwd=path.parent, env=env, timeout=120)
    tools = [f"pytest=={version('pytest')}", f"mypy=={version('mypy')}"]
    run(
        [path / "bin" / "python", "-m", "pip", "install", "-q", wheel, *tools],
        cwd=path.parent,
        env=env,
        timeout=INSTALL_TIMEOUT,
    )
    return path


@pytest.fixture(scope="module")
def sample_service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample service, copied out of the repository."""
    path = tmp_path_factory.mktemp("service") / "sample_service"
    shutil.copytree(SAMPLE_SERVICE, path, ignore=NOT_SOURCE)
    return path


def test_the_wheel_holds_the_import_root_its_types_and_the_page(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        declared = archive.read(entry_points).decode()
    assert {
        "optaic_activity/py.typed",
        "optaic_activity/web/index.html",
        "optaic_activity/web/app.js",
        "optaic_activity/web/style.css",
        "optaic_activity/web/node_modules/centrifuge/dist/centrifuge.js",
        "optaic_activity/domain/__init__.py",
        "optaic_activity/testing/plugin.py",
    } <= names
    # One import root: no top-level domain/, api/, web/... to collide with a service's own.
    top_level = {name.split("/", 1)[0] for name in names}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"optaic_activity"}
    assert "optaic_activity = optaic_activity.testing.plugin" in declared
    assert "activity = optaic_activity.entrypoints.cli:main" in declared


def test_the_sample_services_own_tests_pass_on_the_installed_wheel(
    venv: Path, sample_service: Path
) -> None:
    output = run(
        [venv / "bin" / "python", "-m", "pytest", "-q"],
        cwd=sample_service,
        env=clean_env(venv),
        timeout=300,
    )
    passed = re.search(r"(\d+) passed", output)
    assert passed is not None, output
    assert int(passed.group(1)) > 0
    assert not re.search(r"\d+ (failed|errors?|skipped)", output), output


def test_mypy_strict_accepts_the_sample_service(venv: Path, sample_service: Path) -> None:
    # The files to check are in the service's own mypy config (its pyproject.toml).
    output = run(
        [venv / "bin" / "python", "-m", "mypy", "--strict"],
        cwd=sample_service,
        env=clean_env(venv),
        timeout=300,
    )
    assert "Success: no issues found" in output
    assert "import-untyped" not in output
    assert "import-not-found" not in output


@contextmanager
def serving(
    venv: Path, folder: Path, env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``activity serve`` from the venv, in ``folder`` with ``env``; (base URL, process, log)."""
    port = free_port()
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(venv / "bin" / "activity"), "serve", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + SERVE_TIMEOUT
            while True:
                try:
                    httpx.get(f"{base_url}/openapi.json")
                    break
                except httpx.TransportError:
                    assert server.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, "activity serve did not come up"
                    time.sleep(0.2)
            yield base_url, server, log_path
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


@pytest.fixture
def served(venv: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``activity serve`` from the fresh venv on a new SQLite file; (base URL, process, log)."""
    env = {
        **clean_env(venv),
        "ACTIVITY_API_TOKEN_SECRET": secrets.token_urlsafe(48),
        "ACTIVITY_DATABASE_URL": f"sqlite:///{tmp_path / 'activity.sqlite'}",
    }
    with serving(venv, tmp_path, env) as running:
        yield running


def test_activity_serve_from_the_wheel_serves_the_live_page_and_its_assets(
    served: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base_url, server, log_path = served
    page = httpx.get(f"{base_url}/")
    assert page.status_code == 200
    assert page.text == (WEB / "index.html").read_text(encoding="utf-8")
    for name, source in {
        "app.js": WEB / "app.js",
        "style.css": WEB / "style.css",
        "centrifuge.js": BUNDLE,
    }.items():
        asset = httpx.get(f"{base_url}/static/{name}")
        assert asset.status_code == 200, name
        assert asset.content == source.read_bytes(), name

    server.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal to exit as it was asked.
    assert server.wait(timeout=SERVE_TIMEOUT) in (0, -signal.SIGTERM)
    output = log_path.read_text()
    assert "Application shutdown complete" in output
    assert "Traceback" not in output


SEED_REGISTRY_ENTRY = """
import sys
from uuid import UUID

from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import activity_context

from domain import ModelRegistryEntry

runtime = bootstrap()
with activity_context(tenant_id=UUID(sys.argv[1]), actor_principal_id=UUID(sys.argv[2])):
    entry = ModelRegistryEntry.register(name="Momentum ranker", framework="lightgbm")
runtime.app.save(entry)
runtime.close()
print(entry.id)
"""


def test_an_installed_service_is_loaded_by_activity_serve_and_its_resource_subscribed_to(
    venv: Path, sample_service: Path, tmp_path: Path
) -> None:
    # Last in this file: it installs the sample service into the shared venv.
    run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", sample_service],
        cwd=tmp_path,
        env=clean_env(venv),
        timeout=INSTALL_TIMEOUT,
    )
    secret = secrets.token_urlsafe(48)
    env = {
        **clean_env(venv),
        "ACTIVITY_API_TOKEN_SECRET": secret,
        "ACTIVITY_DATABASE_URL": f"sqlite:///{tmp_path / 'activity.sqlite'}",
    }
    tenant, owner, subscriber = uuid4(), uuid4(), uuid4()
    seeded = run(
        [venv / "bin" / "python", "-c", SEED_REGISTRY_ENTRY, str(tenant), str(owner)],
        cwd=tmp_path,  # not the service's folder: `domain` comes from the installed service
        env=env,
        timeout=SERVE_TIMEOUT,
    )
    entry_id = UUID(seeded.strip().splitlines()[-1])

    def token(principal: UUID) -> str:
        return mint_api_token(secret, tenant_id=tenant, principal_id=principal)

    # No ACTIVITY_SERVICE_MODULES: serve finds the service through its entry point.
    with serving(venv, tmp_path, env) as (base_url, _, log_path):
        answer = httpx.post(
            f"{base_url}/subscriptions",
            json={"resource_id": str(entry_id), "scope": "resource"},
            headers={"Authorization": f"Bearer {token(owner)}"},
        )
        assert answer.status_code == 201, (answer.text, log_path.read_text())
        assert answer.json()["resource_type"] == "model_registry_entry"
        with SyncActivityClient(base_url, token=token(subscriber)) as client:
            created = client.subscriptions.create(resource_id=entry_id, scope="descendants")
            assert created.resource_type == "model_registry_entry"
            assert [s.id for s in client.subscriptions.list()] == [created.id]
    assert "Traceback" not in log_path.read_text()

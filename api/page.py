"""The live activity page: ``GET /`` and its assets under ``/static/``.

The page (``index.html``, ``web/app.js``, ``web/style.css``: plain JS, no build step)
signs in with the caller's API bearer token, reads the feed and the inbox from this API and
receives new notifications from Centrifugo through centrifuge-js, whose browser bundle is
served from ``web/node_modules/centrifuge/dist/`` (``npm ci --prefix web`` installs it).
Without the bundle the page still renders, with a visible error, and works without live
updates. Only the files listed in ``ASSETS`` are served: nothing else of ``web/`` (no
``package.json``, no ``node_modules``) is reachable. Guide: docs/page.md.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

import optaic_activity.web
from optaic_activity.bootstrap import Runtime

WEB_DIR = Path(str(files(optaic_activity.web)))
"""The live page's files: package data of ``optaic_activity.web`` (wheel and checkout alike)."""
BUNDLE = Path("node_modules/centrifuge/dist/centrifuge.js")
ASSETS: dict[str, Path] = {
    "app.js": Path("app.js"),
    "style.css": Path("style.css"),
    "centrifuge.js": BUNDLE,
    "centrifuge.js.map": BUNDLE.with_name("centrifuge.js.map"),
}
"""``/static/<name>``: the file under the web directory that answers it."""

BUNDLE_SCRIPT = '<script src="/static/centrifuge.js" defer></script>'
MISSING_NOTICE = 'id="realtime-missing" hidden'
"""The error in index.html that is shown (attribute ``hidden`` dropped) without the bundle."""

NO_CACHE = "no-cache"
"""Revalidate every time (ETag / Last-Modified): a redeploy is picked up at once."""

router = APIRouter(include_in_schema=False)


def mount_page(app: FastAPI, *, web_dir: Path = WEB_DIR) -> None:
    """Serve the live page at ``/`` and its assets at ``/static/...`` on ``app``.

    The page is public (its bearer token stays in the URL fragment and the browser, and is
    sent with the page's API calls only), so its routes join the app as they are: not
    through ``include_router``, which would give them the API's app-wide dependencies
    (authentication, the known-query-parameters check).
    """
    app.state.web_dir = web_dir
    app.router.routes.extend(router.routes)


def _web_dir(request: Request) -> Path:
    web_dir: Path = getattr(request.app.state, "web_dir", WEB_DIR)
    return web_dir


def bundle_installed(web_dir: Path) -> bool:
    return (web_dir / BUNDLE).is_file()


@router.get("/", response_class=HTMLResponse)
def live_page(request: Request) -> HTMLResponse:
    """The page itself: static HTML, with the missing-bundle error shown if need be."""
    web_dir = _web_dir(request)
    html = (web_dir / "index.html").read_text(encoding="utf-8")
    if not bundle_installed(web_dir):
        # No 404 for the script, and an error a person sees even before app.js runs.
        html = html.replace(BUNDLE_SCRIPT, "").replace(MISSING_NOTICE, 'id="realtime-missing"')
    return HTMLResponse(html, headers=_page_headers(request))


@router.get("/static/{name}")
def static_asset(name: str, request: Request) -> FileResponse:
    relative = ASSETS.get(name)
    path = _web_dir(request) / relative if relative is not None else None
    if path is None or not path.is_file():
        # A plain 404 (the app's problem handlers turn it into an RFC 9457 problem).
        raise HTTPException(status_code=404, detail=f"no page asset named {name!r}")
    headers = {"Cache-Control": NO_CACHE, "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, headers=headers)


def _page_headers(request: Request) -> dict[str, str]:
    return {
        "Cache-Control": NO_CACHE,
        "Content-Security-Policy": content_security_policy(_websocket_origin(request)),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def content_security_policy(websocket_origin: str | None) -> str:
    """Scripts, styles and API calls from this origin only; WebSockets to Centrifugo too."""
    connect = "'self'" + (f" {websocket_origin}" if websocket_origin else "")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _websocket_origin(request: Request) -> str | None:
    """``ws(s)://host:port`` of the configured Centrifugo WebSocket URL, if there is one."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return None
    parts = urlsplit(runtime.settings.centrifugo_websocket_url)
    if parts.scheme not in {"ws", "wss"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"

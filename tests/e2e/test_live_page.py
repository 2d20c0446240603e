"""The live page in headless Chromium against the real app, store, notifier and Centrifugo.

The app runs with uvicorn in a thread of this process, with its in-process projection runner
and notifier worker (``workers=BackgroundWorkers(runtime)``); the browser is
Debian's Chromium driven by Playwright (``executable_path``: Playwright's own browsers are
never downloaded). Bob edits
Alice's folder through the domain; the test reads the notification off Alice's page.
A missing Chromium (or Centrifugo) FAILS these tests: a green run means they ran.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from pydantic import SecretStr

from optaic_activity.api.app import create_app
from optaic_activity.api.auth import mint_api_token
from optaic_activity.api.page import WEB_DIR, bundle_installed, mount_page
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain import Resource, RoleBinding, activity_context
from optaic_activity.entrypoints.background import BackgroundWorkers
from optaic_activity.settings import Settings
from tests.support.services import CentrifugoServer, free_port

pytestmark = pytest.mark.centrifugo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
API_SECRET = "live-page-api-secret-for-tests-0123456789"
DELIVERY_BUDGET_S = 2.0
"""From Bob's save to the notification on Alice's page."""
STARTUP_TIMEOUT_S = 15.0


# -- the server ---------------------------------------------------------------------------------


class LiveServer:
    """An ASGI app served by uvicorn on a free loopback port, in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, name="live-page-uvicorn", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(STARTUP_TIMEOUT_S)


@dataclass(frozen=True)
class Person:
    tenant_id: UUID
    principal_id: UUID
    name: str | None = None
    """The token's ``name`` claim: the page's sign-in records it in the directory."""

    @property
    def token(self) -> str:
        return mint_api_token(
            API_SECRET, tenant_id=self.tenant_id, principal_id=self.principal_id, name=self.name
        )


@dataclass(frozen=True)
class Site:
    url: str
    runtime: Runtime


@pytest.fixture
def site(store_settings: Settings, centrifugo_server: CentrifugoServer) -> Iterator[Site]:
    settings = store_settings.model_copy(
        update={
            "api_token_secret": SecretStr(API_SECRET),
            "centrifugo_api_url": centrifugo_server.api_url,
            "centrifugo_api_key": SecretStr(centrifugo_server.api_key),
            "centrifugo_token_secret": SecretStr(centrifugo_server.token_secret),
            "centrifugo_websocket_url": centrifugo_server.ws_url,
        }
    )
    runtime = bootstrap(settings)
    runtime.projections.setup()
    try:
        with LiveServer(create_app(runtime, workers=BackgroundWorkers(runtime))) as server:
            yield Site(url=server.url, runtime=runtime)
    finally:
        runtime.close()


# -- the browser --------------------------------------------------------------------------------


@dataclass
class Browser:
    context: BrowserContext
    page: Page
    problems: list[str]


DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 812}


class Chromium:
    """One headless Chromium; each person (or device) gets their own context (own storage)."""

    def __init__(self, browser: PlaywrightBrowser) -> None:
        self.browser = browser
        self.problems: list[str] = []

    def context(self, viewport: ViewportSize = DESKTOP) -> BrowserContext:
        return self.browser.new_context(viewport=viewport)

    def tab(self, context: BrowserContext) -> Page:
        """A new tab of ``context`` whose console errors and page errors are recorded."""
        page = context.new_page()
        record_problems(page, self.problems)
        return page


def record_problems(page: Page, problems: list[str]) -> None:
    """Console errors and uncaught page errors of ``page`` go to ``problems``."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.set_default_timeout(10_000)


def _require_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run scripts/test (it installs Debian's chromium)"
            " or `apt-get install chromium`",
            pytrace=False,
        )


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    _require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield Chromium(browser)
        finally:
            browser.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    _require_chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",  # a fresh user data dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 680},
        )
        page = context.new_page()
        problems: list[str] = []
        record_problems(page, problems)
        try:
            yield Browser(context=context, page=page, problems=problems)
        finally:
            context.close()


# -- helpers --------------------------------------------------------------------------------------


def rename(runtime: Runtime, actor: Person, folder_id: UUID, name: str) -> float:
    """``actor`` renames the folder, saved through the application; the time of the save."""
    with activity_context(tenant_id=actor.tenant_id, actor_principal_id=actor.principal_id):
        folder = runtime.app.get(folder_id, tenant_id=actor.tenant_id, kind=Resource)
        folder.update(name=name)
        saved_at = time.time()
        runtime.app.save(folder)
    return saved_at


def received_at(page: Page, selector: str) -> float:
    """When the page rendered the notification (its ``data-received-at``, epoch ms), in s."""
    stamp = page.locator(selector).get_attribute("data-received-at")
    assert stamp is not None, f"{selector} has no data-received-at"
    return int(stamp) / 1000


def screenshot_path(request: pytest.FixtureRequest, name: str = "live-page") -> Path:
    """``artifacts/<name>.png`` (``<name>-postgres.png`` on PostgreSQL); docs/images/ holds
    copies of the SQLite run's (docs/page.md says how to refresh them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    backend = getattr(request.node, "callspec", None)
    suffix = "" if backend is None or "sqlite" in backend.id else f"-{backend.id}"
    return ARTIFACTS / f"{name}{suffix}.png"


def require_bundle() -> None:
    if not bundle_installed(WEB_DIR):
        pytest.fail(
            "centrifuge-js is not installed in web/node_modules: run scripts/bootstrap"
            " (or `npm ci --prefix web`)",
            pytrace=False,
        )


def sign_in(page: Page, site: Site, person: Person, resource: UUID | None = None) -> None:
    """Open the page signed in as ``person`` (``#token=``), and wait until it is live."""
    extra = f"&resource={resource}" if resource else ""
    page.goto(f"{site.url}/#token={person.token}{extra}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    assert "token=" not in page.url, "the token is dropped from the address bar"


def rename_many(runtime: Runtime, actor: Person, folder_id: UUID, names: list[str]) -> None:
    """``actor`` renames the folder once per name, all saved together (one notification each)."""
    with activity_context(tenant_id=actor.tenant_id, actor_principal_id=actor.principal_id):
        folder = runtime.app.get(folder_id, tenant_id=actor.tenant_id, kind=Resource)
        for name in names:
            folder.update(name=name)
        runtime.app.save(folder)


def header_is_one_line(page: Page) -> None:
    """Every child of the top bar one line high and on the same line, and nothing wider
    than the screen."""
    boxes = page.eval_on_selector_all(
        ".topbar > :not([hidden])",
        """nodes => nodes.map(n => {
            const r = n.getBoundingClientRect(), s = getComputedStyle(n);
            const line = parseFloat(s.lineHeight) || parseFloat(s.fontSize) * 1.45;
            const frame = ["paddingTop", "paddingBottom", "borderTopWidth", "borderBottomWidth"]
                .reduce((sum, side) => sum + parseFloat(s[side]), 0);
            return {name: n.className || n.tagName, top: r.top, bottom: r.bottom,
                    lines: (r.height - frame) / line};
        })""",
    )
    assert len(boxes) >= 4, boxes  # the brand, your name, the connection, Sign out
    wrapped = [box for box in boxes if box["lines"] > 1.5]
    assert not wrapped, f"header items over two lines: {wrapped}"
    centres = [(box["top"] + box["bottom"]) / 2 for box in boxes]
    assert max(centres) - min(centres) < 4, f"the header wraps: {boxes}"
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], f"the page scrolls sideways: {width} px"


# -- the tests ------------------------------------------------------------------------------------


def test_another_users_change_appears_live_and_the_actors_own_does_not_notify_them(
    site: Site, browser: Browser, request: pytest.FixtureRequest
) -> None:
    require_bundle()
    runtime, page = site.runtime, browser.page
    tenant = uuid4()
    alice, bob = Person(tenant, uuid4()), Person(tenant, uuid4())
    with activity_context(tenant_id=tenant, actor_principal_id=alice.principal_id):
        folder = Resource.create(resource_type="folder", name="Research")
        editor = RoleBinding.grant(folder, bob.principal_id, "editor")
        runtime.app.save(folder, editor)
    runtime.projections.catch_up()

    page.goto(f"{site.url}/#token={alice.token}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    assert "token=" not in page.url, "the token is dropped from the address bar"
    feed = page.locator("#feed-list > li")
    expect(feed).to_have_count(2)  # Alice's own: the folder created, Bob made editor
    inbox = page.locator("#inbox-list > li")
    expect(inbox).to_have_count(0)  # ... which notified nobody (she is the actor)
    expect(page.locator("#unread-count")).to_have_text("0")

    # Bob renames Alice's folder: Alice (owner) is notified, live.
    saved_at = rename(runtime, bob, folder.id, "Research 2025")
    first = '#inbox-list > li[data-action="resource.updated"]'
    page.wait_for_selector(first, timeout=DELIVERY_BUDGET_S * 1000)
    latency = received_at(page, first) - saved_at
    print(f"\nsave -> on Alice's page: {latency * 1000:.0f} ms")
    assert latency < DELIVERY_BUDGET_S
    expect(inbox.first).to_contain_text("folder “Research 2025”: resource updated")
    expect(inbox.first.locator(".reason")).to_have_text(["owner"])
    expect(page.locator("#unread-count")).to_have_text("1")
    expect(feed).to_have_count(3)  # the feed was refreshed too

    # Alice renames it herself: no notification for her. Then Bob once more: only his two
    # notifications, newest first (the outbox is pushed in log order, so Alice's, had there
    # been one, would have arrived before Bob's second).
    rename(runtime, alice, folder.id, "Research 2025 (draft)")
    rename(runtime, bob, folder.id, "Research 2025 final")
    expect(inbox).to_have_count(2)
    expect(inbox.locator(".summary")).to_have_text(
        [
            "folder “Research 2025 final”: resource updated",
            "folder “Research 2025”: resource updated",
        ]
    )
    for actor in inbox.locator(".actor").all():
        assert actor.get_attribute("title") == str(bob.principal_id)
    expect(page.locator("#unread-count")).to_have_text("2")
    expect(feed).to_have_count(5)
    expect(feed.first).to_contain_text("name: “Research 2025 (draft)” → “Research 2025 final”")
    assert "you" in (feed.nth(1).locator(".actor").text_content() or "")
    answer = httpx.get(
        f"{site.url}/notifications", headers={"Authorization": f"Bearer {alice.token}"}
    ).json()
    assert [n["actor_principal_id"] for n in answer["items"]] == [str(bob.principal_id)] * 2

    # The action filter: the feed through the API's glob, the inbox on the page.
    page.fill("#action-filter", "role_binding.*")
    expect(feed).to_have_count(1)
    expect(feed.first).to_contain_text("role_binding.granted")
    expect(page.locator("#inbox-list > li:visible")).to_have_count(0)
    expect(page.locator("#inbox-empty")).to_contain_text("No notifications match")
    page.fill("#action-filter", "resource.updated")
    expect(feed).to_have_count(3)
    expect(page.locator("#inbox-list > li:visible")).to_have_count(2)
    page.fill("#action-filter", "")
    expect(feed).to_have_count(5)

    page.locator("#action-filter").blur()
    page.screenshot(path=screenshot_path(request), full_page=True)

    page.click("#mark-read")
    expect(page.locator("#unread-count")).to_have_text("0")
    expect(page.locator("#inbox-list > li.unread")).to_have_count(0)
    assert browser.problems == []


def test_without_the_centrifuge_bundle_the_page_renders_and_says_so(
    tmp_path: Path, browser: Browser
) -> None:
    web = tmp_path / "web"
    web.mkdir()
    for name in ("index.html", "app.js", "style.css"):
        (web / name).write_bytes((WEB_DIR / name).read_bytes())
    app = FastAPI()
    mount_page(app, web_dir=web)
    with LiveServer(app) as server:
        assert httpx.get(f"{server.url}/static/centrifuge.js").status_code == 404
        assert httpx.get(f"{server.url}/static/package.json").status_code == 404
        browser.page.goto(server.url)
        expect(browser.page.locator("#realtime-missing")).to_be_visible()
        expect(browser.page.locator("#realtime-missing")).to_contain_text("npm ci --prefix web")
        expect(browser.page.locator("#sign-in")).to_be_visible()
    assert browser.problems == []


def test_a_two_user_session_live_states_counts_names_load_more_links_and_hash_sign_in(
    site: Site, chromium: Chromium, request: pytest.FixtureRequest
) -> None:
    require_bundle()
    runtime = site.runtime
    tenant = uuid4()
    alice = Person(tenant, uuid4(), "Alice Archer")
    bob = Person(tenant, uuid4(), "Bob Builder")
    with activity_context(tenant_id=tenant, actor_principal_id=bob.principal_id):
        research = Resource.create(resource_type="folder", name="Research")
        archive = Resource.create(resource_type="folder", name="Archive")
        editor = RoleBinding.grant(research, alice.principal_id, "editor")
        archive_editor = RoleBinding.grant(archive, alice.principal_id, "editor")
        runtime.app.save(research, archive, editor, archive_editor)
    runtime.projections.catch_up()

    bobs = chromium.context()
    bob_page = chromium.tab(bobs)
    sign_in(bob_page, site, bob)
    second_tab = chromium.tab(bobs)
    sign_in(second_tab, site, bob)
    alice_page = chromium.tab(chromium.context())
    sign_in(alice_page, site, alice)
    bob_inbox = bob_page.locator("#inbox-list > li")
    bob_feed = bob_page.locator("#feed-list > li")
    # His own: two folders created, Alice made editor twice, his name recorded at sign-in.
    feed_total = 5
    expect(bob_feed).to_have_count(feed_total)
    expect(bob_feed.first).to_contain_text("principal.profile_updated")
    expect(bob_inbox).to_have_count(0)
    expect(bob_page.locator("#inbox-empty")).to_have_text("No notifications yet.")
    expect(bob_page.locator("#who .principal")).to_have_text("Bob Builder")
    expect(bob_page.locator("#who .principal")).to_have_attribute("title", str(bob.principal_id))

    def counts_in_both_tabs(unread: int, unseen: int) -> None:
        for tab in (bob_page, second_tab):
            expect(tab.locator("#unread-count")).to_have_text(str(unread))
            expect(tab.locator("#unseen-count")).to_have_text(str(unseen))

    # Alice (A) acts; Bob (B), the owner, hears of it live, in both of his tabs.
    saved_at = rename(runtime, alice, research.id, "Research 2026")
    feed_total += 1
    first = '#inbox-list > li[data-action="resource.updated"]'
    bob_page.wait_for_selector(first, timeout=DELIVERY_BUDGET_S * 1000)
    assert received_at(bob_page, first) - saved_at < DELIVERY_BUDGET_S
    counts_in_both_tabs(unread=1, unseen=1)
    expect(second_tab.locator("#inbox-list > li")).to_have_count(1)
    expect(bob_page).to_have_title("(1) Activity · OptAIC")
    item = bob_inbox.first
    # Names, with the id one click away (the title; a click copies it).
    actor = item.locator(".actor")
    expect(actor).to_have_text("Alice Archer")
    expect(actor).to_have_attribute("title", str(alice.principal_id))
    expect(item.locator("a.resource")).to_have_attribute("href", f"#resource={research.id}")
    expect(item.locator("a.resource")).to_have_text("folder “Research 2026”")
    # A date with its time; the full timestamp in the title.
    stamp = item.locator("time")
    expect(stamp).to_have_text(re.compile(r"^today \d\d:\d\d"))
    # Both read at once: the item is redrawn when the page re-reads its inbox.
    title, iso = stamp.evaluate("t => [t.title, t.getAttribute('datetime')]")
    assert title.endswith(f"({iso})"), (title, iso)
    expect(bob_feed).to_have_count(feed_total)  # the feed took Alice's rename too
    expect(alice_page.locator("#inbox-list > li")).to_have_count(0)  # not told of her own

    def own_action_on_top(action: str) -> None:
        # Bob's own activity is on top of his feed at once, though nobody is notified of
        # their own actions (the page reads its feed after each command).
        expect(bob_feed).to_have_count(feed_total)
        expect(bob_feed.first.locator(".action")).to_have_text(action)
        expect(bob_feed.first.locator(".actor")).to_have_text("you")

    # Per item: mark read; the second tab follows (the counts publication).
    item.get_by_role("button", name=re.compile("^Mark read")).click()
    feed_total += 1
    counts_in_both_tabs(unread=0, unseen=0)
    expect(second_tab.locator("#inbox-list > li.unread")).to_have_count(0)
    expect(bob_page.locator("#inbox-list > li.unread")).to_have_count(0)
    own_action_on_top("notification.read")
    expect(bob_page).to_have_title("Activity · OptAIC")

    def show(state: str) -> None:
        bob_page.locator("#inbox-states label", has_text=state).click()

    # The unread filter, then done (archive) and back, then snooze and back.
    show("Unread")
    expect(bob_inbox).to_have_count(0)
    expect(bob_page.locator("#inbox-empty")).to_have_text("Nothing unread.")
    show("Inbox")
    expect(bob_inbox).to_have_count(1)
    bob_inbox.first.get_by_role("button", name=re.compile("^Done")).click()
    feed_total += 1
    expect(bob_inbox).to_have_count(0)
    own_action_on_top("notification.archived")
    show("Done")
    expect(bob_inbox).to_have_count(1)
    expect(bob_inbox.first.locator(".item-state")).to_contain_text("Done")
    bob_inbox.first.get_by_role("button", name=re.compile("^Move back to the inbox")).click()
    feed_total += 1
    expect(bob_inbox).to_have_count(0)
    own_action_on_top("notification.unarchived")
    show("Inbox")
    expect(bob_inbox).to_have_count(1)
    bob_inbox.first.get_by_role("combobox", name=re.compile("^Snooze")).select_option("hour")
    feed_total += 1
    expect(bob_inbox).to_have_count(0)
    own_action_on_top("notification.snoozed")
    show("Snoozed")
    expect(bob_inbox).to_have_count(1)
    expect(bob_inbox.first.locator(".item-state")).to_contain_text("Snoozed until")
    until = bob_inbox.first.locator(".item-state time").get_attribute("datetime")
    assert until is not None
    ahead = datetime.fromisoformat(until) - datetime.now(UTC)
    assert timedelta(minutes=55) < ahead <= timedelta(hours=1), ahead
    bob_inbox.first.get_by_role("button", name=re.compile("^Unsnooze")).click()
    feed_total += 1
    expect(bob_inbox).to_have_count(0)
    own_action_on_top("notification.unsnoozed")
    show("Inbox")
    expect(bob_inbox).to_have_count(1)
    counts_in_both_tabs(unread=0, unseen=0)

    # Load more: 40 more renames, a page (30) first, then the rest. Both tabs count them.
    rename_many(runtime, alice, research.id, [f"Research v{n}" for n in range(40)])
    feed_total += 40
    counts_in_both_tabs(unread=40, unseen=40)
    bob_page.reload()  # opening the page marks what it shows seen: one more own activity
    feed_total += 1
    expect(bob_page.locator("#connection")).to_have_attribute("data-state", "connected")
    counts_in_both_tabs(unread=40, unseen=0)
    expect(bob_inbox).to_have_count(30)
    bob_page.click("#inbox-more")
    expect(bob_inbox).to_have_count(41)
    expect(bob_page.locator("#inbox-more")).to_be_hidden()
    expect(bob_feed).to_have_count(31)  # the first page, and the seen on top of it
    expect(bob_feed.first.locator(".action")).to_have_text("notification.seen")
    bob_page.click("#feed-more")
    expect(bob_feed).to_have_count(feed_total)
    expect(bob_page.locator("#feed-more")).to_be_hidden()

    # A resource's activity, one click from a notification about it.
    rename(runtime, alice, archive.id, "Archive 2026")
    archived = bob_page.locator(f'#inbox-list > li[data-resource-id="{archive.id}"]')
    expect(archived).to_have_count(1)
    archived.locator("a.resource").click()
    expect(bob_page.locator("#resource-filter")).to_be_visible()
    assert bob_page.url.endswith(f"#resource={archive.id}")
    expect(bob_feed).to_have_count(3)  # created, Alice made editor, renamed
    for row in bob_feed.all():
        assert row.get_attribute("data-resource-id") == str(archive.id)
    expect(bob_inbox).to_have_count(1)
    expect(bob_inbox.first).to_have_attribute("data-resource-id", str(archive.id))
    bob_page.click("#resource-filter-clear")
    expect(bob_page.locator("#resource-filter")).to_be_hidden()
    expect(bob_feed).to_have_count(30)
    expect(bob_inbox).to_have_count(30)

    bob_page.screenshot(path=screenshot_path(request, "live-page-desktop"))

    # The phone: the header stays on one line; the workspace in one column.
    phone = chromium.tab(chromium.context(PHONE))
    sign_in(phone, site, bob)
    expect(phone.locator("#inbox-list > li")).to_have_count(30)
    header_is_one_line(phone)
    phone.screenshot(path=screenshot_path(request, "live-page-phone"))
    header_is_one_line(bob_page)

    # A hash change signs the second tab in as Alice (and the token leaves the URL again).
    second_tab.evaluate("token => { location.hash = 'token=' + token; }", alice.token)
    expect(second_tab.locator("#who .principal")).to_have_attribute(
        "title", str(alice.principal_id)
    )
    expect(second_tab.locator("#who .principal")).to_have_text("Alice Archer")
    expect(second_tab.locator("#connection")).to_have_attribute("data-state", "connected")
    assert "token=" not in second_tab.url
    expect(second_tab.locator("#inbox-list > li")).to_have_count(0)
    expect(second_tab.locator("#feed-list > li").first).to_contain_text("resource.updated")
    expect(second_tab.locator("#feed-list > li").first.locator(".actor")).to_have_text("you")
    assert chromium.problems == []

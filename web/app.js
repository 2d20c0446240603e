// The live activity page: your feed and inbox from the API, new notifications from Centrifugo.
// Plain JS, no build step. Every piece of data reaches the DOM as text (textContent), never
// as HTML. See docs/page.md.
(() => {
  "use strict";

  const TOKEN_KEY = "optaic-activity.token";
  const ACCESS_REVOKED = 4503; // notifier/disconnects.py DISCONNECT_CODE
  const PAGE_SIZE = 30;
  const FEED_REFRESH_DELAY_MS = 150;
  const FILTER_DELAY_MS = 250;

  const $ = (id) => document.getElementById(id);
  const ui = {
    who: $("who"),
    connection: $("connection"),
    connectionText: $("connection-text"),
    signOut: $("sign-out"),
    realtimeMissing: $("realtime-missing"),
    alert: $("alert"),
    signIn: $("sign-in"),
    signInForm: $("sign-in-form"),
    tokenInput: $("token-input"),
    workspace: $("workspace"),
    filterForm: $("filter"),
    filter: $("action-filter"),
    badge: $("unread-badge"),
    unreadCount: $("unread-count"),
    markRead: $("mark-read"),
    inboxList: $("inbox-list"),
    inboxEmpty: $("inbox-empty"),
    feedList: $("feed-list"),
    feedEmpty: $("feed-empty"),
    feedError: $("feed-error"),
  };

  const CONNECTION_TEXT = {
    "signed-out": "Signed out",
    connecting: "Connecting…",
    connected: "Live",
    disconnected: "Offline, reconnecting…",
    unavailable: "Live updates unavailable",
  };

  const state = {
    token: null,
    me: null, // the token's claims (for display only: the API checks the token)
    filter: "",
    unread: 0,
    seen: new Set(), // activity ids in the inbox list (a recovered publication is not shown twice)
    centrifuge: null,
    feedRequest: 0,
    feedTimer: null,
  };

  class SignedOut extends Error {}

  // -- small helpers -----------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  }

  function setConnection(name, detail) {
    ui.connection.dataset.state = name;
    ui.connectionText.textContent = detail || CONNECTION_TEXT[name];
  }

  function showAlert(message) {
    ui.alert.textContent = message;
    ui.alert.hidden = !message;
  }

  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    } catch {
      return null;
    }
  }

  function shortId(id) {
    return String(id).slice(0, 8);
  }

  function actorElement(id) {
    const you = Boolean(state.me) && id === state.me.sub;
    return el("span", { class: you ? "actor you" : "actor", title: id }, you ? "you" : shortId(id));
  }

  function timeElement(iso) {
    const when = new Date(iso);
    const sameDay = when.toDateString() === new Date().toDateString();
    const text = sameDay
      ? when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
      : when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    return el("time", { datetime: iso, title: when.toString() }, text);
  }

  // fnmatch-style glob (what the API's `action` parameter takes) as a RegExp, for the inbox.
  function globToRegExp(glob) {
    let source = "";
    for (let i = 0; i < glob.length; i += 1) {
      const c = glob[i];
      if (c === "*") source += ".*";
      else if (c === "?") source += ".";
      else if (c === "[" && glob.indexOf("]", i + 2) !== -1) {
        const end = glob.indexOf("]", i + 2);
        let set = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (set.startsWith("!")) set = "^" + set.slice(1);
        source += `[${set}]`;
        i = end;
      } else source += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
    return new RegExp(`^${source}$`);
  }

  function matchesFilter(action) {
    if (!state.filter) return true;
    try {
      return globToRegExp(state.filter).test(action);
    } catch {
      return true;
    }
  }

  // -- the API -------------------------------------------------------------------------------

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${state.token}` };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: options.method || "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
    });
    if (response.status === 401) {
      signOut("Your token was refused (expired or not valid). Sign in again.");
      throw new SignedOut();
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((body && (body.detail || body.title)) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function report(error) {
    if (!(error instanceof SignedOut)) showAlert(error.message);
  }

  // -- inbox ---------------------------------------------------------------------------------

  function notificationItem(n, { live = false } = {}) {
    const unread = !n.read_at;
    const item = el(
      "li",
      {
        class: `item notification${unread ? " unread" : ""}${live ? " fresh" : ""}`,
        "data-activity-id": n.activity_id,
        "data-action": n.action,
        "data-received-at": live ? String(Date.now()) : null,
      },
      el("p", { class: "summary" }, n.summary),
      el(
        "p",
        { class: "meta" },
        el("code", { class: "action" }, n.action),
        " · by ",
        actorElement(n.actor_principal_id),
        " · ",
        timeElement(n.occurred_at),
      ),
    );
    const reasons = el("ul", { class: "reasons", "aria-label": "Why you were notified" });
    for (const reason of n.reasons || []) reasons.append(el("li", { class: "reason" }, reason));
    item.append(reasons);
    if (unread) item.prepend(el("span", { class: "visually-hidden" }, "Unread: "));
    item.hidden = !matchesFilter(n.action);
    if (live) {
      // Flash once: not again when a filter hides and shows the item.
      const settle = () => item.classList.remove("fresh");
      item.addEventListener("animationend", settle, { once: true });
      item.addEventListener("animationcancel", settle, { once: true });
    }
    return item;
  }

  function setUnread(count) {
    state.unread = Math.max(0, count);
    ui.unreadCount.textContent = String(state.unread);
    ui.badge.dataset.count = String(state.unread);
    ui.markRead.disabled = state.unread === 0;
  }

  function updateInboxEmpty() {
    const items = [...ui.inboxList.children];
    const visible = items.some((item) => !item.hidden);
    ui.inboxEmpty.hidden = visible;
    ui.inboxEmpty.textContent = items.length
      ? `No notifications match “${state.filter}”.`
      : "No notifications yet.";
  }

  async function loadInbox() {
    const page = await api(`/notifications?limit=${PAGE_SIZE}`);
    ui.inboxList.setAttribute("aria-busy", "true"); // a reload is not news: don't announce it
    ui.inboxList.replaceChildren(...page.items.map((n) => notificationItem(n)));
    state.seen = new Set(page.items.map((n) => n.activity_id));
    ui.inboxList.removeAttribute("aria-busy");
    setUnread(page.unread_count);
    updateInboxEmpty();
  }

  function onNotification(message) {
    if (!message || message.v !== 1 || state.seen.has(message.activity_id)) return;
    state.seen.add(message.activity_id);
    ui.inboxList.prepend(notificationItem({ ...message, read_at: null }, { live: true }));
    setUnread(state.unread + 1);
    updateInboxEmpty();
    scheduleFeedRefresh();
  }

  async function markAllRead() {
    ui.markRead.disabled = true;
    try {
      const newest = await api("/notifications?limit=1");
      if (newest.items.length) {
        const position = newest.items[0].position;
        await api("/notifications/read", { method: "POST", body: { up_to_position: position } });
      }
      await loadInbox();
    } catch (error) {
      report(error);
      ui.markRead.disabled = state.unread === 0;
    }
  }

  // -- feed ----------------------------------------------------------------------------------

  function describePayload(payload) {
    if (payload && payload.changes && typeof payload.changes === "object") {
      return Object.entries(payload.changes)
        .map(([field, change]) => `${field}: ${show(change && change.old)} → ${show(change && change.new)}`)
        .join("; ");
    }
    if (payload && typeof payload.name === "string") return `“${payload.name}”`;
    if (payload && typeof payload.role === "string") return `role ${payload.role}`;
    return "";
  }

  function show(value) {
    if (value === null || value === undefined) return "—";
    return typeof value === "string" ? `“${value}”` : JSON.stringify(value);
  }

  function activityItem(a) {
    const detail = describePayload(a.payload);
    return el(
      "li",
      { class: "item activity", "data-activity-id": a.activity_id, "data-action": a.action },
      el(
        "p",
        { class: "summary" },
        el("code", { class: "action" }, a.action),
        " on ",
        el("span", { class: "resource", title: a.resource_id }, `${a.resource_type} ${shortId(a.resource_id)}`),
      ),
      detail ? el("p", { class: "detail" }, detail) : null,
      el(
        "p",
        { class: "meta" },
        "by ",
        actorElement(a.actor_principal_id),
        " · ",
        timeElement(a.occurred_at),
        " · ",
        el("span", { class: "visibility" }, a.visibility),
      ),
    );
  }

  async function loadFeed() {
    const request = (state.feedRequest += 1);
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.filter) query.set("action", state.filter);
    try {
      const page = await api(`/activities?${query}`);
      if (request !== state.feedRequest) return; // a newer load (another filter) won
      ui.feedError.hidden = true;
      ui.feedList.replaceChildren(...page.items.map(activityItem));
      ui.feedEmpty.hidden = page.items.length > 0;
      ui.feedEmpty.textContent = state.filter ? `No activity matches “${state.filter}”.` : "No activity.";
    } catch (error) {
      if (error instanceof SignedOut || request !== state.feedRequest) return;
      ui.feedError.textContent = `The feed could not be loaded: ${error.message}`;
      ui.feedError.hidden = false;
    }
  }

  function scheduleFeedRefresh() {
    clearTimeout(state.feedTimer);
    state.feedTimer = setTimeout(loadFeed, FEED_REFRESH_DELAY_MS);
  }

  function applyFilter() {
    state.filter = ui.filter.value.trim();
    for (const item of ui.inboxList.children) item.hidden = !matchesFilter(item.dataset.action);
    updateInboxEmpty();
    loadFeed();
  }

  // -- real time -----------------------------------------------------------------------------

  async function realtimeToken() {
    try {
      return await api("/realtime/token");
    } catch (error) {
      // A refused API token will not get better by retrying: stop reconnecting.
      if (error instanceof SignedOut) throw new Centrifuge.UnauthorizedError("signed out");
      throw error;
    }
  }

  async function connect() {
    if (typeof window.Centrifuge !== "function") {
      ui.realtimeMissing.hidden = false;
      setConnection("unavailable");
      return;
    }
    setConnection("connecting");
    let grant;
    try {
      grant = await realtimeToken();
    } catch (error) {
      if (error instanceof Centrifuge.UnauthorizedError) return;
      setConnection("unavailable");
      showAlert(`Live updates are unavailable: ${error.message}`);
      return;
    }
    if (!grant.websocket_url) {
      setConnection("unavailable");
      showAlert("Live updates are unavailable: the server has no Centrifugo WebSocket URL configured.");
      return;
    }
    const centrifuge = new Centrifuge(grant.websocket_url, {
      token: grant.token,
      getToken: async () => (await realtimeToken()).token,
    });
    const subscription = centrifuge.newSubscription(grant.channel);
    let subscribedBefore = false;
    subscription.on("subscribing", () => setConnection("connecting"));
    subscription.on("subscribed", (ctx) => {
      setConnection("connected");
      // Back after a gap that history could not fill: read what was missed from the API.
      if (subscribedBefore && !(ctx.wasRecovering && ctx.recovered)) {
        loadInbox().catch(report);
        scheduleFeedRefresh();
      }
      subscribedBefore = true;
    });
    subscription.on("publication", (ctx) => onNotification(ctx.data));
    centrifuge.on("disconnected", (ctx) => {
      setConnection(state.token ? "disconnected" : "signed-out");
      // The server ended the session because the principal lost their last role in this
      // tenant (the notifier's terminal code): centrifuge-js does not reconnect.
      if (ctx && ctx.code === ACCESS_REVOKED) showAlert("Live updates stopped: your access to this tenant was revoked.");
    });
    centrifuge.on("connecting", () => setConnection("connecting"));
    subscription.subscribe();
    centrifuge.connect();
    state.centrifuge = centrifuge;
  }

  // -- signing in and out ----------------------------------------------------------------------

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.me = null;
    if (state.centrifuge) state.centrifuge.disconnect();
    state.centrifuge = null;
    ui.workspace.hidden = true;
    ui.signOut.hidden = true;
    ui.who.hidden = true;
    ui.signIn.hidden = false;
    setConnection("signed-out");
    showAlert(message || "");
    ui.tokenInput.focus();
  }

  async function signIn(token) {
    state.token = token;
    state.me = claimsOf(token);
    sessionStorage.setItem(TOKEN_KEY, token);
    showAlert("");
    ui.signIn.hidden = true;
    ui.workspace.hidden = false;
    ui.signOut.hidden = false;
    ui.who.hidden = !state.me;
    if (state.me) {
      ui.who.replaceChildren(
        "Signed in as ",
        el("span", { class: "principal", title: state.me.sub }, shortId(state.me.sub)),
      );
    }
    try {
      await Promise.all([loadInbox(), loadFeed()]);
    } catch (error) {
      report(error);
      if (error instanceof SignedOut) return;
    }
    await connect();
  }

  function tokenFromFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const token = params.get("token");
    if (token) {
      // Keep the token out of the address bar, the history and bookmarks.
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return token;
  }

  function start() {
    ui.signInForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = ui.tokenInput.value.trim();
      ui.tokenInput.value = "";
      if (token) signIn(token);
    });
    ui.signOut.addEventListener("click", () => signOut());
    ui.markRead.addEventListener("click", markAllRead);
    ui.filterForm.addEventListener("submit", (event) => {
      event.preventDefault();
      applyFilter();
    });
    let filterTimer = null;
    ui.filter.addEventListener("input", () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(applyFilter, FILTER_DELAY_MS);
    });

    if (typeof window.Centrifuge !== "function") ui.realtimeMissing.hidden = false;
    const token = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY);
    if (token) signIn(token);
    else signOut();
  }

  start();
})();

// The live activity page: your feed and inbox from the API, new notifications and counts from
// Centrifugo. Plain JS, no build step. Every piece of data reaches the DOM as text
// (textContent), never as HTML. See docs/page.md.
(() => {
  "use strict";

  const TOKEN_KEY = "optaic-activity.token";
  const ACCESS_REVOKED = 4503; // notifier/disconnects.py DISCONNECT_CODE
  const PAGE_SIZE = 30;
  const REFRESH_DELAY_MS = 150;
  const FILTER_DELAY_MS = 250;
  const MAX_PAGES_PER_LOAD = 20; // a resource filter the feed API lacks is walked on the page
  const HOUR_MS = 3600 * 1000;
  const TOMORROW_HOUR = 9;
  const MAX_ATTEMPTS = 3;

  const $ = (id) => document.getElementById(id);
  const ui = {
    who: $("who"),
    connection: $("connection"),
    connectionText: $("connection-text"),
    signOut: $("sign-out"),
    realtimeMissing: $("realtime-missing"),
    alert: $("alert"),
    status: $("status"),
    signIn: $("sign-in"),
    signInForm: $("sign-in-form"),
    tokenInput: $("token-input"),
    workspace: $("workspace"),
    filterForm: $("filter"),
    filter: $("action-filter"),
    resourceFilter: $("resource-filter"),
    resourceFilterName: $("resource-filter-name"),
    states: $("inbox-states"),
    badge: $("unread-badge"),
    unreadCount: $("unread-count"),
    unseenBadge: $("unseen-badge"),
    unseenCount: $("unseen-count"),
    markRead: $("mark-read"),
    inboxList: $("inbox-list"),
    inboxEmpty: $("inbox-empty"),
    inboxMore: $("inbox-more"),
    feedList: $("feed-list"),
    feedEmpty: $("feed-empty"),
    feedError: $("feed-error"),
    feedMore: $("feed-more"),
  };

  const CONNECTION_TEXT = {
    "signed-out": "Signed out",
    connecting: "Connecting…",
    connected: "Live",
    disconnected: "Offline, reconnecting…",
    unavailable: "Live updates unavailable",
  };
  const STATE_EMPTY = {
    inbox: "No notifications yet.",
    unread: "Nothing unread.",
    archived: "Nothing done yet.",
    snoozed: "Nothing snoozed.",
  };
  const BASE_TITLE = document.title;

  // What this server's API offers, read from its OpenAPI document at sign-in: the page asks
  // only for what exists (no failing request, no console error) and shows what it gets.
  const caps = { states: false, members: false, feedByResource: false };

  const state = {
    token: null,
    me: null, // the token's claims (for display only: the API checks the token)
    filter: "",
    inboxState: "inbox",
    resource: null, // the resource id the page is filtered to (#resource=<id>)
    unread: 0,
    unseen: 0,
    shown: new Set(), // activity ids in the inbox list (a recovered publication is not shown twice)
    inboxCursor: null,
    feedCursor: null,
    inboxRequest: 0,
    feedRequest: 0,
    timers: {},
    centrifuge: null,
    names: new Map(), // principal id -> display name, from the API's items
    myName: null,
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

  function later(name, action, delay = REFRESH_DELAY_MS) {
    clearTimeout(state.timers[name]);
    state.timers[name] = setTimeout(action, delay);
  }

  function setConnection(name, detail) {
    ui.connection.dataset.state = name;
    ui.connectionText.textContent = detail || CONNECTION_TEXT[name];
  }

  function showAlert(message) {
    ui.alert.textContent = message;
    ui.alert.hidden = !message;
  }

  function announce(message) {
    ui.status.textContent = message;
    later("status", () => (ui.status.textContent = ""), 4000);
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

  // A name with its id one click away: the title shows it, a click copies it.
  function idButton(id, name, className) {
    const button = el(
      "button",
      { type: "button", class: `id ${className}`, "data-id": id, title: id },
      name,
    );
    button.addEventListener("click", () => copyId(id));
    return button;
  }

  function copyId(id) {
    const done = () => announce(`Copied ${id}`);
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(id).then(done, () => announce(id));
    } else announce(id);
  }

  function actorElement(id, name) {
    if (name) state.names.set(id, name);
    // Your own name, as the directory has it, from your own activities (no extra request).
    if (name && state.me && id === state.me.sub && name !== state.myName) {
      state.myName = name;
      showWho(name);
    }
    const you = Boolean(state.me) && id === state.me.sub;
    const shown = you ? "you" : name || state.names.get(id) || shortId(id);
    return idButton(id, shown, you ? "actor you" : "actor");
  }

  function resourceLink(id, type, name) {
    const text = name ? `${type} “${name}”` : `${type} ${shortId(id)}`;
    return el(
      "a",
      { class: "resource", href: `#resource=${encodeURIComponent(id)}`, title: `${id}: show its activity`, "data-resource-id": id },
      text,
    );
  }

  const DATE_TIME = { dateStyle: "medium", timeStyle: "short" };
  const TIME_ONLY = { hour: "2-digit", minute: "2-digit" };

  function formatWhen(when) {
    const now = new Date();
    if (when.toDateString() === now.toDateString()) return `today ${when.toLocaleTimeString([], TIME_ONLY)}`;
    const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (when.toDateString() === yesterday.toDateString()) {
      return `yesterday ${when.toLocaleTimeString([], TIME_ONLY)}`;
    }
    return when.toLocaleString([], DATE_TIME);
  }

  function timeElement(iso) {
    const when = new Date(iso);
    const full = when.toLocaleString([], { dateStyle: "full", timeStyle: "long" });
    return el("time", { datetime: iso, title: `${full} (${iso})` }, formatWhen(when));
  }

  // fnmatch-style glob (what the API's `action` parameter takes) as a RegExp, for the inbox
  // when the API cannot filter it.
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

  function matchesAction(action) {
    if (!state.filter) return true;
    try {
      return globToRegExp(state.filter).test(action);
    } catch {
      return true;
    }
  }

  function matchesView(item) {
    return matchesAction(item.action) && (!state.resource || item.resource_id === state.resource);
  }

  // -- the API -------------------------------------------------------------------------------

  // One request of this tab at a time: the API lets one caller run only a few at once
  // (ACTIVITY_API_MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL, 4 by default), and you may have
  // several tabs open, each refreshing when a publication arrives. A 429 is retried after
  // its Retry-After.
  let queue = Promise.resolve();

  function api(path, options = {}) {
    const run = queue.then(() => request(path, options));
    queue = run.catch(() => {});
    return run;
  }

  async function request(path, options, attempt = 1) {
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
    if (response.status === 429 && attempt < MAX_ATTEMPTS) {
      const seconds = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      return request(path, options, attempt + 1);
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

  async function loadCapabilities() {
    let paths = {};
    try {
      const response = await fetch("/openapi.json", { cache: "no-store" });
      if (response.ok) paths = (await response.json()).paths || {};
    } catch {
      // No document: the page uses only what every version of the API has.
    }
    const queryParameters = (path) =>
      new Set(((paths[path] && paths[path].get && paths[path].get.parameters) || []).map((p) => p.name));
    caps.states = Boolean(paths["/notifications/archive"] && paths["/notifications/snooze"]) &&
      queryParameters("/notifications").has("state");
    caps.members = Boolean(paths["/notifications/{position}/members"]);
    caps.feedByResource = queryParameters("/activities").has("resource_id");
    document.body.dataset.states = caps.states ? "on" : "off";
    for (const input of ui.states.querySelectorAll("input")) {
      input.closest("label").hidden = !caps.states && !["inbox", "unread"].includes(input.value);
    }
  }

  // -- counts ----------------------------------------------------------------------------------

  function setCounts(counts) {
    if (typeof counts.unread_count === "number") state.unread = Math.max(0, counts.unread_count);
    if (typeof counts.unseen_count === "number") state.unseen = Math.max(0, counts.unseen_count);
    ui.unreadCount.textContent = String(state.unread);
    ui.badge.dataset.count = String(state.unread);
    ui.unseenCount.textContent = String(state.unseen);
    ui.unseenBadge.dataset.count = String(state.unseen);
    ui.unseenBadge.hidden = !caps.states;
    ui.markRead.disabled = state.unread === 0;
    document.title = state.unread ? `(${state.unread}) ${BASE_TITLE}` : BASE_TITLE;
  }

  // -- inbox ---------------------------------------------------------------------------------

  function inboxQuery(cursor, limit = PAGE_SIZE) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (caps.states) {
      query.set("state", state.inboxState);
      if (state.filter) query.set("action", state.filter);
      if (state.resource) query.set("resource_id", state.resource);
    } else if (state.inboxState === "unread") query.set("unread_only", "true");
    if (cursor) query.set("cursor", cursor);
    return `/notifications?${query}`;
  }

  function digestLine(n) {
    const digest = n.digest;
    const names = (digest.actor_names && digest.actor_names.length ? digest.actor_names : (digest.actors || []).map(shortId));
    const people = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
    const line = el(
      "p",
      { class: "digest-line" },
      el("span", { class: "digest-count" }, `${digest.count} updates`),
      people ? ` by ${people}` : null,
    );
    if (caps.members && n.position) {
      const members = el("details", { class: "members" }, el("summary", {}, `Show the ${digest.count}`));
      const list = el("ol", { class: "items member-list" });
      members.append(list);
      members.addEventListener("toggle", () => {
        if (!members.open || list.childElementCount) return;
        api(`/notifications/${n.position}/members`)
          .then((body) => {
            const items = Array.isArray(body) ? body : body.items || [];
            list.replaceChildren(...items.map((m) => notificationItem(m, { member: true })));
          })
          .catch(report);
      });
      return [line, members];
    }
    return [line];
  }

  function itemState(n) {
    if (n.snoozed_until && new Date(n.snoozed_until) > new Date()) {
      return el("p", { class: "item-state" }, "Snoozed until ", timeElement(n.snoozed_until));
    }
    if (n.archived_at) return el("p", { class: "item-state" }, "Done ", timeElement(n.archived_at));
    return null;
  }

  function itemActions(n) {
    const label = n.summary;
    const actions = el("div", { class: "item-actions" });
    const read = !n.read_at;
    actions.append(
      el("button", { type: "button", class: "button quiet small", "data-verb": read ? "read" : "unread", "aria-label": `${read ? "Mark read" : "Mark unread"}: ${label}` }, read ? "Mark read" : "Mark unread"),
    );
    if (!caps.states) {
      // This API can mark read only: no "unread" to go back to.
      if (!read) actions.lastChild.remove();
      return actions;
    }
    const archived = Boolean(n.archived_at);
    actions.append(
      el("button", { type: "button", class: "button quiet small", "data-verb": archived ? "unarchive" : "archive", "aria-label": `${archived ? "Move back to the inbox" : "Done"}: ${label}` }, archived ? "Move to inbox" : "Done"),
    );
    const snoozed = n.snoozed_until && new Date(n.snoozed_until) > new Date();
    if (snoozed) {
      actions.append(el("button", { type: "button", class: "button quiet small", "data-verb": "unsnooze", "aria-label": `Unsnooze: ${label}` }, "Unsnooze"));
    } else {
      const snooze = el(
        "select",
        { class: "snooze", "data-verb": "snooze", "aria-label": `Snooze: ${label}` },
        el("option", { value: "" }, "Snooze…"),
        el("option", { value: "hour" }, "1 hour"),
        el("option", { value: "tomorrow" }, "Tomorrow 9:00"),
      );
      actions.append(snooze);
    }
    return actions;
  }

  function notificationItem(n, { live = false, member = false } = {}) {
    const unread = !n.read_at;
    const digest = n.kind === "digest" && n.digest;
    const item = el(
      "li",
      {
        class: `item notification${unread ? " unread" : ""}${live ? " fresh" : ""}${digest ? " digest" : ""}`,
        "data-activity-id": n.activity_id,
        "data-position": n.position || null,
        "data-action": n.action,
        "data-resource-id": n.resource_id,
        "data-received-at": live ? String(Date.now()) : null,
      },
      el("p", { class: "summary" }, n.summary),
      ...(digest ? digestLine(n) : []),
      el(
        "p",
        { class: "meta" },
        el("code", { class: "action" }, n.action),
        " · by ",
        actorElement(n.actor_principal_id, n.actor_name),
        " · on ",
        resourceLink(n.resource_id, n.resource_type, n.resource_name),
        " · ",
        timeElement(n.occurred_at),
      ),
      itemState(n),
    );
    const reasons = el("ul", { class: "reasons", "aria-label": "Why you were notified" });
    for (const reason of n.reasons || []) reasons.append(el("li", { class: "reason" }, reason));
    item.append(reasons);
    if (!member) item.append(itemActions(n));
    item.notification = n; // what it was made from, to redraw it after a change
    if (unread) item.prepend(el("span", { class: "visually-hidden" }, "Unread: "));
    // Without the API's filters the inbox is filtered here (on what is loaded).
    item.hidden = !caps.states && !member && !matchesView(n);
    if (live) {
      // Flash once: not again when a filter hides and shows the item.
      const settle = () => item.classList.remove("fresh");
      item.addEventListener("animationend", settle, { once: true });
      item.addEventListener("animationcancel", settle, { once: true });
    }
    return item;
  }

  function updateInboxEmpty() {
    const items = [...ui.inboxList.children];
    ui.inboxEmpty.hidden = items.some((item) => !item.hidden);
    const filtered = state.filter || state.resource;
    ui.inboxEmpty.textContent = filtered && (items.length || caps.states)
      ? `No notifications match${state.filter ? ` “${state.filter}”` : " this resource"}.`
      : STATE_EMPTY[state.inboxState];
    ui.inboxMore.hidden = !state.inboxCursor;
  }

  function renderInbox(page, { append = false } = {}) {
    ui.inboxList.setAttribute("aria-busy", "true"); // a reload is not news: don't announce it
    const items = page.items.filter((n) => !(append && state.shown.has(n.activity_id)));
    if (append) ui.inboxList.append(...items.map((n) => notificationItem(n)));
    else {
      ui.inboxList.replaceChildren(...items.map((n) => notificationItem(n)));
      state.shown = new Set();
    }
    for (const n of items) state.shown.add(n.activity_id);
    ui.inboxList.removeAttribute("aria-busy");
    state.inboxCursor = page.next_cursor;
    setCounts(page);
    updateInboxEmpty();
  }

  async function loadInbox() {
    const request = (state.inboxRequest += 1);
    const page = await api(inboxQuery(null));
    if (request !== state.inboxRequest) return; // a newer load (another filter) won
    renderInbox(page);
  }

  async function loadMoreInbox() {
    if (!state.inboxCursor) return;
    ui.inboxMore.disabled = true;
    const request = state.inboxRequest;
    try {
      const page = await api(inboxQuery(state.inboxCursor));
      if (request === state.inboxRequest) renderInbox(page, { append: true });
    } catch (error) {
      report(error);
    } finally {
      ui.inboxMore.disabled = false;
    }
  }

  // The newest page again: positions for items that arrived live, states changed in another
  // tab, counts. Items loaded further down (load more) stay as they are.
  async function refreshInboxHead() {
    const request = state.inboxRequest;
    const page = await api(inboxQuery(null));
    if (request !== state.inboxRequest) return;
    const items = [...ui.inboxList.children];
    const byId = new Map(items.map((item) => [item.dataset.activityId, item]));
    const oldest = page.items.length ? page.items[page.items.length - 1].position : Infinity;
    let tail = page.next_cursor
      ? items.filter((item) => item.dataset.position && Number(item.dataset.position) < oldest)
      : [];
    if (tail.length && !page.items.some((n) => byId.has(n.activity_id))) tail = []; // a gap
    if (!tail.length) state.inboxCursor = page.next_cursor;
    const focused = document.activeElement && ui.inboxList.contains(document.activeElement)
      ? [document.activeElement.closest("li").dataset.activityId, document.activeElement.dataset.verb]
      : null;
    const head = page.items.map((n) => carryOver(byId.get(n.activity_id), notificationItem(n)));
    ui.inboxList.setAttribute("aria-busy", "true");
    ui.inboxList.replaceChildren(...head, ...tail);
    ui.inboxList.removeAttribute("aria-busy");
    state.shown = new Set([...ui.inboxList.children].map((item) => item.dataset.activityId));
    if (focused) refocus(...focused);
    setCounts(page);
    updateInboxEmpty();
  }

  // What the page knows of an item beyond the API's answer: when it arrived live.
  function carryOver(existing, replacement) {
    if (existing && existing.dataset.receivedAt) replacement.dataset.receivedAt = existing.dataset.receivedAt;
    return replacement;
  }

  function refocus(activityId, verb) {
    const item = ui.inboxList.querySelector(`li[data-activity-id="${activityId}"]`);
    const control = item && (item.querySelector(`[data-verb="${verb}"]`) || item.querySelector("[data-verb]"));
    if (control) control.focus();
  }

  // The API's state filters, for an item the page changed itself.
  function inView(n) {
    const snoozed = Boolean(n.snoozed_until) && new Date(n.snoozed_until) > new Date();
    switch (state.inboxState) {
      case "inbox":
        return !n.archived_at && !snoozed;
      case "unread":
        return !n.read_at && !n.archived_at;
      case "archived":
        return Boolean(n.archived_at);
      case "snoozed":
        return snoozed;
      default:
        return true;
    }
  }

  function belongsToView(message) {
    if (!["inbox", "unread", "all"].includes(state.inboxState)) return false;
    return matchesView(message) || !caps.states;
  }

  function onPublication(message) {
    if (!message) return;
    if (message.type === "counts") {
      // A state change of yours (in this tab or another): counts now, the rest from the API.
      setCounts(message);
      later("inbox", () => refreshInboxHead().catch(report));
      later("feed", () => refreshFeedHead().catch(report));
      return;
    }
    if (message.v !== 1 || state.shown.has(message.activity_id)) return;
    if (belongsToView(message)) {
      state.shown.add(message.activity_id);
      ui.inboxList.prepend(notificationItem({ ...message, read_at: null }, { live: true }));
    }
    setCounts({ unread_count: state.unread + 1, unseen_count: state.unseen + 1 });
    updateInboxEmpty();
    later("inbox", () => refreshInboxHead().catch(report));
    later("feed", () => refreshFeedHead().catch(report));
  }

  async function positionOf(item) {
    if (!item.dataset.position) await refreshInboxHead();
    const current = ui.inboxList.querySelector(`li[data-activity-id="${item.dataset.activityId}"]`);
    const position = current && current.dataset.position;
    if (!position) throw new Error("This notification is not in the inbox any more.");
    return Number(position);
  }

  function snoozeUntil(choice) {
    const now = new Date();
    if (choice === "hour") return new Date(now.getTime() + HOUR_MS);
    return new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, TOMORROW_HOUR);
  }

  const VERB_DONE = {
    read: "Marked read",
    unread: "Marked unread",
    archive: "Done",
    unarchive: "Moved back to the inbox",
    snooze: "Snoozed",
    unsnooze: "Unsnoozed",
  };

  const VERB_CHANGES = {
    read: (n, now) => ({ ...n, read_at: now }),
    unread: (n) => ({ ...n, read_at: null }),
    archive: (n, now) => ({ ...n, archived_at: now }),
    unarchive: (n) => ({ ...n, archived_at: null }),
    snooze: (n, _, until) => ({ ...n, snoozed_until: until }),
    unsnooze: (n) => ({ ...n, snoozed_until: null }),
  };

  // One notification: its own state change (one activity), then the counts from the answer.
  async function changeItem(item, verb, choice) {
    const controls = [...item.querySelectorAll("[data-verb]")];
    for (const control of controls) control.disabled = true;
    const focusedVerb = item.contains(document.activeElement) ? document.activeElement.dataset.verb : null;
    try {
      const body = { positions: [await positionOf(item)] };
      if (verb === "snooze") body.until = snoozeUntil(choice).toISOString();
      setCounts(await api(`/notifications/${verb}`, { method: "POST", body }));
      announce(VERB_DONE[verb]);
      const current = ui.inboxList.querySelector(`li[data-activity-id="${item.dataset.activityId}"]`);
      if (current) {
        const changed = VERB_CHANGES[verb](current.notification, new Date().toISOString(), body.until);
        if (inView(changed) || !caps.states && state.inboxState !== "unread") {
          current.replaceWith(carryOver(current, notificationItem(changed)));
          refocus(item.dataset.activityId, focusedVerb);
        } else {
          const next = current.nextElementSibling || current.previousElementSibling;
          current.remove();
          state.shown.delete(item.dataset.activityId);
          const control = next && next.querySelector("[data-verb]");
          if (control) control.focus();
        }
      }
      updateInboxEmpty();
      refreshFeedHead().catch(report); // your own activity (notification.<verb>) is in your feed
    } catch (error) {
      report(error);
    } finally {
      for (const control of controls) if (control.isConnected) control.disabled = false;
    }
  }

  function onInboxAction(event) {
    const control = event.target.closest("[data-verb]");
    if (!control || !ui.inboxList.contains(control)) return;
    const item = control.closest("li.notification");
    if (control.tagName === "SELECT") {
      if (event.type !== "change" || !control.value) return;
      changeItem(item, "snooze", control.value);
    } else if (event.type === "click") {
      changeItem(item, control.dataset.verb);
    }
  }

  // You looked: what the list shows is seen (one notification.seen, only when needed).
  async function markSeen() {
    if (!caps.states || state.unseen === 0 || document.visibilityState !== "visible") return;
    const positions = [...ui.inboxList.children].map((item) => Number(item.dataset.position || 0));
    const newest = Math.max(0, ...positions);
    if (!newest) return;
    setCounts(await api("/notifications/seen", { method: "POST", body: { up_to_position: newest } }));
    await refreshFeedHead(); // your notification.seen
  }

  async function markAllRead() {
    ui.markRead.disabled = true;
    try {
      if (caps.states) {
        setCounts(await api("/notifications/read", { method: "POST", body: { all: true } }));
      } else {
        const newest = await api("/notifications?limit=1");
        if (newest.items.length) {
          const position = newest.items[0].position;
          setCounts(await api("/notifications/read", { method: "POST", body: { up_to_position: position } }));
        }
      }
      await loadInbox();
      refreshFeedHead().catch(report);
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
      {
        class: "item activity",
        "data-activity-id": a.activity_id,
        "data-position": a.position,
        "data-action": a.action,
        "data-resource-id": a.resource_id,
      },
      el(
        "p",
        { class: "summary" },
        el("code", { class: "action" }, a.action),
        " on ",
        resourceLink(a.resource_id, a.resource_type, a.resource_name),
      ),
      detail ? el("p", { class: "detail" }, detail) : null,
      el(
        "p",
        { class: "meta" },
        "by ",
        actorElement(a.actor_principal_id, a.actor_name),
        " · ",
        timeElement(a.occurred_at),
        " · ",
        el("span", { class: "visibility" }, a.visibility),
      ),
    );
  }

  function feedQuery(cursor) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.filter) query.set("action", state.filter);
    if (state.resource && caps.feedByResource) query.set("resource_id", state.resource);
    if (cursor) query.set("cursor", cursor);
    return `/activities?${query}`;
  }

  // A page of the feed in this view: without the API's resource filter, pages are walked here
  // until a page's worth matches (or the feed ends).
  async function fetchFeed(cursor) {
    let page = await api(feedQuery(cursor));
    if (!state.resource || caps.feedByResource) return page;
    const items = page.items.filter((a) => a.resource_id === state.resource);
    for (let walked = 1; items.length < PAGE_SIZE && page.next_cursor && walked < MAX_PAGES_PER_LOAD; walked += 1) {
      page = await api(feedQuery(page.next_cursor));
      items.push(...page.items.filter((a) => a.resource_id === state.resource));
    }
    return { items, next_cursor: page.next_cursor };
  }

  function renderFeed(page, { append = false } = {}) {
    ui.feedError.hidden = true;
    const shown = new Set([...ui.feedList.children].map((item) => item.dataset.activityId));
    const items = append ? page.items.filter((a) => !shown.has(a.activity_id)) : page.items;
    if (append) ui.feedList.append(...items.map(activityItem));
    else ui.feedList.replaceChildren(...items.map(activityItem));
    state.feedCursor = page.next_cursor;
    updateFeedEmpty();
  }

  function updateFeedEmpty() {
    ui.feedEmpty.hidden = ui.feedList.childElementCount > 0;
    ui.feedEmpty.textContent = state.filter || state.resource ? "No activity matches." : "No activity.";
    ui.feedMore.hidden = !state.feedCursor;
  }

  function feedFailed(error, request) {
    if (error instanceof SignedOut || request !== state.feedRequest) return;
    ui.feedError.textContent = `The feed could not be loaded: ${error.message}`;
    ui.feedError.hidden = false;
  }

  async function loadFeed() {
    const request = (state.feedRequest += 1);
    try {
      const page = await fetchFeed(null);
      if (request === state.feedRequest) renderFeed(page); // else a newer load (another filter) won
    } catch (error) {
      feedFailed(error, request);
    }
  }

  async function loadMoreFeed() {
    if (!state.feedCursor) return;
    ui.feedMore.disabled = true;
    const request = state.feedRequest;
    try {
      const page = await fetchFeed(state.feedCursor);
      if (request === state.feedRequest) renderFeed(page, { append: true });
    } catch (error) {
      feedFailed(error, request);
    } finally {
      ui.feedMore.disabled = false;
    }
  }

  // New activities on top (yours too: nobody is notified of their own, so the page asks).
  async function refreshFeedHead() {
    const request = state.feedRequest;
    const page = await api(feedQuery(null));
    if (request !== state.feedRequest) return;
    const top = Number((ui.feedList.firstElementChild && ui.feedList.firstElementChild.dataset.position) || 0);
    const newer = page.items.filter((a) => a.position > top && (!state.resource || a.resource_id === state.resource));
    if (newer.length === page.items.length && ui.feedList.childElementCount && !state.resource) {
      renderFeed(page); // more new than a page: start again from the newest
      return;
    }
    ui.feedList.prepend(...newer.map(activityItem));
    if (!ui.feedList.childElementCount) state.feedCursor = page.next_cursor;
    updateFeedEmpty();
  }

  // -- filters -----------------------------------------------------------------------------------

  function reloadViews() {
    state.inboxCursor = null;
    state.feedCursor = null;
    loadInbox().catch(report);
    loadFeed();
  }

  function applyFilter() {
    const filter = ui.filter.value.trim();
    if (filter === state.filter) return;
    state.filter = filter;
    reloadViews();
  }

  function applyInboxState() {
    const chosen = ui.states.querySelector("input:checked");
    state.inboxState = chosen ? chosen.value : "inbox";
    loadInbox().catch(report);
  }

  function showResourceFilter() {
    ui.resourceFilter.hidden = !state.resource;
    if (!state.resource) return;
    const known = document.querySelector(`a.resource[data-resource-id="${state.resource}"]`);
    ui.resourceFilterName.textContent = known ? known.textContent : shortId(state.resource);
    ui.resourceFilterName.title = state.resource;
  }

  // -- real time -------------------------------------------------------------------------------

  // Asked for first at sign-in: the API records your token's name then (an activity of yours
  // your feed is loaded with).
  async function realtimeGrant() {
    try {
      return await api("/realtime/token");
    } catch (error) {
      if (!(error instanceof SignedOut)) {
        setConnection("unavailable");
        showAlert(`Live updates are unavailable: ${error.message}`);
      }
      return null;
    }
  }

  function connect(grant) {
    if (typeof window.Centrifuge !== "function") {
      setConnection("unavailable", "Live updates unavailable (no client)");
      return;
    }
    if (!grant || !state.token) return;
    if (!grant.websocket_url) {
      setConnection("unavailable", "Live updates unavailable (not configured)");
      return;
    }
    const centrifuge = new window.Centrifuge(grant.websocket_url, {
      token: grant.token,
      getToken: async () => (await api("/realtime/token")).token,
    });
    const subscription = centrifuge.newSubscription(grant.channel);
    let subscribedBefore = false;
    subscription.on("subscribing", () => setConnection("connecting"));
    subscription.on("subscribed", (ctx) => {
      setConnection("connected");
      // Back after a gap that history could not fill: read what was missed from the API.
      if (subscribedBefore && !(ctx.wasRecovering && ctx.recovered)) {
        loadInbox().catch(report);
        loadFeed();
      }
      subscribedBefore = true;
    });
    subscription.on("publication", (ctx) => onPublication(ctx.data));
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

  function leave() {
    if (state.centrifuge) state.centrifuge.disconnect();
    state.centrifuge = null;
    state.inboxRequest += 1;
    state.feedRequest += 1;
    state.shown = new Set();
    state.names = new Map();
    state.myName = null;
    ui.inboxList.replaceChildren();
    ui.feedList.replaceChildren();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    leave();
    state.token = null;
    state.me = null;
    ui.workspace.hidden = true;
    ui.signOut.hidden = true;
    ui.who.hidden = true;
    ui.signIn.hidden = false;
    document.title = BASE_TITLE;
    setConnection("signed-out");
    showAlert(message || "");
    ui.tokenInput.focus();
  }

  function showWho(name) {
    ui.who.hidden = !state.me;
    if (!state.me) return;
    ui.who.replaceChildren(
      el("span", { class: "who-label" }, "Signed in as "),
      idButton(state.me.sub, name || state.me.name || shortId(state.me.sub), "principal"),
    );
  }

  async function signIn(token) {
    if (state.token) leave(); // another token (a new #token=): another person's session
    state.token = token;
    state.me = claimsOf(token);
    sessionStorage.setItem(TOKEN_KEY, token);
    showAlert("");
    ui.signIn.hidden = true;
    ui.workspace.hidden = false;
    ui.signOut.hidden = false;
    showWho();
    await loadCapabilities();
    if (state.token !== token) return; // signed out (or in again) meanwhile
    const grant = await realtimeGrant();
    if (state.token !== token) return;
    try {
      await Promise.all([loadInbox(), loadFeed()]);
      await markSeen();
    } catch (error) {
      report(error);
      if (error instanceof SignedOut) return;
    }
    if (state.token === token) connect(grant);
  }

  // The fragment: `token=<jwt>` signs in (and leaves the address bar at once); `resource=<id>`
  // filters the page to one resource, and stays (a link to share).
  function readHash() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const token = params.get("token");
    if (token) {
      params.delete("token");
      const rest = params.toString();
      // Keep the token out of the address bar, the history and bookmarks.
      history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
    }
    return { token, resource: params.get("resource") };
  }

  function onHashChange() {
    const { token, resource } = readHash();
    const changedResource = (resource || null) !== state.resource;
    state.resource = resource || null;
    showResourceFilter();
    if (token && token !== state.token) {
      signIn(token);
      return;
    }
    if (changedResource && state.token) reloadViews();
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
    ui.inboxMore.addEventListener("click", loadMoreInbox);
    ui.feedMore.addEventListener("click", loadMoreFeed);
    ui.inboxList.addEventListener("click", onInboxAction);
    ui.inboxList.addEventListener("change", onInboxAction);
    ui.states.addEventListener("change", applyInboxState);
    ui.filterForm.addEventListener("submit", (event) => {
      event.preventDefault();
      applyFilter();
    });
    ui.filter.addEventListener("input", () => later("filter", applyFilter, FILTER_DELAY_MS));
    window.addEventListener("hashchange", onHashChange);
    document.addEventListener("visibilitychange", () => {
      // Back to the tab: what you did elsewhere (another client) is in your feed now.
      if (document.visibilityState !== "visible" || !state.token) return;
      later("feed", () => refreshFeedHead().catch(report));
      markSeen().catch(report);
    });

    if (typeof window.Centrifuge !== "function") ui.realtimeMissing.hidden = false;
    const { token, resource } = readHash();
    state.resource = resource || null;
    showResourceFilter();
    const saved = token || sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved);
    else signOut();
  }

  start();
})();

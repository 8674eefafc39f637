/*
 * The displays panel: admins set up billboards and chat screens; every agent moderates them
 * (approve, reject, remove, block) and answers texters on chat screens. The queue is live: a
 * socket per open screen (/ws/display/moderate) says when an item changed and the lists reload.
 *
 * Every value from the API or a texter goes into text nodes; nothing is parsed as HTML.
 */
import { $, api, ApiError, h, LiveSocket, messageTime, setChildren, toast, uuid } from "/static/common.js";
import { t } from "/static/i18n.js";

const VALIDATE_DELAY_MS = 300;

const state = {
  me: null,
  admin: false,
  numbers: [],
  surveys: [],
  displays: [],
  current: null, // the display being edited/moderated, or null for a new one
  socket: null,
  socketFor: null,
  validateTimer: null,
  validation: 0,
};

function lines(text) {
  return text
    .split("\n")
    .map((x) => x.trim())
    .filter(Boolean);
}

function formBody() {
  const body = {
    title: $("d-title").value,
    mode: $("d-mode").value,
    number_id: $("d-number").value,
    keyword: $("d-keyword").value.trim() || null,
    moderation: $("d-moderation").value,
    filter_action: $("d-filter").value,
    survey_id: $("d-survey").value || null,
    lifetime_s: Number($("d-lifetime").value),
    max_shown: Number($("d-max").value),
    masked: $("d-masked").checked,
    cycle_when_quiet: $("d-cycle").checked,
    host_name: $("d-host-name").value.trim() || null,
    language: $("d-language").value,
    background: $("d-bg").value,
    foreground: $("d-fg").value,
    accent: $("d-accent").value,
    words: lines($("d-words").value),
    blocked: lines($("d-blocked").value),
  };
  const logo = $("d-logo-media").value.trim();
  if (logo) body.logo_media = logo;
  return body;
}

function fillForm(d) {
  $("form-title").textContent = d ? t("dp.edit-title", { title: d.title }) : t("dp.new-screen");
  $("d-title").value = d ? d.title : "";
  $("d-mode").value = d ? d.mode : "billboard";
  $("d-number").value = d ? d.number_id : (state.numbers[0] || {}).id || "";
  $("d-keyword").value = d && d.keyword ? d.keyword : "";
  $("d-moderation").value = d ? d.moderation : "post";
  $("d-filter").value = d ? d.filter_action : "queue";
  $("d-survey").value = d && d.survey_id ? d.survey_id : "";
  $("d-lifetime").value = String(d ? d.lifetime_s : 300);
  $("d-max").value = String(d ? d.max_shown : 8);
  $("d-masked").checked = d ? d.masked : true;
  $("d-cycle").checked = d ? d.cycle_when_quiet : true;
  $("d-host-name").value = d ? d.host_name : "";
  $("d-language").value = d ? d.language || "pl" : "pl";
  $("d-bg").value = d ? d.background : "#101820";
  $("d-fg").value = d ? d.foreground : "#ffffff";
  $("d-accent").value = d ? d.accent : "#ffb000";
  $("d-logo-media").value = "";
  $("d-logo").value = "";
  $("d-words").value = d ? d.words.join("\n") : state.defaultWords.join("\n");
  $("d-blocked").value = d ? d.blocked.join("\n") : "";
  $("d-link").hidden = !d;
  $("d-delete").hidden = !d;
  $("d-link-box").hidden = true;
  setError(null);
}

function setError(err) {
  const box = $("d-error");
  box.textContent = err ? err.message : "";
  box.dataset.field = err && err.field ? err.field : "";
  document.querySelectorAll("#display-form [aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  const ids = { title: "d-title", keyword: "d-keyword", number_id: "d-number", blocked: "d-blocked", logo_media: "d-logo-media", survey_id: "d-survey" };
  if (err && err.field && ids[err.field]) $(ids[err.field]).setAttribute("aria-invalid", "true");
}

function describe(err) {
  if (!(err instanceof ApiError)) return { message: String(err) };
  const details = err.body && err.body.details;
  if (details && details.length) {
    const d = details[0];
    return { message: `${d.key || ""}: ${d.message}`.replace(/^: /, ""), field: d.key };
  }
  return { message: err.message, field: err.field };
}

function scheduleValidate() {
  clearTimeout(state.validateTimer);
  state.validateTimer = setTimeout(validate, VALIDATE_DELAY_MS);
}

async function validate() {
  const ticket = ++state.validation;
  const q = state.current ? `?display_id=${state.current.id}` : "";
  try {
    await api("POST", `/api/displays/validate${q}`, formBody());
    if (ticket === state.validation) setError(null);
    $("d-save").disabled = false;
  } catch (err) {
    if (ticket !== state.validation) return;
    setError(describe(err));
    $("d-save").disabled = err instanceof ApiError && err.status === 422;
  }
}

function showLink(d) {
  const url = new URL(d.screen_url, location.origin).href;
  $("d-link-url").value = url;
  $("d-link-box").hidden = false;
}

async function save(e) {
  e.preventDefault();
  try {
    let d;
    if (state.current) d = await api("PATCH", `/api/displays/${state.current.id}`, formBody());
    else d = await api("POST", "/api/displays", formBody());
    const file = $("d-logo").files[0];
    if (file) {
      const r = await fetch(`/api/displays/${d.id}/logo`, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
      if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    }
    toast(t("dp.saved"), "info");
    await loadDisplays();
    select(state.displays.find((x) => x.id === d.id) || d);
    if (d.token) showLink(d);
  } catch (err) {
    setError(describe(err));
  }
}

async function newLink() {
  if (!state.current) return;
  try {
    showLink(await api("POST", `/api/displays/${state.current.id}/link`));
  } catch (err) {
    setError(describe(err));
  }
}

async function remove() {
  if (!state.current || !confirm(t("dp.delete-confirm", { title: state.current.title }))) return;
  await api("DELETE", `/api/displays/${state.current.id}`);
  state.current = null;
  await loadDisplays();
  select(null);
}

function renderList() {
  setChildren(
    $("display-list"),
    state.displays.map((d) =>
      h(
        "li",
        {
          class: "display-row",
          dataset: { displayId: d.id },
          "aria-current": state.current && state.current.id === d.id ? "true" : "false",
          onclick: () => select(d),
        },
        // The title is the row's button: Tab reaches it and Enter or Space selects the screen.
        h("button", { type: "button", class: "display-pick" }, h("span", { class: "display-kind", text: d.mode === "chat" ? t("dp.kind-chat") : t("dp.kind-wall") }), d.title),
        d.pending ? h("span", { class: "badge-pending", text: String(d.pending) }) : null,
      ),
    ),
  );
}

function select(d) {
  state.current = d;
  $("display-form").hidden = !state.admin;
  fillForm(d);
  renderList();
  $("moderation").hidden = !d;
  watch(d);
  if (d) loadItems();
}

function itemRow(item, kind) {
  const d = state.current;
  const who = item.nick ? `${item.nick} (${item.sender})` : item.sender;
  const actions = [];
  if (kind === "queue") {
    actions.push(h("button", { class: "btn btn-primary", type: "button", text: t("dp.approve"), dataset: { action: "approve" }, onclick: () => act(item, "approve") }));
    actions.push(h("button", { class: "btn", type: "button", text: t("dp.reject"), dataset: { action: "reject" }, onclick: () => act(item, "reject") }));
  } else {
    actions.push(h("button", { class: "btn", type: "button", text: t("dp.remove"), dataset: { action: "remove" }, onclick: () => act(item, "remove") }));
  }
  if (item.author === "texter") {
    actions.push(h("button", { class: "btn btn-ghost", type: "button", text: t("dp.block"), dataset: { action: "block" }, onclick: () => block({ item_id: item.id }) }));
  }
  let reply = null;
  if (kind === "shown" && d.mode === "chat" && item.author === "texter") {
    const input = h("input", { class: "reply-text", placeholder: t("dp.answer-placeholder"), "aria-label": t("dp.answer") });
    const send = h("button", { class: "btn", type: "button", text: t("dp.answer"), dataset: { action: "reply" } });
    const client = uuid();
    send.addEventListener("click", async () => {
      if (!input.value.trim()) return;
      try {
        await api("POST", `/api/displays/${d.id}/reply/${item.id}`, { text: input.value, client_id: client });
        input.value = "";
        loadItems();
      } catch (err) {
        toast(describe(err).message);
      }
    });
    reply = h("div", { class: "mod-reply" }, input, send);
  }
  return h(
    "li",
    { class: "mod-item", dataset: { itemId: item.id, status: item.status, author: item.author } },
    h(
      "div",
      { class: "mod-body" },
      h("div", { class: "mod-meta", text: `${item.author === "host" ? t("dp.host") : who} · ${messageTime(item.created_at)}${item.reason && kind === "queue" ? ` · ${item.reason}` : ""}` }),
      item.media.map((url, n) =>
        (item.media_kinds || [])[n] === "video"
          ? h("video", { src: url, controls: true, preload: "metadata", "aria-label": t("dp.video-attachment") })
          : h("img", { src: url, alt: t("dp.attachment") }),
      ),
      h("div", { class: "mod-text", text: item.text }),
      reply,
    ),
    h("div", { class: "mod-actions" }, actions),
  );
}

async function loadItems() {
  const d = state.current;
  if (!d) return;
  const [queue, shown] = await Promise.all([
    api("GET", `/api/displays/${d.id}/items?status=pending`),
    api("GET", `/api/displays/${d.id}/items?status=shown&limit=30`),
  ]);
  if (state.current !== d) return;
  setChildren($("queue"), queue.length ? queue.map((i) => itemRow(i, "queue")) : h("li", { class: "muted", text: t("dp.nothing-waiting") }));
  setChildren($("shown"), shown.length ? shown.map((i) => itemRow(i, "shown")) : h("li", { class: "muted", text: t("dp.nothing-shown") }));
  const entry = state.displays.find((x) => x.id === d.id);
  if (entry && entry.pending !== queue.length) {
    entry.pending = queue.length;
    renderList();
  }
}

async function act(item, action) {
  try {
    await api("POST", `/api/displays/${state.current.id}/items/${item.id}/${action}`);
    await loadItems();
  } catch (err) {
    toast(describe(err).message);
  }
}

async function block(body) {
  try {
    const d = await api("POST", `/api/displays/${state.current.id}/block`, body);
    state.current = { ...state.current, blocked: d.blocked };
    $("d-blocked").value = d.blocked.join("\n");
    toast(t("dp.blocked-here"), "info");
    await loadItems();
  } catch (err) {
    toast(describe(err).message);
  }
}

function watch(d) {
  if (state.socket) {
    state.socket.stop();
    state.socket = null;
  }
  if (!d) return;
  state.socket = new LiveSocket({
    url: () => `/ws/display/moderate?display_id=${d.id}`,
    onMessage: (msg) => {
      if (msg.type === "ready") {
        document.body.dataset.connection = "online";
        $("mod-state").textContent = "· live";
        loadItems();
      } else if (msg.type === "display.queue") {
        loadItems();
      }
    },
    onClose: () => {
      document.body.dataset.connection = "offline";
      $("mod-state").textContent = "· reconnecting…";
      return true;
    },
  });
  state.socket.start();
}

async function loadDisplays() {
  state.displays = await api("GET", "/api/displays");
  renderList();
}

async function start() {
  state.me = await api("GET", "/api/me");
  state.admin = state.me.role === "admin" && state.me.kind === "agent";
  document.body.dataset.role = state.me.role;
  $("account-name").textContent = state.me.account_name;
  $("agent-name").textContent = state.me.name;
  const [numbers, surveys, words] = await Promise.all([
    api("GET", "/api/numbers"),
    api("GET", "/api/surveys").catch(() => []),
    api("GET", "/api/displays/words"),
  ]);
  state.numbers = numbers;
  state.surveys = surveys;
  state.defaultWords = [...words.pl, ...words.en];
  setChildren($("d-number"), numbers.map((n) => h("option", { value: n.id, title: t(`numtype.${n.type}`), text: `${n.e164} (${n.type})` })));
  setChildren(
    $("d-survey"),
    h("option", { value: "", text: t("dp.none") }),
    surveys.map((s) => h("option", { value: s.id, text: s.name })),
  );
  $("display-form").addEventListener("input", scheduleValidate);
  $("display-form").addEventListener("change", scheduleValidate);
  $("display-form").addEventListener("submit", save);
  $("display-new").addEventListener("click", () => select(null));
  $("d-link").addEventListener("click", newLink);
  $("d-delete").addEventListener("click", remove);
  $("d-copy").addEventListener("click", async () => {
    $("d-link-url").select();
    try {
      await navigator.clipboard.writeText($("d-link-url").value);
      toast(t("dp.link-copied"), "info");
    } catch (_) {
      document.execCommand("copy");
    }
  });
  $("block-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const phone = $("block-phone").value.trim();
    if (phone) block({ phone }).then(() => ($("block-phone").value = ""));
  });
  await loadDisplays();
  if (state.displays.length) select(state.displays[0]);
  else if (state.admin) select(null);
  document.body.dataset.ready = "true";
}

start().catch((err) => toast(describe(err).message));

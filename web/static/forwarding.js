/*
 * The forwarding page: rules (admins add, pause and remove them) and every delivery with its
 * attempts; dead-lettered deliveries can be replayed one by one or all at once. Deliveries are
 * refreshed every few seconds while the page is visible.
 */
import { $, api, ApiError, fullTime, h, messageTime, setChildren, toast } from "/static/common.js";
import { t, tn, tOr } from "/static/i18n.js";

const REFRESH_MS = 3000;
const kindLabel = (kind) => tOr(`fw.kind-${kind}`, kind);

const state = { me: null, admin: false, numbers: new Map(), rules: [], loadingDeliveries: false };

function numberLabel(id) {
  if (!id) return t("fw.all-numbers");
  const n = state.numbers.get(id);
  return n ? n.e164 : t("fw.removed-number");
}

function ruleRow(rule) {
  const actions = [];
  if (state.admin) {
    actions.push(
      h("button", {
        class: "btn btn-ghost",
        type: "button",
        dataset: { action: "toggle" },
        text: rule.active ? t("fw.pause") : t("fw.resume"),
        onClick: () => toggleRule(rule),
      }),
      h("button", {
        class: "btn btn-ghost",
        type: "button",
        dataset: { action: "delete" },
        text: t("fw.delete"),
        onClick: () => deleteRule(rule),
      }),
    );
  }
  return h(
    "tr",
    { dataset: { ruleId: rule.id } },
    h("td", { text: rule.name || "—" }),
    h("td", { text: kindLabel(rule.kind) + (rule.kind === "url" ? ` (${rule.format.toUpperCase()})` : "") }),
    h("td", { class: "fw-target", text: rule.target }),
    h("td", { text: numberLabel(rule.number_id) }),
    h("td", { text: rule.include_delivery_reports ? t("fw.yes") : t("fw.no") }),
    h("td", { class: "fw-active", text: rule.active ? t("fw.yes") : t("fw.paused") }),
    h("td", null, actions),
  );
}

async function loadRules() {
  state.rules = await api("GET", "/api/forwarding/rules");
  setChildren($("rules"), state.rules.map(ruleRow));
  $("rules-empty").hidden = state.rules.length > 0;
}

function ruleBody(rule, changes) {
  return {
    kind: rule.kind,
    target: rule.target,
    format: rule.format,
    number_id: rule.number_id,
    keyword_id: rule.keyword_id,
    include_delivery_reports: rule.include_delivery_reports,
    active: rule.active,
    name: rule.name,
    ...changes,
  };
}

async function toggleRule(rule) {
  try {
    await api("PUT", `/api/forwarding/rules/${rule.id}`, ruleBody(rule, { active: !rule.active }));
    await loadRules();
  } catch (err) {
    toast(err.message);
  }
}

async function deleteRule(rule) {
  if (!window.confirm(t("fw.delete-confirm", { target: rule.target }))) return;
  try {
    await api("DELETE", `/api/forwarding/rules/${rule.id}`);
    await loadRules();
  } catch (err) {
    toast(err.message);
  }
}

const PLACEHOLDER = { url: "https://example.com/sms", email: "desk@example.com", phone: "+48 600 700 800" };

function syncKind() {
  const kind = $("rule-kind").value;
  $("rule-format-field").hidden = kind !== "url";
  $("rule-target").placeholder = PLACEHOLDER[kind];
}

async function submitRule(event) {
  event.preventDefault();
  const error = $("rule-error");
  error.hidden = true;
  $("rule-secret").hidden = true;
  const body = {
    name: $("rule-name").value.trim(),
    kind: $("rule-kind").value,
    target: $("rule-target").value.trim(),
    format: $("rule-format").value,
    number_id: $("rule-number").value || null,
    include_delivery_reports: $("rule-reports").checked,
  };
  $("rule-submit").disabled = true;
  try {
    const rule = await api("POST", "/api/forwarding/rules", body);
    $("rule-form").reset();
    syncKind();
    if (rule.kind === "url" && rule.secret) {
      setChildren(
        $("rule-secret"),
        t("fw.secret"),
        h("code", { id: "rule-secret-value", text: rule.secret }),
      );
      $("rule-secret").hidden = false;
    }
    await loadRules();
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : String(err);
    error.hidden = false;
  } finally {
    $("rule-submit").disabled = false;
  }
}

function attemptItem(a) {
  const outcome = a.ok ? `${t("fw.attempt-delivered")}${a.status_code ? ` (${a.status_code})` : ""}` : a.error || t("fw.attempt-failed");
  return h(
    "li",
    { class: a.ok ? "fw-attempt-ok" : "fw-attempt-failed", title: fullTime(a.at) },
    `#${a.n} ${messageTime(a.at)} — ${outcome}${a.duration_ms ? ` · ${a.duration_ms} ms` : ""}`,
  );
}

function deliveryItem(d) {
  const replay =
    state.admin && d.status === "dead"
      ? h("button", {
          class: "btn btn-ghost",
          type: "button",
          dataset: { action: "replay" },
          text: t("fw.replay"),
          onClick: () => replayOne(d.id),
        })
      : null;
  const meta = [
    tn("fw.attempts", d.attempt_count),
    d.replays ? tn("fw.replays", d.replays) : null,
    d.billable_segments ? tn("fw.paid-segments", d.billable_segments) : null,
    d.status === "pending" && !d.running ? t("fw.next-at", { time: messageTime(d.next_attempt_at) }) : null,
    d.running ? t("fw.sending-now") : null,
    d.handset_status ? t("fw.handset", { status: d.handset_status }) : null,
  ].filter(Boolean);
  return h(
    "li",
    { class: "fw-delivery", dataset: { deliveryId: d.id, status: d.status } },
    h(
      "div",
      { class: "fw-delivery-head" },
      h("span", { class: `fw-status fw-status-${d.status}`, text: tOr(`fw.status-${d.status}`, d.status) }),
      h("strong", { text: d.event }),
      h("span", { class: "fw-target", text: `→ ${kindLabel(d.kind)} ${d.target}` }),
      h("span", { class: "fw-meta", text: `${messageTime(d.created_at)} · ${meta.join(" · ")}` }),
      replay,
    ),
    h("ol", { class: "fw-attempts" }, d.attempts.map(attemptItem)),
  );
}

async function loadDeliveries() {
  if (state.loadingDeliveries) return;
  state.loadingDeliveries = true;
  try {
    const status = $("delivery-status").value;
    const query = status ? `?status=${encodeURIComponent(status)}` : "";
    const rows = await api("GET", `/api/forwarding/deliveries${query}`);
    setChildren($("deliveries"), rows.map(deliveryItem));
    $("deliveries-empty").hidden = rows.length > 0;
  } finally {
    state.loadingDeliveries = false;
  }
}

function mailRow(m) {
  const said = tOr(`fw.mail-${m.outcome}`, m.outcome);
  const outcome = m.reason ? `${said}: ${m.reason}` : said;
  return h(
    "tr",
    { dataset: { mailId: m.id, outcome: m.outcome } },
    h("td", { text: messageTime(m.received_at), title: fullTime(m.received_at) }),
    h("td", { class: "fw-target", text: m.sender }),
    h("td", { text: m.subject }),
    h("td", { class: `fw-outcome fw-outcome-${m.outcome}`, text: outcome }),
  );
}

async function loadMail() {
  const rows = await api("GET", "/api/forwarding/mail?limit=20");
  setChildren($("mail"), rows.map(mailRow));
  $("mail-empty").hidden = rows.length > 0;
}

async function replayOne(id) {
  try {
    await api("POST", `/api/forwarding/deliveries/${id}/replay`);
    toast(t("fw.queued-again"), "info");
    await loadDeliveries();
  } catch (err) {
    toast(err.message);
  }
}

async function replayAll() {
  try {
    const result = await api("POST", "/api/forwarding/deliveries/replay-dead");
    toast(tn("fw.dead-queued-again", result.replayed), "info");
    await loadDeliveries();
  } catch (err) {
    toast(err.message);
  }
}

async function main() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    if (err.status !== 401) toast(err.message);
    return;
  }
  state.me = me;
  state.admin = me.kind === "agent" && me.role === "admin";
  $("account-name").textContent = me.account_name || "";
  $("agent-name").textContent = me.name;
  for (const n of me.numbers || []) {
    state.numbers.set(n.id, n);
    $("rule-number").appendChild(h("option", { value: n.id, text: `${n.e164}${n.label ? ` (${n.label})` : ""}` }));
  }
  $("rule-form").hidden = !state.admin;
  $("replay-dead").hidden = !state.admin;
  $("rule-kind").addEventListener("change", syncKind);
  $("rule-form").addEventListener("submit", submitRule);
  $("delivery-status").addEventListener("change", () => loadDeliveries().catch((err) => toast(err.message)));
  $("refresh").addEventListener("click", () => loadDeliveries().catch((err) => toast(err.message)));
  $("replay-dead").addEventListener("click", replayAll);
  syncKind();
  try {
    await Promise.all([loadRules(), loadDeliveries(), loadMail()]);
  } catch (err) {
    toast(err.message);
  }
  document.body.dataset.state = "ready";
  setInterval(() => {
    if (!document.hidden) loadDeliveries().catch(() => {});
  }, REFRESH_MS);
}

main();

/*
 * The campaigns page: wires the list (campaigns-list.js), the editor (campaigns-editor.js), the
 * preview (campaigns-preview.js) and one campaign's live view (campaigns-progress.js) together.
 * The URL's hash `#<id>` opens a campaign (the inbox's campaign chips link there). Live counts
 * come as `campaign.progress` events on the agent socket (/ws); after a reconnect what changed
 * meanwhile is read again over REST.
 */
import { $, api, pageSocket, toast } from "/static/common.js";
import { t } from "/static/i18n.js";
import { applyProgress as listProgress, initList, loadList, markCurrent, upsertCampaign } from "/static/campaigns-list.js";
import { collect, initEditor, reloadGroups, resetEditor, showError } from "/static/campaigns-editor.js";
import { hidePreview, initPreview, markStale, showPreview } from "/static/campaigns-preview.js";
import {
  applyProgress as viewProgress,
  hideCampaign,
  initProgress,
  refresh as refreshCampaign,
  showCampaign,
} from "/static/campaigns-progress.js";

const rt = { socket: null, ready: 0 };

// ---------------------------------------------------------------- the hash

function route() {
  const id = decodeURIComponent(location.hash.slice(1));
  markCurrent();
  if (!id) {
    hideCampaign();
    return;
  }
  showCampaign(id)
    .then(() => $("progress-card").scrollIntoView({ block: "start" }))
    .catch((err) => toast(err.message));
}

function open(id) {
  if (location.hash.slice(1) === id) route();
  else location.hash = id;
}

// ---------------------------------------------------------------- editor

function openEditor() {
  $("editor-card").hidden = false;
  $("new-campaign").hidden = true;
  reloadGroups().catch(() => {});
  $("cp-name").focus();
}

function closeEditor() {
  $("editor-card").hidden = true;
  $("new-campaign").hidden = false;
  hidePreview();
  resetEditor();
}

async function preview(e) {
  e.preventDefault();
  showError(null);
  let body;
  try {
    body = collect();
  } catch (err) {
    showError(err);
    return;
  }
  const button = $("cp-preview");
  button.disabled = true;
  try {
    await showPreview(body);
    $("preview").scrollIntoView({ block: "nearest" });
  } catch (err) {
    hidePreview();
    showError(err);
  } finally {
    button.disabled = false;
  }
}

function created(campaign) {
  upsertCampaign(campaign);
  closeEditor();
  toast(t("cp.created-toast", { name: campaign.name }), "ok");
  open(campaign.id);
}

// ---------------------------------------------------------------- the socket

function setConnection(name) {
  document.body.dataset.connection = name;
}

function onReady() {
  rt.ready += 1;
  // What changed while the socket was away (or before it first connected).
  if (rt.ready > 1) {
    loadList().catch(() => {});
    refreshCampaign();
  }
}

function onEvent(msg) {
  if (msg.type !== "campaign.progress" || !msg.data) return;
  if (!listProgress(msg.data)) loadList().catch(() => {});
  viewProgress(msg.data);
}

function connect() {
  rt.socket = pageSocket({ onReady, onEvent, setConnection });
}

// ---------------------------------------------------------------- start

async function main() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    if (err.status !== 401) toast(err.message);
    return;
  }
  const admin = me.kind !== "token" && me.role === "admin";
  document.body.dataset.role = admin ? "admin" : "agent";
  initList({ onOpen: open });
  initProgress({ admin, onChange: upsertCampaign });
  initPreview({ onCreate: created });
  connect();
  try {
    if (admin) {
      const numbers = await api("GET", "/api/numbers");
      await initEditor({ numbers, onChange: markStale });
      $("new-campaign").hidden = false;
      $("new-campaign").addEventListener("click", openEditor);
      $("editor-close").addEventListener("click", closeEditor);
      $("campaign-form").addEventListener("submit", preview);
    }
    await loadList();
  } catch (err) {
    toast(err.message);
  }
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.state = "ready";
}

main();

/*
 * The campaigns editor's MMS: a picture, recording or video attached to the campaign (uploaded at
 * once to POST /api/campaigns/media), and what the chosen sender can carry
 * (GET /api/campaigns/mms): its gateway's size and type limits, or why it sends text only.
 * `mediaIds()` is the CampaignIn `media`; the hub checks the files against the sender again at the
 * preview and refuses a sender that cannot carry them (docs/campaigns.md, "MMS").
 */
import { $, api, h, setChildren } from "/static/common.js";
import { reasonText } from "/static/campaigns-reasons.js";
import { t, tn } from "/static/i18n.js";

const NAMES = {
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/gif": "GIF",
  "audio/mpeg": "MP3",
  "audio/wav": "WAV",
  "video/mp4": "MP4",
  "video/3gpp": "3GP",
  "video/quicktime": "MOV",
};
const ALIASES = { "image/jpg": "image/jpeg", "audio/mp3": "audio/mpeg", "audio/x-wav": "audio/wav", "audio/wave": "audio/wav" };

function typeNames(types) {
  return types.map((t) => NAMES[t] || t).join(", ");
}

export function formatSize(size) {
  if (size >= 1024 * 1024) return `${(size / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MB`;
  if (size >= 1024) return `${Math.round(size / 1024)} KB`;
  return `${size} B`;
}

function limitsText(l) {
  return t("cp.mms-limits", {
    gateway: l.gateway,
    types: typeNames(l.types),
    files: tn("cp.files-n", l.max_files),
    size: formatSize(l.max_bytes),
  });
}

function othersText(gateways) {
  return t("cp.mms-others", {
    yes: gateways
      .filter((g) => g.can_send)
      .map((g) => `${g.gateway} (${formatSize(g.max_bytes)})`)
      .join(", "),
    no: gateways
      .filter((g) => !g.can_send)
      .map((g) => g.gateway)
      .join(", "),
  });
}

const state = { items: [], limits: null, onChange: () => {}, token: 0 };

/** The ids of the uploaded files (the CampaignIn `media`); none while one is still uploading. */
export function mediaIds() {
  return state.items.filter((i) => i.id).map((i) => i.id);
}

export function mediaUploading() {
  return state.items.some((i) => !i.id);
}

/** Small pictures of the attached files, for the preview. */
export function mediaThumbs() {
  return state.items
    .filter((i) => i.id)
    .map((i) =>
      i.url
        ? h("img", { class: "cp-media-thumb", src: i.url, alt: i.file.name, dataset: { mediaId: i.id } })
        : h("span", { class: "cp-chip", dataset: { mediaId: i.id } }, `${i.file.name} · ${formatSize(i.file.size)}`),
    );
}

function showError(text) {
  $("cp-media-error").textContent = text;
  $("cp-media-error").hidden = !text;
}

function refusal(files) {
  const l = state.limits;
  if (!l || !l.can_send) return "";  // said by the limits line; the preview refuses it
  if (state.items.length + files.length > l.max_files) return t("cp.too-many", { n: l.max_files });
  let total = state.items.reduce((sum, i) => sum + i.file.size, 0);
  for (const file of files) {
    if (!l.types.includes(ALIASES[file.type] || file.type)) return t("cp.wrong-type", { name: file.name, types: typeNames(l.types) });
    total += file.size;
  }
  return total > l.max_bytes ? t("cp.too-large", { size: formatSize(l.max_bytes) }) : "";
}

function renderList() {
  setChildren(
    $("cp-media-list"),
    state.items.map((i) =>
      h(
        "li",
        { class: "cp-chip", dataset: { mediaId: i.id || "" } },
        i.url ? h("img", { class: "cp-media-thumb", src: i.url, alt: "" }) : null,
        h("span", null, `${i.file.name} · ${i.id ? formatSize(i.file.size) : t("cp.uploading")}`),
        h("button", { type: "button", class: "btn-link", "aria-label": t("cp.remove", { label: i.file.name }), text: "×", onClick: () => remove(i) }),
      ),
    ),
  );
}

function remove(item) {
  if (item.url) URL.revokeObjectURL(item.url);
  state.items = state.items.filter((i) => i !== item);
  renderList();
  state.onChange();
}

async function upload(item) {
  const form = new FormData();
  form.append("file", item.file, item.file.name || "attachment");
  let error = "";
  try {
    const response = await fetch("/api/campaigns/media", {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) error = (body && body.error) || t("cp.upload-status", { status: response.status });
    else item.id = body.id;
  } catch (_) {
    error = t("common.unreachable");
  }
  if (!state.items.includes(item)) return;
  if (error) {
    remove(item);
    showError(t("cp.upload-failed", { name: item.file.name, why: error }));
    return;
  }
  renderList();
  state.onChange();
}

function add(files) {
  const reason = refusal(files);
  showError(reason);
  if (reason) return;
  for (const file of files) {
    const item = { file, id: null, url: file.type.startsWith("image/") ? URL.createObjectURL(file) : null };
    state.items.push(item);
    upload(item);
  }
  renderList();
  state.onChange();
}

/** Read what `sender` (the CampaignIn sender, or null) can carry and say it under the picker. */
export async function syncMediaLimits(sender) {
  const token = ++state.token;
  const line = $("cp-media-limits");
  if (!sender) return;
  const query = new URLSearchParams({ kind: sender.kind });
  if (sender.number_id) query.set("number_id", sender.number_id);
  let limits;
  try {
    limits = await api("GET", `/api/campaigns/mms?${query}`);
  } catch (err) {
    limits = null;
  }
  if (token !== state.token) return;
  state.limits = limits;
  if (!limits) {
    line.textContent = "";
    return;
  }
  line.dataset.mms = limits.can_send ? "yes" : "no";
  line.textContent = `${limits.can_send ? limitsText(limits) : t("cp.text-only", { reason: reasonText(limits.reason) })} ${othersText(limits.gateways)}`;
}

export function resetMedia() {
  for (const i of state.items) if (i.url) URL.revokeObjectURL(i.url);
  state.items = [];
  $("cp-media-file").value = "";
  showError("");
  renderList();
}

export function initMedia({ onChange }) {
  state.onChange = onChange;
  $("cp-media-label").textContent = t("cp.attach");
  $("cp-media-file").addEventListener("change", (e) => {
    add([...e.target.files]);
    e.target.value = "";
  });
}

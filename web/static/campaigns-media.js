/*
 * The campaigns editor's MMS: a picture, recording or video attached to the campaign (uploaded at
 * once to POST /api/campaigns/media), and what the chosen sender can carry
 * (GET /api/campaigns/mms): its gateway's size and type limits, or why it sends text only.
 * `mediaIds()` is the CampaignIn `media`; the hub checks the files against the sender again at the
 * preview and refuses a sender that cannot carry them (docs/campaigns.md, "MMS").
 */
import { $, api, h, setChildren } from "/static/common.js";

// Every text this script puts on the page (one place, for a translation).
export const T = {
  attach: "Attach a picture, audio or video",
  limits: (l) =>
    `MMS through ${l.gateway}: ${typeNames(l.types)} · up to ${l.max_files} file${l.max_files === 1 ? "" : "s"}, ${formatSize(l.max_bytes)} in all.`,
  textOnly: (reason) => `Text only from this sender: ${reason}.`,
  others: (gateways) =>
    `Gateways that carry MMS: ${gateways
      .filter((g) => g.can_send)
      .map((g) => `${g.gateway} (${formatSize(g.max_bytes)})`)
      .join(", ")}; not ${gateways
      .filter((g) => !g.can_send)
      .map((g) => g.gateway)
      .join(", ")}, nor a sender name.`,
  uploading: "uploading…",
  remove: (name) => `Remove ${name}`,
  failed: (name, why) => `${name} was not attached: ${why}`,
  tooMany: (n) => `at most ${n} files go in one MMS from this sender`,
  tooLarge: (max) => `the files take more than ${formatSize(max)}, the most this sender's gateway sends in one MMS`,
  wrongType: (name, types) => `${name} cannot go as MMS from this sender (it sends ${typeNames(types)})`,
};

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
  if (state.items.length + files.length > l.max_files) return T.tooMany(l.max_files);
  let total = state.items.reduce((sum, i) => sum + i.file.size, 0);
  for (const file of files) {
    if (!l.types.includes(ALIASES[file.type] || file.type)) return T.wrongType(file.name, l.types);
    total += file.size;
  }
  return total > l.max_bytes ? T.tooLarge(l.max_bytes) : "";
}

function renderList() {
  setChildren(
    $("cp-media-list"),
    state.items.map((i) =>
      h(
        "li",
        { class: "cp-chip", dataset: { mediaId: i.id || "" } },
        i.url ? h("img", { class: "cp-media-thumb", src: i.url, alt: "" }) : null,
        h("span", null, `${i.file.name} · ${i.id ? formatSize(i.file.size) : T.uploading}`),
        h("button", { type: "button", class: "btn-link", "aria-label": T.remove(i.file.name), text: "×", onClick: () => remove(i) }),
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
    if (!response.ok) error = (body && body.error) || `the upload failed (${response.status})`;
    else item.id = body.id;
  } catch (_) {
    error = "the hub cannot be reached; check the connection";
  }
  if (!state.items.includes(item)) return;
  if (error) {
    remove(item);
    showError(T.failed(item.file.name, error));
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
  line.textContent = `${limits.can_send ? T.limits(limits) : T.textOnly(limits.reason)} ${T.others(limits.gateways)}`;
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
  $("cp-media-label").textContent = T.attach;
  $("cp-media-file").addEventListener("change", (e) => {
    add([...e.target.files]);
    e.target.value = "";
  });
}

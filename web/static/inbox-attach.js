/*
 * Attachments of a reply in the inbox composer: file picker, drag and drop, paste.
 *
 * Each conversation's number says what it can send as MMS (GET /api/conversations/{id}/mms):
 * the line under the composer shows the limits, or that only text can be sent. A file is
 * checked here first (type, size, count) and refused with a message; an accepted one is
 * uploaded at once (POST /api/conversations/{id}/attachments), which checks it again, and the
 * reply names the uploaded ids in `media` (docs/mms.md).
 */
import { formatSize, h, icon, setChildren, toast, uuid } from "/static/common.js";
import { t, tn } from "/static/i18n.js";

// What browsers call a file vs. what the hub names the same format.
const ALIASES = { "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "audio/mp3": "audio/mpeg", "audio/x-wav": "audio/wav", "audio/wave": "audio/wav" };
// Pictures first, then video, then audio, as agents mostly send them.
const TYPE_NAMES = {
  "image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "video/mp4": "MP4", "video/3gpp": "3GP",
  "video/quicktime": "MOV", "audio/mpeg": "MP3", "audio/wav": "WAV",
};
const TYPE_ORDER = Object.keys(TYPE_NAMES);

function typeNames(types) {
  const rank = (t) => (TYPE_ORDER.includes(t) ? TYPE_ORDER.indexOf(t) : TYPE_ORDER.length);
  return [...types].sort((a, b) => rank(a) - rank(b)).map((t) => TYPE_NAMES[t] || t).join(", ");
}

export class Attachments {
  /** `el`: {form, list, limits, error, button, input}; `onChange` runs when the files change. */
  constructor(el, onChange = () => {}) {
    this.el = el;
    this.onChange = onChange;
    this.conversationId = null;
    this.limits = null;
    this.items = []; // {key, file, id, uploading, url}
    this.generation = 0;
    el.button.addEventListener("click", () => el.input.click());
    el.input.addEventListener("change", () => {
      this.add([...el.input.files]);
      el.input.value = "";
    });
    el.form.addEventListener("dragover", (e) => {
      if (!this.canAttach() || !e.dataTransfer || ![...e.dataTransfer.types].includes("Files")) return;
      e.preventDefault();
      el.form.classList.add("drop-target");
    });
    el.form.addEventListener("dragleave", () => el.form.classList.remove("drop-target"));
    el.form.addEventListener("drop", (e) => {
      el.form.classList.remove("drop-target");
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      this.add([...e.dataTransfer.files]);
    });
    el.form.addEventListener("paste", (e) => {
      const files = e.clipboardData ? [...e.clipboardData.files] : [];
      if (!files.length) return;
      e.preventDefault();
      this.add(files);
    });
  }

  canAttach() {
    return Boolean(this.limits && this.limits.can_send);
  }

  /** A conversation was opened: forget the other one's files and ask what this number sends. */
  async open(conversationId) {
    if (conversationId === this.conversationId) return;
    this.clear();
    this.conversationId = conversationId;
    this.limits = null;
    const generation = ++this.generation;
    this.renderLimits();
    try {
      const response = await fetch(`/api/conversations/${encodeURIComponent(conversationId)}/mms`, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`the MMS limits could not be read (${response.status})`);
      const limits = await response.json();
      if (generation === this.generation) this.limits = limits;
    } catch (err) {
      if (generation === this.generation) this.limits = { can_send: false, reason: err.message, types: [] };
    }
    if (generation === this.generation) this.renderLimits();
  }

  /** Whether a file is still being uploaded. */
  busy() {
    return this.items.some((i) => i.uploading);
  }

  /** The uploaded files' ids, for the reply's `media`. */
  ids() {
    return this.items.filter((i) => i.id).map((i) => i.id);
  }

  clear() {
    for (const item of this.items) if (item.url) URL.revokeObjectURL(item.url);
    this.items = [];
    this.showError("");
    this.renderList();
  }

  /** Why these files cannot be added, or "" when they can. */
  refusal(files) {
    const limits = this.limits;
    if (!limits) return t("in.att-limits-loading");
    if (!limits.can_send) return limits.reason || t("in.att-no-mms");
    if (this.items.length + files.length > limits.max_files) {
      return tn("in.att-max-files", limits.max_files);
    }
    let total = this.items.reduce((sum, i) => sum + i.file.size, 0);
    for (const file of files) {
      const type = ALIASES[file.type] || file.type;
      if (!limits.types.includes(type)) {
        return t(file.type ? "in.att-wrong-type" : "in.att-unknown-type", { name: file.name || t("in.att-the-file"), type: file.type, types: typeNames(limits.types) });
      }
      total += file.size;
    }
    if (total > limits.max_bytes) {
      const max = formatSize(limits.max_bytes);
      return files.length > 1 ? t("in.att-too-large-many", { max }) : t("in.att-too-large", { name: files[0].name || t("in.att-the-file"), max });
    }
    return "";
  }

  add(files) {
    if (!files.length || !this.conversationId) return;
    const reason = this.refusal(files);
    if (reason) {
      this.showError(reason);
      return;
    }
    this.showError("");
    for (const file of files) {
      const item = { key: uuid(), file, id: null, uploading: true, url: null };
      if (file.type.startsWith("image/")) item.url = URL.createObjectURL(file);
      this.items.push(item);
      this.upload(item, this.conversationId, this.generation);
    }
    this.renderList();
  }

  async upload(item, conversationId, generation) {
    const form = new FormData();
    form.append("file", item.file, item.file.name || t("in.attachment"));
    let error = "";
    try {
      const response = await fetch(`/api/conversations/${encodeURIComponent(conversationId)}/attachments`, {
        method: "POST",
        body: form,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) error = (body && body.error) || t("in.att-upload-failed", { status: response.status });
      else item.id = body.id;
    } catch (_) {
      error = t("common.unreachable");
    }
    if (generation !== this.generation) return;
    item.uploading = false;
    if (error) {
      this.remove(item.key);
      this.showError(t("in.att-not-attached", { name: item.file.name || t("in.att-the-file"), error }));
      return;
    }
    this.renderList();
  }

  remove(key) {
    const item = this.items.find((i) => i.key === key);
    if (item && item.url) URL.revokeObjectURL(item.url);
    this.items = this.items.filter((i) => i.key !== key);
    this.renderList();
  }

  showError(text) {
    this.el.error.textContent = text;
    this.el.error.hidden = !text;
    if (text) toast(text);
  }

  renderLimits() {
    const limits = this.limits;
    const { limits: line, button } = this.el;
    button.disabled = !this.canAttach();
    if (!limits) {
      line.textContent = "";
      line.dataset.mms = "";
      return;
    }
    line.dataset.mms = limits.can_send ? "yes" : "no";
    if (!limits.can_send) {
      line.textContent = t("in.att-text-only", { reason: limits.reason || t("in.att-no-mms") });
      button.title = line.textContent;
      return;
    }
    const files = tn("in.att-up-to-files", limits.max_files);
    line.textContent = t("in.att-limits", { types: typeNames(limits.types), files, size: formatSize(limits.max_bytes) });
    button.title = t("in.attach-title");
  }

  renderList() {
    this.onChange();
    const { list } = this.el;
    list.hidden = !this.items.length;
    setChildren(
      list,
      this.items.map((item) =>
        h(
          "div",
          { class: "attach-item", dataset: { state: item.uploading ? "uploading" : "ready" } },
          item.url ? h("img", { class: "attach-thumb", src: item.url, alt: item.file.name || t("in.att-image") }) : h("span", { class: "attach-icon" }, icon("paperclip", 18)),
          h(
            "span",
            { class: "attach-name" },
            h("span", { class: "attach-filename" }, item.file.name || t("in.attachment")),
            h("span", { class: "attach-size" }, item.uploading ? t("in.att-uploading") : formatSize(item.file.size)),
          ),
          h("button", {
            type: "button",
            class: "btn btn-ghost btn-icon attach-remove",
            "aria-label": t("in.att-remove", { name: item.file.name || t("in.att-the-attachment") }),
            onclick: () => this.remove(item.key),
          }, "×"),
        ),
      ),
    );
  }
}

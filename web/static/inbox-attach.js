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
    if (!limits) return "wait a moment: the number's MMS limits are being read";
    if (!limits.can_send) return limits.reason || "this number's gateway cannot send MMS";
    if (this.items.length + files.length > limits.max_files) {
      return `at most ${limits.max_files} attachment${limits.max_files === 1 ? "" : "s"} go in one MMS from this number`;
    }
    let total = this.items.reduce((sum, i) => sum + i.file.size, 0);
    for (const file of files) {
      const type = ALIASES[file.type] || file.type;
      if (!limits.types.includes(type)) {
        return `${file.name || "the file"} is ${file.type || "of an unknown type"}; this number sends ${typeNames(limits.types)}`;
      }
      total += file.size;
    }
    if (total > limits.max_bytes) {
      const what = files.length > 1 ? "these files are" : `${files[0].name || "the file"} is`;
      return `${what} too large: this number sends at most ${formatSize(limits.max_bytes)} in one MMS, all its files together`;
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
    form.append("file", item.file, item.file.name || "attachment");
    let error = "";
    try {
      const response = await fetch(`/api/conversations/${encodeURIComponent(conversationId)}/attachments`, {
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
    if (generation !== this.generation) return;
    item.uploading = false;
    if (error) {
      this.remove(item.key);
      this.showError(`${item.file.name || "The file"} was not attached: ${error}`);
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
      line.textContent = `Text only: ${limits.reason || "this number's gateway cannot send MMS"}.`;
      button.title = line.textContent;
      return;
    }
    const files = limits.max_files === 1 ? "1 file" : `up to ${limits.max_files} files`;
    line.textContent = `MMS: ${typeNames(limits.types)} · ${files}, ${formatSize(limits.max_bytes)} in all · drop, paste or attach`;
    button.title = "Attach an image, audio or video";
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
          item.url ? h("img", { class: "attach-thumb", src: item.url, alt: item.file.name || "image" }) : h("span", { class: "attach-icon" }, icon("paperclip", 18)),
          h(
            "span",
            { class: "attach-name" },
            h("span", { class: "attach-filename" }, item.file.name || "attachment"),
            h("span", { class: "attach-size" }, item.uploading ? "uploading…" : formatSize(item.file.size)),
          ),
          h("button", {
            type: "button",
            class: "btn btn-ghost btn-icon attach-remove",
            "aria-label": `Remove ${item.file.name || "the attachment"}`,
            onclick: () => this.remove(item.key),
          }, "×"),
        ),
      ),
    );
  }
}

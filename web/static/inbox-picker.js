/*
 * A suggestion list above the composer's text (canned replies after "/", colleagues after "@"):
 * arrow keys move, Enter or Tab picks, Escape closes. The textarea keeps the focus; the list is
 * tied to it with aria-controls / aria-activedescendant (a textbox takes no aria-expanded).
 */
import { h, setChildren } from "/static/common.js";

let counter = 0;

export class Picker {
  /**
   * @param {HTMLTextAreaElement} textarea
   * @param {{label: string, onPick: (item) => void, empty: string}} options
   *   items are {key, title, detail}
   */
  constructor(textarea, { label, onPick, empty }) {
    this.textarea = textarea;
    this.onPick = onPick;
    this.empty = empty;
    this.items = [];
    this.active = 0;
    this.id = `picker-${++counter}`;
    this.list = h("ul", { id: this.id, class: "picker", role: "listbox", "aria-label": label, hidden: true });
    textarea.insertAdjacentElement("beforebegin", this.list);
    textarea.addEventListener("keydown", (e) => this.onKey(e));
    // Closed when the focus leaves the text for good (a click on an item keeps it: mousedown).
    textarea.addEventListener("blur", () =>
      setTimeout(() => {
        if (document.activeElement !== textarea) this.close();
      }, 150),
    );
  }

  get open() {
    return !this.list.hidden;
  }

  show(items) {
    this.items = items;
    this.active = 0;
    const nodes = items.length
      ? items.map((item, i) =>
          h(
            "li",
            {
              id: `${this.id}-${i}`,
              class: "picker-item",
              role: "option",
              "aria-selected": i === 0 ? "true" : "false",
              onmousedown: (e) => {
                e.preventDefault();
                this.pick(i);
              },
            },
            h("span", { class: "picker-title" }, item.title),
            item.detail ? h("span", { class: "picker-detail" }, item.detail) : null,
          ),
        )
      : [h("li", { class: "picker-empty", role: "option", "aria-disabled": "true", "aria-selected": "false" }, this.empty)];
    setChildren(this.list, nodes);
    this.list.hidden = false;
    this.textarea.setAttribute("aria-controls", this.id);
    this.mark();
  }

  close() {
    if (!this.open) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.items = [];
    this.textarea.removeAttribute("aria-activedescendant");
  }

  mark() {
    if (this.items.length) {
      [...this.list.children].forEach((li, i) => li.setAttribute("aria-selected", i === this.active ? "true" : "false"));
      this.textarea.setAttribute("aria-activedescendant", `${this.id}-${this.active}`);
      const node = this.list.children[this.active];
      if (node) node.scrollIntoView({ block: "nearest" });
    }
  }

  pick(i) {
    const item = this.items[i];
    this.close();
    if (item) this.onPick(item);
  }

  onKey(e) {
    if (!this.open || e.ctrlKey || e.metaKey || e.altKey) return;
    const n = this.items.length;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      this.close();
    } else if (!n) {
      return;
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.mark();
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      this.pick(this.active);
    }
  }
}

// The query editor (PromQL on the Query page, LogQL on the Logs page): a growing monospace
// <textarea> with an ARIA combobox/listbox of completions from the page's completer. ArrowUp/ArrowDown move, Enter/Tab accept, Escape closes; Enter with the list
// closed runs the query and Shift+Enter inserts a newline. The text is drawn highlighted by a
// <pre> behind the (transparent) textarea, which also marks where a parse error points.
import { h } from "../dom";
import type { Completer, Suggestion } from "./autocomplete";
import { errorSpan, paint } from "./highlight";

export interface Editor {
  element: HTMLElement;
  textarea: HTMLTextAreaElement;
  value(): string;
  setValue(text: string): void;
  /** Inserts `text` at the cursor (replacing the selection) and focuses the editor. */
  insert(text: string): void;
  /** Marks where `message` (`1:14: parse error: ...`) points; null clears the mark. */
  markError(message: string | null): void;
  close(): void;
}

let ids = 0;

export function editor(options: {
  complete: Completer;
  value: string;
  label: string;
  onRun: () => void;
  placeholder?: string;
}): Editor {
  const id = `promql-${++ids}`;
  const list = h("ul", { id: `${id}-list`, class: "completions", role: "listbox", "aria-label": "Completions", hidden: true });
  const textarea = h("textarea", {
    id,
    class: "promql",
    rows: 1,
    spellcheck: "false",
    autocomplete: "off",
    autocapitalize: "off",
    role: "combobox",
    "aria-label": options.label,
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": list.id,
    "aria-multiline": "true",
    placeholder: options.placeholder ?? "Expression (press Shift+Enter for newlines)",
  });
  textarea.value = options.value;
  const painted = h("pre", { class: "promql-highlight", "aria-hidden": "true" });
  const element = h("div", { class: "promql-editor" }, painted, textarea, list);
  const repaint = (message: string | null = null): void => {
    const span = message === null ? null : errorSpan(message, textarea.value);
    paint(painted, textarea.value, span);
    element.classList.toggle("has-error", span !== null);
    if (message === null) textarea.removeAttribute("aria-invalid");
    else textarea.setAttribute("aria-invalid", "true");
  };
  repaint();

  let items: Suggestion[] = [];
  let active = -1;
  let from = 0;
  let request = 0;

  const grow = (): void => {
    textarea.style.height = "auto";
    textarea.style.height = `${textarea.scrollHeight + 2}px`;
  };

  const close = (): void => {
    request++;
    items = [];
    active = -1;
    list.hidden = true;
    list.replaceChildren();
    textarea.setAttribute("aria-expanded", "false");
    textarea.removeAttribute("aria-activedescendant");
  };

  const highlight = (i: number): void => {
    active = i;
    list.querySelectorAll("li").forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
    const li = list.children[i] as HTMLElement | undefined;
    if (li) {
      textarea.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView({ block: "nearest" });
    } else textarea.removeAttribute("aria-activedescendant");
  };

  const accept = (i: number): void => {
    const item = items[i];
    if (!item) return;
    const end = textarea.selectionStart;
    const text = textarea.value;
    let insert = item.insert;
    // A label value is closed with the quote it was opened with, unless one follows already.
    const quote = text[from - 1];
    if (item.kind === "value" && text[end] !== quote) insert += quote;
    textarea.value = text.slice(0, from) + insert + text.slice(end);
    const cursor = from + insert.length;
    textarea.setSelectionRange(cursor, cursor);
    close();
    repaint();
    grow();
  };

  const open = async (): Promise<void> => {
    const mine = ++request;
    const { selectionStart, selectionEnd, value } = textarea;
    const found = selectionStart === selectionEnd ? await options.complete(value, selectionStart) : null;
    if (mine !== request || document.activeElement !== textarea) return;
    if (!found?.items.length) {
      close();
      return;
    }
    items = found.items;
    from = found.from;
    list.replaceChildren(
      ...items.map((item, i) =>
        h(
          "li",
          {
            id: `${id}-opt-${i}`,
            role: "option",
            "aria-selected": "false",
            class: `completion ${item.kind}`,
            title: item.help || null,
            // Keep the focus in the editor when an option is clicked.
            onmousedown: (e: Event) => e.preventDefault(),
            onclick: () => accept(i),
          },
          h("span", { class: "completion-text" }, item.text),
          item.help ? h("span", { class: "completion-help" }, item.help) : null,
          h("span", { class: "completion-kind", "aria-hidden": "true" }, item.type || item.kind),
        ),
      ),
    );
    list.hidden = false;
    textarea.setAttribute("aria-expanded", "true");
    highlight(0);
  };

  textarea.addEventListener("input", () => {
    repaint();
    grow();
    void open();
  });
  textarea.addEventListener("blur", close);
  textarea.addEventListener("keydown", (event) => {
    const isOpen = !list.hidden && items.length > 0;
    if (isOpen) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const n = items.length;
        highlight((active + (event.key === "ArrowDown" ? 1 : n - 1)) % n);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close();
        return;
      }
      if ((event.key === "Enter" && !event.shiftKey) || (event.key === "Tab" && !event.shiftKey)) {
        const item = items[active];
        const typed = textarea.value.slice(from, textarea.selectionStart);
        // Accepting what is already typed changes nothing: Enter then runs the query.
        if (item && !(event.key === "Enter" && item.insert === typed)) {
          event.preventDefault();
          accept(active);
          return;
        }
        close();
      }
    }
    if (event.key === " " && event.ctrlKey) {
      event.preventDefault();
      void open();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      options.onRun();
    }
  });
  // Moving the cursor away from the word closes the list.
  textarea.addEventListener("click", close);
  textarea.addEventListener("keyup", (event) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"].includes(event.key)) close();
  });
  requestAnimationFrame(grow);

  return {
    element,
    textarea,
    value: () => textarea.value,
    setValue(text: string) {
      textarea.value = text;
      repaint();
      grow();
    },
    insert(text: string) {
      const { selectionStart: from, selectionEnd: to, value } = textarea;
      textarea.value = value.slice(0, from) + text + value.slice(to);
      textarea.setSelectionRange(from + text.length, from + text.length);
      repaint();
      grow();
      textarea.focus();
    },
    markError: repaint,
    close,
  };
}

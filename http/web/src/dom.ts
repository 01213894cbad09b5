// A few DOM helpers: the interface builds its pages from plain elements.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

/** h("a#id.badge", {href: "/x", onclick: f}, "text", child…) */
export function h(tag: string, attrs: Attrs | null = null, ...children: Child[]): HTMLElement {
  const [head, ...classes] = tag.split(".");
  const [name, id] = head.split("#");
  const el = document.createElement(name || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = [el.className, String(v)].filter(Boolean).join(" ");
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of el. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A side-effect or status badge; the kind picks the colour. */
export function badge(text: string, kind = text): HTMLElement {
  return h("span.badge", { class: "badge-" + kind.replace(/[^a-z_]/gi, "") }, text);
}

export function spinner(text = "Working…"): HTMLElement {
  return h("span.progress", { role: "status" }, h("span.spinner"), text);
}

export function errorBox(err: unknown): HTMLElement {
  const e = err as { code?: string; message?: string; details?: unknown };
  const box = h("div.error", { role: "alert" }, h("strong", null, e.code ?? "error"), ": ", e.message ?? String(err));
  if (e.details) box.appendChild(h("pre", null, JSON.stringify(e.details, null, 2)));
  return box;
}

/** A table from rows; each column renders a cell. */
export function table<T>(rows: T[], columns: [string, (row: T) => Child][], empty = "Nothing yet."): HTMLElement {
  if (!rows.length) return h("p.empty", null, empty);
  return h(
    "table",
    null,
    h("thead", null, h("tr", null, columns.map(([title]) => h("th", null, title)))),
    h("tbody", null, rows.map((r) => h("tr", null, columns.map(([, cell]) => h("td", null, cell(r)))))),
  );
}

export function time(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function json(v: unknown): HTMLElement {
  return h("pre.json", null, JSON.stringify(v, null, 2));
}

/** Runs f while showing a progress indicator in place of the button. */
export async function busy<T>(button: HTMLButtonElement, text: string, f: () => Promise<T>): Promise<T> {
  const label = button.textContent;
  button.disabled = true;
  const progress = spinner(text);
  button.after(progress);
  try {
    return await f();
  } finally {
    progress.remove();
    button.disabled = false;
    button.textContent = label;
  }
}

/** The value of a named form field. */
export function field(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name) as HTMLInputElement | null;
  return el?.value.trim() ?? "";
}

/** showPage puts a keyset page's table into results (its rows appended when
 * the page continues a cursor) and offers "More" for the next page. */
export function showPage(results: Element, more: Element, t: HTMLElement, cursor: string | undefined,
  next: string | undefined, load: (cursor?: string) => Promise<void>): void {
  if (cursor) results.querySelector("tbody")?.append(...Array.from(t.querySelectorAll("tbody tr")));
  else replace(results, t);
  if (next) {
    const b = h("button", { type: "button" }, "More") as HTMLButtonElement;
    b.addEventListener("click", () => void load(next));
    more.appendChild(b);
  }
}

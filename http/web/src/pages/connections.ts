// Connections: the list, registration by URL or upload (with the import's
// warnings and errors where they point), a search over every catalogue,
// and one connection's credentials, test and endpoint catalogue.
import { get, getFresh, isLag, post, upload, call, query, APIError, type Connection, type Endpoint, type EndpointHit, type TestResult, type Warning } from "../api";
import { h, append, replace, badge, table, time, errorBox, busy, field, spinner, showPage } from "../dom";
import type { Context } from "../main";

const canManage = (ctx: Context) => ctx.me.user.role !== "AUDITOR";

export async function connectionsPage(ctx: Context): Promise<void> {
  const list = await get<{ connections: Connection[] }>("/v1/connections" + query({ limit: 200 }));
  append(ctx.main, [
    h("h1", null, "Connections"),
    table(list.connections, [
      ["Name", (c) => h("a", { href: "/connections/" + c.id, class: "connection-link" }, c.name)],
      ["API", (c) => `${c.document.title} ${c.document.api_version ?? ""}`],
      ["Base URL", (c) => h("code", null, c.base_url)],
      ["Status", (c) => badge(c.status)],
      ["Credentials", (c) => c.auth.type],
      ["Operations", (c) => c.document.operation_count],
      ["Warnings", (c) => c.document.warnings.length || ""],
    ], "No connection yet."),
    searchBox(),
    canManage(ctx) ? registerForm(ctx) : null,
  ]);
}

/** Search every connection's catalogue. */
function searchBox(): HTMLElement {
  const results = h("div#search-results");
  const form = h("form.inline", null, h("input", { name: "q", type: "search", placeholder: "e.g. find pets by status", required: true }),
    h("button", { type: "submit" }, "Search")) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(results, spinner("Searching…"));
    try {
      const r = await get<{ items: EndpointHit[] }>("/v1/endpoints/search" + query({ q: field(form, "q"), limit: 20 }));
      replace(results, table(r.items, [
        ["Operation", (e) => h("a", { href: "/connections/" + e.connection_id }, e.operation_id)],
        ["Connection", (e) => e.connection_name],
        ["Call", (e) => h("code", null, e.method + " " + e.path)],
        ["Summary", (e) => e.summary],
        ["Side effect", (e) => badge(e.side_effect)],
      ], "No endpoint matches."));
    } catch (err) {
      replace(results, errorBox(err));
    }
  });
  return h("section", null, h("h2", null, "Search the catalogues"), form, results);
}

function registerForm(ctx: Context): HTMLElement {
  const messages = h("div#register-messages");
  const submit = h("button", { type: "submit", id: "register-submit" }, "Register") as HTMLButtonElement;
  const form = h(
    "form#register-form",
    null,
    h("label", null, "Name", h("input", { name: "name", required: true })),
    h("fieldset", null, h("legend", null, "OpenAPI document: a URL or a file"),
      h("label", null, "Document URL", h("input", { name: "document_url", type: "url", placeholder: "https://api.example.com/openapi.json" })),
      h("label", null, "or upload", h("input", { name: "document", type: "file", accept: ".json,.yaml,.yml" }))),
    h("label", null, "Base URL (the document's first server when empty)", h("input", { name: "base_url", type: "url" })),
    h("fieldset", null, h("legend", null, "Credentials"),
      h("label", null, "Type", h("select", { name: "auth_type" },
        ["none", "api_key", "bearer", "basic"].map((t) => h("option", { value: t }, t)))),
      h("label", null, "User name (basic)", h("input", { name: "username", autocomplete: "off" })),
      h("label", null, "Secret (API key, token or password; never shown again)", h("input", { name: "secret", type: "password", autocomplete: "new-password" }))),
    submit,
  ) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(messages);
    const file = (form.elements.namedItem("document") as HTMLInputElement).files?.[0];
    const url = field(form, "document_url");
    if (!file === !url) {
      messages.appendChild(errorBox({ code: "validation_failed", message: "Give either a document URL or a file." }));
      return;
    }
    const auth = authInput(form);
    try {
      const conn = await busy(submit, file ? "Uploading and importing…" : "Fetching and importing…", () => {
        if (file) {
          const data = new FormData();
          data.set("name", field(form, "name"));
          data.set("document", file);
          if (field(form, "base_url")) data.set("base_url", field(form, "base_url"));
          if (auth) data.set("auth", JSON.stringify(auth));
          return upload<Connection>("POST", "/v1/connections", data);
        }
        return post<Connection>("/v1/connections", {
          name: field(form, "name"),
          document_url: url,
          base_url: field(form, "base_url") || undefined,
          auth,
        });
      });
      ctx.navigate("/connections/" + conn.id + (conn.position ? "?min_position=" + conn.position : ""));
    } catch (err) {
      if (isLag(err)) {
        // Registered; the list shows it once the view catches up.
        ctx.navigate("/connections");
        return;
      }
      messages.appendChild(importError(err));
    }
  });
  return h("section", null, h("h2", null, "Register a connection"), messages, form);
}

function authInput(form: HTMLFormElement): Record<string, string> | undefined {
  const type = field(form, "auth_type");
  const secret = field(form, "secret");
  switch (type) {
    case "api_key":
      return { type, key: secret };
    case "bearer":
      return { type, token: secret };
    case "basic":
      return { type, username: field(form, "username"), password: secret };
  }
  return undefined;
}

/** An import refusal, located in the document where the server says. */
function importError(err: unknown): HTMLElement {
  if (!(err instanceof APIError) || !err.details) return errorBox(err);
  const d = err.details as { reason?: string; message?: string; pointer?: string; line?: number; column?: number; status?: number };
  return h("div.error", { role: "alert" },
    h("strong", null, err.code), ": ", err.message,
    h("ul", null,
      d.reason && h("li", null, "Reason: ", d.reason),
      d.message && h("li", null, d.message),
      d.line && h("li", null, `At line ${d.line}${d.column ? ", column " + d.column : ""}`),
      d.pointer && h("li", null, "At ", h("code", null, d.pointer)),
      d.status && h("li", null, "The server answered " + d.status)));
}

function warnings(ws: Warning[]): HTMLElement {
  return h("section#warnings", null, h("h2", null, `Import warnings (${ws.length})`),
    table(ws, [
      ["Where", (w) => [w.line ? `line ${w.line} ` : "", w.pointer ? h("code", null, w.pointer) : ""]],
      ["Code", (w) => w.code],
      ["Message", (w) => w.message],
    ], "None: everything in the document was imported."));
}

export async function connectionPage(ctx: Context): Promise<void> {
  const id = ctx.params[0];
  const c = await getFresh<Connection>("/v1/connections/" + encodeURIComponent(id) + query({ min_position: ctx.query.get("min_position") ?? undefined }));
  const testResult = h("div#test-result");
  const actions = h("p.actions");
  if (canManage(ctx)) {
    const test = h("button", { type: "button", id: "test-connection" }, "Test") as HTMLButtonElement;
    test.addEventListener("click", async () => {
      replace(testResult);
      try {
        const r = await busy(test, "Calling the API…", () => post<TestResult>(`/v1/connections/${c.id}/test`));
        replace(testResult, h("p", null, badge(r.ok ? "ok" : "failed"), ` ${r.method} ${r.path} → ${r.status ?? "no answer"} in ${r.duration_ms} ms `, r.error ?? ""));
      } catch (err) {
        replace(testResult, errorBox(err));
      }
    });
    actions.appendChild(test);
    if (c.auth.type === "oauth2_authorization_code") {
      actions.append(" ", h("a.button", { href: `/v1/connections/${c.id}/oauth/start` }, "Connect with OAuth"));
    }
    const toggle = h("button", { type: "button" }, c.status === "disabled" ? "Enable" : "Disable") as HTMLButtonElement;
    toggle.addEventListener("click", async () => {
      try {
        const r = await busy(toggle, "Saving…", () => call<{ position: string }>("POST", `/v1/connections/${c.id}/${c.status === "disabled" ? "enable" : "disable"}`));
        ctx.navigate(`/connections/${c.id}?min_position=${r.position}`);
      } catch (err) {
        replace(testResult, errorBox(err));
      }
    });
    actions.append(" ", toggle);
  }
  const last = c.last_test;
  append(ctx.main, [
    h("h1", null, c.name, " ", badge(c.status)),
    h("dl.facts", null,
      h("dt", null, "API"), h("dd", null, `${c.document.title} ${c.document.api_version ?? ""} (OpenAPI ${c.document.openapi_version}), ${c.document.operation_count} operations`),
      h("dt", null, "Base URL"), h("dd", null, h("code", null, c.base_url)),
      c.document_url && [h("dt", null, "Document"), h("dd", null, h("code", null, c.document_url))],
      h("dt", null, "Credentials"), h("dd", { id: "credentials" }, credentialStatus(c)),
      h("dt", null, "Last test"), h("dd", null, last ? [badge(last.ok ? "ok" : "failed"), ` ${last.method} ${last.path} → ${last.status ?? "no answer"}, ${last.duration_ms} ms, ${time(last.at)}`] : "never"),
    ),
    actions,
    testResult,
    warnings(c.document.warnings),
    catalogue(c),
  ]);
}

function credentialStatus(c: Connection): (string | HTMLElement)[] {
  const a = c.auth;
  const out: (string | HTMLElement)[] = [a.type];
  if (a.hint) out.push(" ", h("code", null, a.hint));
  if (a.key_id) out.push(", key ", h("code", null, a.key_id));
  if (a.expires_at) out.push(", token expires " + time(a.expires_at));
  if (a.authorized !== undefined) out.push(" ", badge(a.authorized ? "authorised" : "not authorised", a.authorized ? "active" : "needs_reauthorization"));
  return out;
}

/** The endpoint catalogue with a search box and a side-effect filter. */
function catalogue(c: Connection): HTMLElement {
  const results = h("div#endpoints");
  const more = h("div");
  const form = h("form.inline", { id: "catalogue-search" },
    h("input", { name: "q", type: "search", placeholder: "Search this catalogue" }),
    h("select", { name: "side_effect" }, h("option", { value: "" }, "any side effect"),
      ["read", "write", "destructive"].map((s) => h("option", { value: s }, s))),
    h("button", { type: "submit" }, "Search")) as HTMLFormElement;
  const load = async (cursor?: string) => {
    if (!cursor) replace(results, spinner("Loading the catalogue…"));
    replace(more);
    try {
      const page = await get<{ items: Endpoint[]; next_cursor?: string }>(`/v1/connections/${c.id}/endpoints` +
        query({ q: field(form, "q"), side_effect: field(form, "side_effect"), limit: 50, cursor }));
      const t = table(page.items, [
        ["Operation", (e) => h("span.op", null, e.operation_id)],
        ["Call", (e) => h("code", null, e.method + " " + e.path)],
        ["Summary", (e) => e.summary],
        ["Side effect", (e) => [badge(e.side_effect), e.deprecated ? [" ", badge("deprecated")] : ""]],
      ], "No endpoint matches.");
      showPage(results, more, t, cursor, page.next_cursor, load);
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });
  void load();
  return h("section", null, h("h2", null, "Endpoint catalogue"), form, results, more);
}

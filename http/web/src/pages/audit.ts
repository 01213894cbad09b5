// Audit (AUDITOR, ADMIN): the trail with filters, exports of the same
// rows, the chain's verification and any stream's state at a time.
import { get, query, type AuditEvent } from "../api";
import { h, append, replace, badge, table, time, errorBox, busy, field, json, spinner, showPage } from "../dom";
import type { Context } from "../main";

const filters = ["q", "action", "actor", "resource_type", "resource_id", "correlation_id"] as const;

export async function auditPage(ctx: Context): Promise<void> {
  const results = h("div#audit-results");
  const more = h("div");
  const exports = h("p.exports");
  const form = h("form.filters", { id: "audit-filters" },
    filters.map((f) => h("label", null, f === "q" ? "text" : f.replace(/_/g, " "), h("input", { name: f, value: ctx.query.get(f) ?? "" }))),
    h("label", null, "from", h("input", { name: "from", type: "datetime-local" })),
    h("label", null, "to", h("input", { name: "to", type: "datetime-local" })),
    h("button", { type: "submit" }, "Filter")) as HTMLFormElement;

  const params = () => {
    const p: Record<string, string | undefined> = {};
    for (const f of filters) p[f] = field(form, f);
    for (const f of ["from", "to"]) if (field(form, f)) p[f] = new Date(field(form, f)).toISOString();
    return p;
  };
  const load = async (cursor?: string) => {
    if (!cursor) replace(results, spinner("Reading the trail…"));
    replace(more);
    const p = params();
    replace(exports, "Export these rows: ",
      h("a", { href: "/v1/audit/export" + query({ ...p, format: "csv" }), download: "audit.csv", id: "export-csv" }, "CSV"), " · ",
      h("a", { href: "/v1/audit/export" + query({ ...p, format: "jsonl" }), download: "audit.jsonl", id: "export-jsonl" }, "JSON lines"));
    try {
      const page = await get<{ events: AuditEvent[]; next_cursor?: string }>("/v1/audit/events" + query({ ...p, limit: 100, cursor }));
      const t = table(page.events, [
        ["#", (e) => e.sequence ?? ""],
        ["Time", (e) => time(e.occurred_at)],
        ["Action", (e) => h("code.action", null, e.action)],
        ["Outcome", (e) => badge(e.outcome)],
        ["Actor", (e) => [e.actor.subject ?? "", e.actor.role ? " (" + e.actor.role + ")" : ""]],
        ["Resource", (e) => [e.resource.type, " ", h("code", null, e.resource.id)]],
        ["Stream", (e) => h("a.stream", { href: "#stream", onclick: (ev: Event) => {
          ev.preventDefault();
          showStream(e.stream);
        } }, `${e.stream}@${e.stream_version}`)],
        ["Summary", (e) => h("details", null, h("summary", null, "fields"), json(e.summary))],
      ], "No row matches.");
      showPage(results, more, t, cursor, page.next_cursor, load);
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });

  // Verification of the hash chain and signed heads.
  const verifyResult = h("div#verify-result");
  const verify = h("button", { type: "button", id: "verify" }, "Verify the chain") as HTMLButtonElement;
  verify.addEventListener("click", async () => {
    replace(verifyResult);
    try {
      const r = await busy(verify, "Verifying every row…", () => get<{ valid: boolean; checked: number; pending: number; signed_heads: number; first_broken: unknown }>("/v1/audit/verify"));
      replace(verifyResult, h("p", null, badge(r.valid ? "valid" : "broken", r.valid ? "active" : "failed"),
        ` ${r.checked} rows checked, ${r.pending} pending, ${r.signed_heads} signed heads compared`),
        r.first_broken ? json(r.first_broken) : "");
    } catch (err) {
      replace(verifyResult, errorBox(err));
    }
  });

  // A stream's state at a chosen time.
  const streamResult = h("div#stream-result");
  const streamForm = h("form.inline", { id: "stream-form" },
    h("input", { name: "stream", required: true, placeholder: "stream, e.g. connection-…" }),
    h("label", null, "at ", h("input", { name: "at", type: "datetime-local" })),
    h("button", { type: "submit" }, "Show state")) as HTMLFormElement;
  const showStream = (stream: string) => {
    (streamForm.elements.namedItem("stream") as HTMLInputElement).value = stream;
    streamForm.requestSubmit();
    streamForm.scrollIntoView({ block: "center" });
  };
  streamForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const at = field(streamForm, "at");
    replace(streamResult, spinner("Replaying…"));
    try {
      const r = await get<{ stream: string; version: number; at?: string; state: unknown; event_count: number; events: AuditEvent[] }>(
        "/v1/audit/streams/" + encodeURIComponent(field(streamForm, "stream")) + query({ at: at ? new Date(at).toISOString() : undefined }));
      replace(streamResult, h("p", null, `${r.stream} at version ${r.version}`, r.at ? ` (${time(r.at)})` : "", `, ${r.event_count} events`),
        r.state ? json(r.state) : h("p.muted", null, "No state view for this stream; its events:"),
        table(r.events.slice(-20), [["Version", (e) => e.stream_version], ["Time", (e) => time(e.occurred_at)], ["Action", (e) => e.action]]));
    } catch (err) {
      replace(streamResult, errorBox(err));
    }
  });

  append(ctx.main, [h("h1", null, "Audit"), form, exports, results, more,
    h("section", null, h("h2", null, "Verify"), verify, verifyResult),
    h("section#stream", null, h("h2", null, "A stream at a time"), streamForm, streamResult)]);
  await load();
}

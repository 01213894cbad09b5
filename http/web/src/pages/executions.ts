// Executions: the list with filters, and one execution's live timeline
// over Server-Sent Events with its steps' attempts, statuses and bodies.
import { get, getFresh, post, query, type Execution, type ExecutionStep } from "../api";
import { h, append, replace, badge, table, time, errorBox, busy, field, json, spinner } from "../dom";
import type { Context } from "../main";

const final = ["completed", "failed", "cancelled", "needs_attention"];

export async function executionsPage(ctx: Context): Promise<void> {
  const results = h("div#executions");
  const form = h("form.inline", { id: "execution-filters" },
    h("select", { name: "status" }, h("option", { value: "" }, "any status"),
      ["pending", "running", "completed", "failed", "cancelled", "needs_attention"].map((s) => h("option", { value: s }, s))),
    h("input", { name: "plan_id", placeholder: "plan id" }),
    h("label", null, "since ", h("input", { name: "since", type: "datetime-local" })),
    h("button", { type: "submit" }, "Filter")) as HTMLFormElement;
  const load = async () => {
    replace(results, spinner("Loading…"));
    try {
      const since = field(form, "since");
      const page = await get<{ executions: Execution[] }>("/v1/executions" + query({
        status: field(form, "status"), plan_id: field(form, "plan_id"),
        since: since ? new Date(since).toISOString() : undefined, limit: 100,
      }));
      replace(results, table(page.executions, [
        ["Execution", (e) => h("a.execution-link", { href: "/executions/" + e.id }, e.id.slice(0, 8))],
        ["Status", (e) => badge(e.status)],
        ["Plan", (e) => h("a", { href: "/ask/" + e.plan_id }, `${e.plan_id.slice(0, 8)} v${e.plan_version}`)],
        ["Started", (e) => time(e.created_at)],
        ["Finished", (e) => time(e.finished_at)],
      ], "No execution matches."));
    } catch (err) {
      replace(results, errorBox(err));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });
  append(ctx.main, [h("h1", null, "Executions"), form, results]);
  await load();
}

interface StreamEvent {
  version: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

export async function executionPage(ctx: Context): Promise<void> {
  const id = ctx.params[0];
  const path = "/v1/executions/" + encodeURIComponent(id);
  let exec = await getFresh<Execution>(path + query({ min_position: ctx.query.get("min_position") ?? undefined }));
  const head = h("div");
  const steps = h("div#steps");
  const timeline = h("ol#timeline.timeline");
  const live = h("p#live");
  const messages = h("div");
  const cancel = h("button", { type: "button", id: "cancel-execution" }, "Cancel") as HTMLButtonElement;
  cancel.addEventListener("click", async () => {
    try {
      await busy(cancel, "Cancelling…", () => post(path + "/cancel"));
    } catch (err) {
      messages.appendChild(errorBox(err));
    }
  });

  const draw = () => {
    replace(head,
      h("p", null, "Status ", h("span#execution-status", null, badge(exec.status)),
        ` · plan `, h("a", { href: "/ask/" + exec.plan_id }, `${exec.plan_id.slice(0, 8)} v${exec.plan_version}`),
        ` · started ${time(exec.created_at)}`, exec.finished_at ? ` · finished ${time(exec.finished_at)}` : ""),
      exec.outcome && h("p", null, "Outcome: ", exec.outcome.reason ?? "", exec.outcome.step ? ` at step ${exec.outcome.step}` : ""),
      Object.keys(exec.inputs ?? {}).length ? h("p", null, "Inputs: ", h("code", null, JSON.stringify(exec.inputs))) : "");
    replace(steps, stepsTable(exec.steps ?? []));
    cancel.hidden = final.includes(exec.status) || ctx.me.user.role === "AUDITOR";
  };
  draw();
  append(ctx.main, [h("h1", null, "Execution ", h("code", null, id.slice(0, 8))), head, h("p.actions", null, cancel), messages,
    live, h("h2", null, "Steps"), steps, h("h2", null, "Timeline"), timeline]);

  // The detail is read again (at most every 250 ms) as events arrive,
  // until the read model has caught up with the last event received.
  let refreshing: Promise<void> | null = null;
  let again = false;
  let lastVersion = -1;
  const refresh = () => {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = (async () => {
      await new Promise((r) => setTimeout(r, 250));
      try {
        exec = await get<Execution>(path);
        draw();
        if (exec.version < lastVersion) again = true;
      } catch (err) {
        messages.replaceChildren(errorBox(err));
      }
      refreshing = null;
      if (again) {
        again = false;
        refresh();
      }
    })();
  };

  const source = new EventSource(path + "/events");
  ctx.onLeave(() => source.close());
  replace(live, spinner("Live: following the execution…"));
  const onEvent = (ev: MessageEvent) => {
    const e = JSON.parse(ev.data) as StreamEvent;
    lastVersion = Math.max(lastVersion, e.version);
    timeline.appendChild(h("li", { "data-type": e.type }, h("time", null, new Date(e.at).toLocaleTimeString()), " ",
      badge(e.type.replace(/^execution\./, ""), e.type.split(".")[1] ?? ""), " ", eventText(e)));
    if (final.some((f) => e.type === "execution." + f)) {
      source.close();
      replace(live, h("span", null, "Finished."));
    }
    refresh();
  };
  for (const t of ["started", "step_started", "step_succeeded", "step_failed", "step_retry_scheduled", "step_skipped", ...final]) {
    source.addEventListener("execution." + t, onEvent as EventListener);
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED || final.includes(exec.status)) {
      source.close();
      replace(live, h("span", null, final.includes(exec.status) ? "Finished." : "The event stream ended."));
    }
  };
}

function eventText(e: StreamEvent): (string | HTMLElement)[] {
  const d = e.data ?? {};
  const parts: string[] = [];
  if (d.key) parts.push(String(d.key));
  const req = d.request as { method?: string; url?: string } | undefined;
  if (req?.method) parts.push(`${req.method} ${req.url ?? ""}`);
  for (const k of ["attempt", "status", "duration_ms", "reason", "wait_ms"]) {
    if (d[k] !== undefined && d[k] !== "") parts.push(`${k.replace(/_/g, " ")} ${typeof d[k] === "object" ? JSON.stringify(d[k]) : d[k]}`);
  }
  const res = d.response as { body?: string; body_bytes?: number; capped?: boolean } | undefined;
  const out: (string | HTMLElement)[] = [parts.join(" · ")];
  if (res?.body) {
    out.push(" ", h("details", null, h("summary", null, `body, ${res.body_bytes ?? res.body.length} bytes${res.capped ? " (capped)" : ""}`),
      h("pre.json", null, res.body)));
  }
  return out;
}

function stepsTable(steps: ExecutionStep[]): HTMLElement {
  return table(steps, [
    ["Step", (s) => h("strong", null, s.key)],
    ["Kind", (s) => s.kind],
    ["Status", (s) => badge(s.status)],
    ["Attempts", (s) => s.attempts],
    ["HTTP", (s) => s.http_status ?? ""],
    ["Duration", (s) => s.duration_ms + " ms"],
    ["Detail", (s) => [s.error ? h("p.error-text", null, s.error) : "",
      s.request || s.response ? h("details", null, h("summary", null, "request and response"),
        s.request ? [h("h4", null, "Request"), json(s.request)] : "",
        s.response ? [h("h4", null, "Response (body capped)"), json(s.response)] : "") : ""]],
  ], "No step has run yet.");
}

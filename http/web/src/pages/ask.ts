// Ask: a request in natural language becomes a plan; its steps are shown
// with their operations, parameters (references to earlier steps as
// links), side effects and the tokens spent, to confirm, reject or revise.
import { get, getFresh, isLag, post, query, type Plan, type PlanListItem, type PlanStep, type PlanVersion } from "../api";
import { h, append, replace, badge, table, time, errorBox, busy, field, spinner } from "../dom";
import type { Context } from "../main";

export async function askPage(ctx: Context): Promise<void> {
  const planID = ctx.params[0];
  const manage = ctx.me.user.role !== "AUDITOR";
  const area = h("div#plan");
  append(ctx.main, [h("h1", null, planID ? "Plan" : "Ask")]);
  if (manage && !planID) ctx.main.appendChild(promptForm(ctx, area));
  ctx.main.appendChild(area);
  if (planID) {
    const plan = await getFresh<Plan>("/v1/plans/" + encodeURIComponent(planID) + query({ min_position: ctx.query.get("min_position") ?? undefined }));
    showPlan(ctx, area, plan);
    return;
  }
  const recent = await get<{ plans: PlanListItem[] }>("/v1/plans" + query({ limit: 20 }));
  ctx.main.appendChild(h("section", null, h("h2", null, "Recent plans"), table(recent.plans, [
    ["Prompt", (p) => h("a", { href: "/ask/" + p.id }, p.prompt)],
    ["Status", (p) => badge(p.status)],
    ["Version", (p) => p.version],
    ["Asked", (p) => time(p.created_at)],
  ], "No plan yet.")));
}

function promptForm(ctx: Context, area: HTMLElement): HTMLElement {
  const submit = h("button", { type: "submit", id: "ask-submit" }, "Plan it") as HTMLButtonElement;
  const form = h("form#ask-form", null,
    h("label", null, "What should be done?", h("textarea", { name: "prompt", rows: 3, required: true, maxlength: 4000,
      placeholder: "e.g. find the pets that are available and show the first one" })),
    submit) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(area);
    try {
      const plan = await busy(submit, "Planning: searching the catalogue and asking the model…",
        () => post<Plan>("/v1/plans", { prompt: field(form, "prompt") }));
      history.replaceState(null, "", "/ask/" + plan.id);
      showPlan(ctx, area, plan);
    } catch (err) {
      area.appendChild(errorBox(err));
    }
  });
  return form;
}

function showPlan(ctx: Context, area: HTMLElement, plan: Plan): void {
  const v = plan.versions[0];
  const manage = ctx.me.user.role !== "AUDITOR";
  const messages = h("div#plan-messages");
  replace(area,
    h("p.prompt", null, "“", v?.prompt ?? plan.prompt, "”"),
    h("p", null, "Status ", h("span#plan-status", null, badge(plan.status)), ` · version ${plan.version}`,
      v?.confidence ? [" · confidence ", badge(v.confidence)] : "",
      v ? [" · ", h("span#plan-tokens", null, tokens(v))] : ""),
    plan.rejection && h("p", null, `Rejected: ${plan.rejection.reason}`),
    v && versionView(v),
    messages,
    manage && actions(ctx, area, plan, messages),
    plan.versions.length > 1 && h("details", null, h("summary", null, "Earlier versions"),
      plan.versions.slice(1).map((o) => h("div.version", null, h("h3", null, `Version ${o.version} `, badge(o.status)), h("p", null, o.prompt), versionView(o)))),
  );
}

function tokens(v: PlanVersion): string {
  const u = v.summary?.tokens ?? v.planning.usage;
  if (v.planning.mode !== "llm") return "drafted from the catalogue search (no model)";
  return `${u.total_tokens} tokens (${u.prompt_tokens} prompt, ${u.completion_tokens} completion)` + (v.planning.model ? " · " + v.planning.model : "");
}

function versionView(v: PlanVersion): HTMLElement {
  const out = h("div.version-body");
  if (v.status === "no_suitable_endpoint") {
    out.appendChild(h("div#no-suitable-endpoint.notice", { role: "status" },
      h("strong", null, "No suitable endpoint. "), v.reason ?? "No operation of your connections can do this."));
  }
  if (v.message) out.appendChild(h("p.muted", null, v.message));
  if (v.errors.length) {
    out.appendChild(h("div.error", null, h("strong", null, "Problems"),
      h("ul", null, v.errors.map((e) => h("li", null, [e.step, e.field].filter(Boolean).join(" · "), " ", h("code", null, e.code), " ", e.message)))));
  }
  if (v.summary) {
    const s = v.summary;
    out.appendChild(h("p", null, `${s.calls.length} call(s), ${s.mutating_calls} changing data, ${s.destructive_calls} destructive, at most ${s.max_calls} requests`,
      s.credentials.length ? [" · credentials: ", s.credentials.map((c) => `${c.connection_name ?? c.connection_id} ${c.type}${c.key_id ? " (key " + c.key_id + ")" : ""}`).join(", ")] : ""));
  }
  if (v.plan) {
    if (v.plan.inputs?.length) out.appendChild(h("p", null, "Inputs: ", v.plan.inputs.map((i) => h("code", null, i.name + (i.default !== undefined ? "=" + JSON.stringify(i.default) : ""))), " "));
    out.appendChild(h("ol.steps", null, v.plan.steps.map((s) => stepView(s, v))));
  }
  return out;
}

function stepView(s: PlanStep, v: PlanVersion): HTMLElement {
  const li = h("li.step", { id: "step-" + s.id },
    h("div.step-head", null, h("strong", null, s.id), " ", badge(s.kind, "kind")));
  if (s.call) {
    const sc = v.summary?.calls.find((c) => c.step === s.id);
    li.appendChild(h("div", null, h("span.op", null, s.call.operation_id), " ",
      sc?.method ? h("code", null, `${sc.method} ${sc.path ?? ""}`) : "", " ",
      badge(s.call.side_effect ?? sc?.side_effect ?? "read")));
    const params: [string, unknown][] = [];
    for (const where of ["path", "query", "header"] as const) {
      for (const [k, val] of Object.entries(s.call[where] ?? {})) params.push([`${where}.${k}`, val]);
    }
    if (s.call.body !== undefined) params.push(["body", s.call.body]);
    if (params.length) li.appendChild(h("dl.params", null, params.map(([k, val]) => [h("dt", null, k), h("dd", null, withReferences(val))])));
  }
  if (s.transform) li.appendChild(h("div", null, "= ", withReferences(s.transform.expr)));
  if (s.condition) {
    li.appendChild(h("div", null, "if ", withReferences(s.condition.expr),
      s.condition.then?.length ? [" then ", s.condition.then.map((id) => stepLink(id))] : "",
      s.condition.else?.length ? [" else ", s.condition.else.map((id) => stepLink(id))] : ""));
  }
  if (s.foreach) {
    li.appendChild(h("div", null, "for each of ", withReferences(s.foreach.items), ` (at most ${s.foreach.max_iterations})`,
      h("ol.steps", null, s.foreach.steps.map((c) => stepView(c, v)))));
  }
  if (s.description) li.appendChild(h("p.muted", null, s.description));
  return li;
}

function stepLink(id: string): HTMLElement {
  return h("a.ref", { href: "#step-" + id, onclick: (ev: Event) => {
    ev.preventDefault();
    document.getElementById("step-" + id)?.scrollIntoView({ block: "center" });
  } }, id);
}

/** Renders a value with each `steps.<id>` of its expressions as a link to that step. */
function withReferences(val: unknown): HTMLElement {
  const text = typeof val === "string" ? val : JSON.stringify(val);
  const out = h("code.value");
  let last = 0;
  for (const m of text.matchAll(/steps\.([A-Za-z0-9_]+)/g)) {
    out.append(text.slice(last, m.index), "steps.", stepLink(m[1]));
    last = m.index! + m[0].length;
  }
  out.append(text.slice(last));
  return out;
}

function actions(ctx: Context, area: HTMLElement, plan: Plan, messages: HTMLElement): HTMLElement | null {
  const bar = h("div#plan-actions.actions");
  const act = async (button: HTMLButtonElement, text: string, f: () => Promise<Plan>) => {
    replace(messages);
    try {
      showPlan(ctx, area, await busy(button, text, f));
    } catch (err) {
      if (!isLag(err)) {
        messages.appendChild(errorBox(err));
        return;
      }
      // Done, but the view lags: read the plan until it shows the change.
      replace(messages, spinner("Done; waiting for the plan's view to catch up…"));
      for (let i = 0; i < 120; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const now = await get<Plan>("/v1/plans/" + plan.id).catch(() => plan);
        if (now.status !== plan.status || now.version !== plan.version) {
          showPlan(ctx, area, now);
          return;
        }
      }
      replace(messages, errorBox(err));
    }
  };
  if (plan.status === "proposed") {
    const confirm = h("button.primary", { type: "button", id: "confirm-plan" }, "Confirm") as HTMLButtonElement;
    confirm.addEventListener("click", () => void act(confirm, "Confirming…", () => post<Plan>(`/v1/plans/${plan.id}/confirm`, { version: plan.version })));
    bar.appendChild(confirm);
  }
  if (plan.status === "confirmed") {
    const run = h("button.primary", { type: "button", id: "run-plan" }, "Run") as HTMLButtonElement;
    run.addEventListener("click", async () => {
      replace(messages);
      try {
        const r = await busy(run, "Starting…", () => post<{ execution_id: string; position: string }>("/v1/executions", { plan_id: plan.id }));
        ctx.navigate(`/executions/${r.execution_id}?min_position=${r.position}`);
      } catch (err) {
        messages.appendChild(errorBox(err));
      }
    });
    bar.appendChild(run);
  }
  if (plan.status !== "confirmed" && plan.status !== "rejected") {
    const reviseForm = h("form.inline", { id: "revise-form" }, h("input", { name: "prompt", required: true, placeholder: "What should change?" }),
      h("button", { type: "submit" }, "Revise")) as HTMLFormElement;
    reviseForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void act(reviseForm.querySelector("button")!, "Revising…", () => post<Plan>(`/v1/plans/${plan.id}/revise`, { prompt: field(reviseForm, "prompt") }));
    });
    const rejectForm = h("form.inline", { id: "reject-form" }, h("input", { name: "reason", required: true, placeholder: "Why reject it?" }),
      h("button", { type: "submit" }, "Reject")) as HTMLFormElement;
    rejectForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void act(rejectForm.querySelector("button")!, "Rejecting…", () => post<Plan>(`/v1/plans/${plan.id}/reject`, { reason: field(rejectForm, "reason") }));
    });
    bar.append(reviseForm, rejectForm);
  }
  return bar.childElementCount ? bar : null;
}

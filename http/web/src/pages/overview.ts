// Overview: connections by health, plans awaiting confirmation, the last
// 24 hours of executions with their success rate, and the projectors.
import { get, query, type Connection, type Execution, type PlanListItem } from "../api";
import { h, append, badge, table, time, errorBox } from "../dom";
import type { Context } from "../main";

export async function overviewPage(ctx: Context): Promise<void> {
  const since = new Date(Date.now() - 24 * 3600 * 1000);
  const [conns, plans, execs, ready] = await Promise.allSettled([
    get<{ connections: Connection[] }>("/v1/connections" + query({ limit: 200 })),
    get<{ plans: PlanListItem[] }>("/v1/plans" + query({ status: "proposed", limit: 20 })),
    get<{ executions: Execution[] }>("/v1/executions" + query({ since: since.toISOString(), limit: 200 })),
    fetch("/readyz").then((r) => r.json() as Promise<{ status: string; checks: Record<string, string> }>),
  ]);
  const lags = await projectorLag();
  append(ctx.main, [h("h1", null, "Overview")]);
  const grid = h("div.cards");
  ctx.main.appendChild(grid);

  grid.appendChild(card("Connections", conns, (v) => {
    const count = (s: string) => v.connections.filter((c) => c.status === s).length;
    const attention = v.connections.filter((c) => c.status === "needs_reauthorization");
    return [
      h("p.stat", { id: "stat-connections" }, String(v.connections.length)),
      h("p", null, badge(count("active") + " healthy", "active"), " ",
        badge(attention.length + " need re-authorisation", "needs_reauthorization"), " ",
        badge(count("disabled") + " disabled", "disabled")),
      attention.map((c) => h("p", null, h("a", { href: "/connections/" + c.id }, c.name))),
    ];
  }));

  grid.appendChild(card("Plans awaiting confirmation", plans, (v) => [
    h("p.stat", null, String(v.plans.length)),
    table(v.plans.slice(0, 5), [["Prompt", (p) => h("a", { href: "/ask/" + p.id }, p.prompt)], ["Asked", (p) => time(p.created_at)]], "None."),
  ]));

  grid.appendChild(card("Executions, last 24 h", execs, (v) => {
    const done = v.executions.filter((e) => e.status === "completed").length;
    const ended = v.executions.filter((e) => ["completed", "failed", "cancelled", "needs_attention"].includes(e.status)).length;
    const rate = ended ? Math.round((100 * done) / ended) + "%" : "–";
    return [
      h("p.stat", { id: "stat-executions" }, String(v.executions.length)),
      h("p", null, "Success rate ", h("strong", { id: "success-rate" }, rate), ` (${done} of ${ended} ended)`),
      chart(v.executions, since),
    ];
  }));

  grid.appendChild(card("Readiness and projector lag", ready, (v) => [
    h("p", null, badge(v.status, v.status === "ready" ? "active" : "failed")),
    table(Object.entries(v.checks), [["Check", ([k]) => k], ["State", ([, s]) => s]]),
    lags.length ? h("details#projector-lag", null, h("summary", null, `Projectors: ${lags.filter(([, n]) => n > 0).length} behind, at most ${Math.max(...lags.map(([, n]) => n))} events`),
      table(lags, [["Projector", ([p]) => p], ["Events behind", ([, n]) => n]])) : "",
  ]));
}

/** Each projector's lag in events, from the Prometheus text at /metrics. */
async function projectorLag(): Promise<[string, number][]> {
  try {
    const text = await (await fetch("/metrics")).text();
    const out: [string, number][] = [];
    for (const m of text.matchAll(/^apiq_projection_lag_events\{projector="([^"]+)"\} (\S+)$/gm)) out.push([m[1], Number(m[2])]);
    return out.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  } catch {
    return [];
  }
}

function card<T>(title: string, r: PromiseSettledResult<T>, body: (v: T) => unknown[]): HTMLElement {
  const el = h("section.card", null, h("h2", null, title));
  if (r.status === "rejected") el.appendChild(errorBox(r.reason));
  else append(el, body(r.value) as Node[]);
  return el;
}

/** Executions per hour over the last 24 hours, failures stacked in red. */
function chart(execs: Execution[], since: Date): HTMLElement {
  const ok = new Array<number>(24).fill(0);
  const bad = new Array<number>(24).fill(0);
  for (const e of execs) {
    const i = Math.min(23, Math.floor((new Date(e.created_at).getTime() - since.getTime()) / 3600_000));
    if (i < 0) continue;
    if (e.status === "failed" || e.status === "needs_attention" || e.status === "cancelled") bad[i]++;
    else ok[i]++;
  }
  const top = Math.max(1, ...ok.map((n, i) => n + bad[i]));
  const bars = ok.map((n, i) => {
    const bar = h("span.bar", { title: `${n} ok, ${bad[i]} not` });
    const good = h("span.ok");
    const fail = h("span.fail");
    good.style.height = (100 * n) / top + "%";
    fail.style.height = (100 * bad[i]) / top + "%";
    bar.append(fail, good);
    return bar;
  });
  return h("div.chart", { "aria-label": "executions per hour" }, bars);
}

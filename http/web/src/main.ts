// The interface's shell: who is signed in, the navigation their role
// allows, and a small router over history.pushState.
import { get, logout, whenUnauthorized, type Me, type Role } from "./api";
import { h, replace, errorBox, spinner } from "./dom";
import { loginPage } from "./pages/login";
import { overviewPage } from "./pages/overview";
import { connectionsPage, connectionPage } from "./pages/connections";
import { askPage } from "./pages/ask";
import { executionsPage, executionPage } from "./pages/executions";
import { auditPage } from "./pages/audit";
import { adminPage } from "./pages/admin";
import { accountPage } from "./pages/account";

/** What a page gets: the caller, its route parameters and the page area. */
export interface Context {
  me: Me;
  params: string[];
  query: URLSearchParams;
  main: HTMLElement;
  navigate: (path: string) => void;
  /** Set by a page to be told when it is left (closing an event stream). */
  onLeave: (f: () => void) => void;
}

interface Route {
  pattern: RegExp;
  title: string;
  nav?: string;
  roles?: Role[];
  render: (ctx: Context) => Promise<void> | void;
}

const routes: Route[] = [
  { pattern: /^\/$/, title: "Overview", nav: "/", render: overviewPage },
  { pattern: /^\/connections$/, title: "Connections", nav: "/connections", render: connectionsPage },
  { pattern: /^\/connections\/([^/]+)$/, title: "Connection", render: connectionPage },
  { pattern: /^\/ask$/, title: "Ask", nav: "/ask", render: askPage },
  { pattern: /^\/ask\/([^/]+)$/, title: "Plan", render: askPage },
  { pattern: /^\/executions$/, title: "Executions", nav: "/executions", render: executionsPage },
  { pattern: /^\/executions\/([^/]+)$/, title: "Execution", render: executionPage },
  { pattern: /^\/audit$/, title: "Audit", nav: "/audit", roles: ["AUDITOR", "ADMIN"], render: auditPage },
  { pattern: /^\/admin$/, title: "Admin", nav: "/admin", roles: ["ADMIN"], render: adminPage },
  { pattern: /^\/account$/, title: "Account", render: accountPage },
];

const root = document.getElementById("app")!;
let me: Me | null = null;
let leave: (() => void)[] = [];

function navigate(path: string): void {
  if (path !== location.pathname + location.search) history.pushState(null, "", path);
  void render();
}

async function render(): Promise<void> {
  for (const f of leave) f();
  leave = [];
  if (!me) {
    try {
      me = await get<Me>("/v1/me");
    } catch {
      me = null;
    }
  }
  if (!me) {
    document.title = "Sign in · APIQ";
    loginPage(root, async () => {
      me = null;
      await render();
    });
    return;
  }
  const path = location.pathname;
  shown = path + location.search;
  const route = routes.find((r) => r.pattern.test(path) && (!r.roles || r.roles.includes(me!.user.role)));
  const main = h("main");
  replace(root, shell(me, path), main);
  if (!route) {
    document.title = "Not found · APIQ";
    replace(main, h("h1", null, "Not found"), h("p", null, "This page does not exist, or your role may not see it."));
    return;
  }
  document.title = route.title + " · APIQ";
  const ctx: Context = {
    me,
    params: (path.match(route.pattern) ?? []).slice(1).map(decodeURIComponent),
    query: new URLSearchParams(location.search),
    main,
    navigate,
    onLeave: (f) => leave.push(f),
  };
  main.appendChild(spinner("Loading…"));
  try {
    await route.render(ctx);
  } catch (err) {
    main.appendChild(errorBox(err));
  } finally {
    main.querySelector(":scope > .progress")?.remove();
  }
}

function shell(me: Me, path: string): HTMLElement {
  const links = routes
    .filter((r) => r.nav && (!r.roles || r.roles.includes(me.user.role)))
    .map((r) => {
      const active = r.nav === "/" ? path === "/" : path.startsWith(r.nav!);
      return h("a", { href: r.nav!, class: active ? "active" : undefined, "data-nav": r.title }, r.title);
    });
  return h(
    "header",
    null,
    h("a.brand", { href: "/" }, "APIQ"),
    h("nav", null, links),
    h(
      "span.who",
      null,
      h("a#account", { href: "/account" }, me.user.email),
      " ",
      h("span.badge", { class: "role" }, me.user.role),
      " ",
      h("button.link", {
        type: "button",
        id: "logout",
        onclick: async () => {
          try {
            await logout();
          } finally {
            leaveSession();
          }
        },
      }, "Sign out"),
    ),
  );
}

function leaveSession(): void {
  me = null;
  history.pushState(null, "", "/");
  void render();
}

// In-app links: any same-origin <a> without a target or download, outside /v1/.
document.addEventListener("click", (ev) => {
  const a = (ev.target as Element).closest?.("a");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("/v1/") || a.target || a.hasAttribute("download")) return;
  ev.preventDefault();
  navigate(href);
});
// Back and forward render again; a change of the #fragment alone does not.
let shown = "";
window.addEventListener("popstate", () => {
  if (location.pathname + location.search !== shown) void render();
});
whenUnauthorized(() => {
  if (me) leaveSession();
});
void render();

/** Rendering a screen as the app does (theme, data cache, session, router) for tests. */
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { RouterProvider, createMemoryRouter } from "react-router";
import { AppProviders, makeQueryClient } from "../Providers";

export function renderWithApp(ui: ReactElement, { route = "/" }: { route?: string | { pathname: string; state: unknown } } = {}) {
  const client = makeQueryClient();
  client.setDefaultOptions({ queries: { retry: false } });
  const router = createMemoryRouter(
    [{ path: "*", element: <AppProviders client={client} env="test">{ui}</AppProviders> }],
    { initialEntries: [route] },
  );
  return render(<RouterProvider router={router} />);
}

/** A fake `fetch` answering by "METHOD /path" with JSON (status 200 unless given). */
export function fakeApi(routes: Record<string, unknown | { status: number; body: unknown }>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fetch = async (input: Request | string | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const text = request.method === "GET" ? "" : await request.text();
    calls.push({ method: request.method, path: url.pathname + url.search, body: text ? JSON.parse(text) : undefined });
    const key = `${request.method} ${url.pathname}`;
    if (!(key in routes)) return new Response(JSON.stringify({ title: "Not Found", status: 404, detail: key }), { status: 404, headers: { "content-type": "application/problem+json" } });
    const route = routes[key];
    const { status, body } = typeof route === "object" && route !== null && "status" in route && "body" in route
      ? (route as { status: number; body: unknown })
      : { status: 200, body: route };
    const type = status >= 400 ? "application/problem+json" : "application/json";
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "content-type": type } });
  };
  return { fetch, calls };
}

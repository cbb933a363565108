/** The typed API client: generated path types (schema.d.ts) plus the session token. */
import createClient, { type Middleware } from "openapi-fetch";
import { problemFrom } from "./problem";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

const TOKEN_KEY = "vocals.token";
/** Fired when the API refuses our token, so the app can return to the login page. */
export const UNAUTHORIZED_EVENT = "vocals:unauthorized";

export const tokenStore = {
  get: (): string | null => window.localStorage.getItem(TOKEN_KEY),
  set: (token: string): void => window.localStorage.setItem(TOKEN_KEY, token),
  clear: (): void => window.localStorage.removeItem(TOKEN_KEY),
};

const auth: Middleware = {
  onRequest({ request }) {
    const token = tokenStore.get();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.endsWith("/api/v1/auth/login")) {
      tokenStore.clear();
      window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  // Looked up per request so tests can replace the global fetch.
  fetch: (request) => globalThis.fetch(request),
});
api.use(auth);

/** Fetch an authenticated binary resource (e.g. a recording) as an object URL, with its size and type. */
export async function fetchBlobUrl(path: string): Promise<{ url: string; bytes: number; type: string }> {
  const token = tokenStore.get();
  const response = await globalThis.fetch(new URL(path, window.location.origin), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!response.ok) throw problemFrom(response, await response.json().catch(() => null));
  const blob = await response.blob();
  return { url: URL.createObjectURL(blob), bytes: blob.size, type: blob.type };
}

/** Download an authenticated file (an export) under the name the server gives it. */
export async function downloadFile(path: string, fallbackName: string): Promise<void> {
  const token = tokenStore.get();
  const response = await globalThis.fetch(new URL(path, window.location.origin), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!response.ok) throw problemFrom(response, await response.json().catch(() => null));
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

// The API client. The access token lives in memory only and is refreshed before it expires and
// again on a 401; the refresh token lives in an HttpOnly cookie scoped to the refresh route,
// which this code never sees (docs/security.md).

const CSRF = { "X-Veza-CSRF": "1" };
// Whether this browser signed in (the cookie itself is out of the page's reach): without it no
// refresh is tried at start, which could only fail.
const SIGNED_IN = "veza.signed-in";

/** An absolute URL of one of Veza's routes, under the page's base (a path prefix works). */
export const url = (path) => new URL(path.replace(/^\//, ""), document.baseURI).href;

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const state = { access: null, expiresAt: 0, timer: 0, refreshing: null, user: null };
const listeners = new Set();
/** Counters the browser tests read. */
export const stats = { refreshes: 0, failedRefreshes: 0, retried: 0 }; // retried: after a 401

export const currentUser = () => state.user;

/** Call `fn(user | null)` whenever the person signs in or out. */
export function onAuthChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function granted(body) {
  const changed = !state.user || state.user.id !== body.user.id;
  localStorage.setItem(SIGNED_IN, "1");
  state.access = body.access_token;
  state.user = body.user;
  // Refresh a little before expiry: a quarter of the lifetime early, at most a minute.
  const lifetime = body.expires_in * 1000;
  state.expiresAt = Date.now() + lifetime;
  clearTimeout(state.timer);
  state.timer = setTimeout(() => refresh().catch(() => {}), lifetime - Math.min(60000, lifetime / 4));
  if (changed) for (const fn of listeners) fn(state.user);
}

function signedOut() {
  const was = state.user;
  localStorage.removeItem(SIGNED_IN);
  clearTimeout(state.timer);
  Object.assign(state, { access: null, expiresAt: 0, user: null });
  if (was) for (const fn of listeners) fn(null);
}

async function errorOf(response) {
  let code = "error";
  let message = `Veza answered ${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch {
    // not our JSON error shape (a proxy's page): the status says it
  }
  const retry = response.headers.get("Retry-After");
  if (code === "rate_limited" && retry) message += ` (try again in ${retry} s)`;
  return new ApiError(response.status, code, message, retry && Number(retry));
}

async function send(path, init) {
  try {
    return await fetch(url(path), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "Veza cannot be reached: check the connection and try again");
  }
}

/** A new access token from the refresh cookie; one refresh at a time however many ask. */
export function refresh() {
  if (!state.refreshing) {
    state.refreshing = (async () => {
      try {
        const response = await send("api/v1/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json", ...CSRF },
          body: "{}",
          credentials: "same-origin",
        });
        if (!response.ok) {
          const error = await errorOf(response);
          if (response.status === 401 || response.status === 403) signedOut();
          stats.failedRefreshes += 1;
          throw error;
        }
        stats.refreshes += 1;
        granted(await response.json());
        return state.access;
      } finally {
        state.refreshing = null;
      }
    })();
  }
  return state.refreshing;
}

/**
 * After a 401 answered to a request sent with `sent`: the token to try again with. However many
 * requests fail together, one refresh serves them all: one in flight is awaited, and a token
 * already replaced since `sent` is used as it is (its refresh spent the cookie once).
 */
function renewed(sent) {
  if (state.refreshing) return state.refreshing;
  if (state.access && state.access !== sent) return Promise.resolve(state.access);
  return refresh();
}

/** The access token, refreshed first when it is about to expire. */
export async function token() {
  if (!state.access || Date.now() > state.expiresAt - 2000) await refresh();
  return state.access;
}

/**
 * Call the API: `api("GET", "api/v1/tracks", {query: {q}})`. Resolves to the JSON body (null
 * for 204), rejects with an ApiError whose message speaks to people. A 401 refreshes the token
 * and tries once more. `body` (a Blob, a FormData) is sent as it is, with `type` as its
 * Content-Type when given (a FormData sets its own).
 */
export async function api(method, path, { json, body, type, query, signal, auth = true, keepalive = false, headers: extra = {} } = {}) {
  let target = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    if ([...params].length) target += `?${params}`;
  }
  for (let attempt = 0; ; attempt += 1) {
    const headers = { ...extra };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    else if (type) headers["Content-Type"] = type;
    const sent = auth ? await token() : null;
    if (auth) headers.Authorization = `Bearer ${sent}`;
    const response = await send(target, {
      method,
      headers,
      body: json === undefined ? body : JSON.stringify(json),
      signal,
      keepalive,
      credentials: "same-origin",
    });
    if (response.status === 401 && auth && attempt === 0) {
      stats.retried += 1;
      await renewed(sent);
      continue;
    }
    if (!response.ok) throw await errorOf(response);
    return response.status === 204 ? null : response.json();
  }
}

export async function signIn(login, password) {
  granted(await api("POST", "api/v1/auth/login", { json: { login, password, refresh_cookie: true }, auth: false }));
}

export async function signUp(email, username, password) {
  granted(
    await api("POST", "api/v1/auth/register", {
      json: { email, username, password, refresh_cookie: true },
      auth: false,
    }),
  );
}

export async function signOut() {
  try {
    await api("POST", "api/v1/auth/logout");
  } finally {
    signedOut();
  }
}

/** At start: a session from the cookie, if the browser has one. */
export async function resume() {
  if (!localStorage.getItem(SIGNED_IN)) return false;
  try {
    await refresh();
    return true;
  } catch {
    return false;
  }
}

/**
 * Upload one file with XMLHttpRequest, whose upload progress fetch does not report.
 * `onProgress(sent, total)`; `fields` are more form fields (visibility, tags); resolves to the
 * track JSON.
 */
export function upload(file, onProgress, { signal, fields = {} } = {}) {
  const once = (access) =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url("api/v1/tracks"));
      xhr.setRequestHeader("Authorization", `Bearer ${access}`);
      xhr.responseType = "json";
      xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve(xhr.response);
        const body = xhr.response;
        const error = body && body.error;
        reject(
          new ApiError(
            xhr.status,
            error ? error.code : "error",
            error ? error.message : `Veza answered ${xhr.status} to the upload`,
          ),
        );
      };
      xhr.onerror = () => reject(new ApiError(0, "network", "the upload was cut off: check the connection"));
      xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
      if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) if (value) form.append(name, value);
      form.append("file", file, file.name);
      xhr.send(form);
    });
  return token().then(async (access) => {
    try {
      return await once(access);
    } catch (error) {
      if (error.status !== 401) throw error;
      stats.retried += 1;
      return once(await renewed(access));
    }
  });
}

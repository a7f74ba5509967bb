// api.js - talking to triage-api: the key (sessionStorage), JSON requests,
// error messages, and which routes this server has.

const KEY_STORE = 'triage.apiKey';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export const session = {
  auth: false,
  role: null,
  routes: new Set(),
  taxonomy: { topic_tags: [], sentiment: [], priority: [] },
};

export function getKey() {
  return sessionStorage.getItem(KEY_STORE) || '';
}
export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = getKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorOf(res) {
  let code = 'http', message = `${res.status} ${res.statusText}`, field;
  try {
    const j = await res.json();
    if (j && j.error) ({ code, message, field } = j.error);
  } catch (_) { /* not JSON */ }
  return new ApiError(res.status, code, message, field);
}

/** GET/POST/PUT JSON. Resolves with the parsed body (null for 204). */
export async function api(method, path, body, opts = {}) {
  const init = { method, headers: headers(opts.headers), signal: opts.signal };
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Blob) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

/** True if this server has the route ("GET /api/analytics"). */
export function has(route) {
  return session.routes.has(route);
}

const ROLES = { viewer: 1, operator: 2, admin: 3 };
/** True if the current key's role is at least `role`. */
export function can(role) {
  return (ROLES[session.role] || 0) >= ROLES[role];
}

/** Loads /api/session; false when the key was refused (401). */
export async function loadSession() {
  try {
    const s = await api('GET', '/api/session');
    session.auth = !!s.auth;
    session.role = s.role;
    session.routes = new Set(s.routes || []);
    session.taxonomy = s.taxonomy || session.taxonomy;
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

/** Uploads a file with upload progress (XHR: fetch has none);
 * onProgress(loadedBytes, totalBytes). Resolves with ingest's report, also
 * when its status says some rows failed (422/503 with a report). */
export function uploadFile(path, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    const h = headers({ 'Content-Type': contentType });
    for (const k of Object.keys(h)) xhr.setRequestHeader(k, h[k]);
    xhr.upload.onprogress = (ev) => { if (onProgress) onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size); };
    xhr.onload = () => {
      let j = null;
      try { j = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if ((xhr.status >= 200 && xhr.status < 300) || (j && Array.isArray(j.results) && j.total > 1)) resolve(j);
      else {
        const e = (j && j.error) || {};
        reject(new ApiError(xhr.status, e.code, e.message || `HTTP ${xhr.status}`, e.field));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the server could not be reached'));
    xhr.send(file);
  });
}

// Herald's public API as the load tests use it: register, log in, connect a sandbox account,
// schedule and read posts. Every request carries a `name` tag (the route pattern), so the
// end-of-test summary and the thresholds group by route, not by URL with ids in it.

import http from 'k6/http';
import { check, fail } from 'k6';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** The response body as JSON (typed `any` for the checker: Herald's views are plain objects). */
function body(res) {
  return /** @type {any} */ (res.json());
}

export class Api {
  constructor(baseUrl) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  post(path, name, body, token, expected) {
    const res = http.post(`${this.base}${path}`, JSON.stringify(body), {
      headers: token ? { ...JSON_HEADERS, Authorization: `Bearer ${token}` } : JSON_HEADERS,
      tags: { name },
    });
    check(res, { [`${name} is ${expected}`]: (r) => r.status === expected });
    return res;
  }

  get(path, name, token) {
    const res = http.get(`${this.base}${path}`, {
      headers: { Authorization: `Bearer ${token}` },
      tags: { name },
    });
    check(res, { [`${name} is 200`]: (r) => r.status === 200 });
    return res;
  }

  /** Creates a tenant and its owner; `{tenant_id, user_id}` or fails the test (setup). */
  register(tenantName, email, password) {
    const res = this.post('/v1/auth/register', 'POST /v1/auth/register',
      { tenant_name: tenantName, email, password }, null, 201);
    if (res.status !== 201) fail(`register ${email}: ${res.status} ${res.body}`);
    return body(res);
  }

  /** A new session: `{token, expiresAt}` (ms since the epoch), or null. */
  login(email, password) {
    const res = this.post('/v1/auth/login', 'POST /v1/auth/login', { email, password }, null, 200);
    if (res.status !== 200) return null;
    const tokens = body(res);
    return { token: tokens.access_token, expiresAt: Date.now() + tokens.expires_in * 1000 };
  }

  /** Connects the sandbox's Mastodon account named by `sandboxToken`; its id, or null. */
  connectMastodon(token, instanceUrl, sandboxToken) {
    const res = this.post('/v1/accounts', 'POST /v1/accounts',
      { platform: 'mastodon', instance_url: instanceUrl, access_token: sandboxToken }, token, 201);
    return res.status === 201 ? body(res).id : null;
  }

  /** Schedules a post; the created post view, or null. */
  schedulePost(token, text, scheduledAt, accountIds) {
    const res = this.post('/v1/posts', 'POST /v1/posts',
      { text, scheduled_at: scheduledAt, account_ids: accountIds }, token, 201);
    return res.status === 201 ? body(res) : null;
  }

  /** One post, read back; `name` separates the first read from the polling that follows. */
  getPost(token, id, name = 'GET /v1/posts/{id}') {
    const res = this.get(`/v1/posts/${id}`, name, token);
    return res.status === 200 ? body(res) : null;
  }

  listPosts(token) {
    return this.get('/v1/posts?limit=20', 'GET /v1/posts', token);
  }

  listAccounts(token) {
    return this.get('/v1/accounts', 'GET /v1/accounts', token);
  }

  notifications(token) {
    return this.get('/v1/notifications', 'GET /v1/notifications', token);
  }

  usage(token) {
    return this.get('/v1/usage', 'GET /v1/usage', token);
  }
}

/** Milliseconds since the epoch of an RFC 3339 time with any number of fractional digits. */
export function parseTime(text) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text || '');
  if (!m) return NaN;
  const millis = (m[2] || '').slice(0, 3).padEnd(3, '0');
  return Date.parse(`${m[1]}.${millis}${m[3]}`);
}

/** The whole second at least `secs` seconds from now, as RFC 3339 (the publisher rounds up). */
export function secondsFromNow(secs) {
  return new Date(Math.ceil((Date.now() + secs * 1000) / 1000) * 1000).toISOString();
}

/** Post statuses after which nothing more happens on its own. */
export const FINAL = ['published', 'partially_published', 'failed', 'cancelled', 'held'];

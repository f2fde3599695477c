// Herald under load, the way tenants use it: a scheduled-post stream at a fixed arrival rate
// (each post read back, then followed until it is published, to measure how late), tenants
// reading their posts, accounts, notifications and usage, and new tenants signing up.
//
//   k6 run loadtests/publish.js                                   # against `heraldctl up`
//   k6 run -e BASE_URL=http://localhost:8080 -e SANDBOX_URL=http://sandbox:8700 \
//          loadtests/publish.js                                   # against docker compose
//
// loadtests/README.md lists the settings and explains which figures to read.

import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { Api, FINAL, parseTime, secondsFromNow } from './lib/herald.js';

function int(name, fallback) {
  const value = __ENV[name];
  if (value === undefined || value === '') return fallback;
  const parsed = parseInt(value, 10);
  if (!(parsed >= 0)) throw new Error(`${name}=${value} is not a non-negative integer`);
  return parsed;
}

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
// Mastodon instance URL of the sandbox as the *publisher* reaches it (it calls it, not k6).
const SANDBOX_URL = __ENV.SANDBOX_URL || 'http://127.0.0.1:8700';
const TENANTS = Math.max(1, int('TENANTS', 10));
const ACCOUNTS = Math.max(1, int('ACCOUNTS', 5)); // sandbox accounts per tenant
const POST_RATE = int('POST_RATE', 10); // scheduled posts per second
const READ_RATE = int('READ_RATE', 20); // read iterations per second
const SIGNUP_RATE = int('SIGNUP_RATE', 6); // new tenants per minute
const DURATION = __ENV.DURATION || '5m';
const LEAD_SECS = int('LEAD_SECS', 5); // how far ahead each post is scheduled
const PUBLISH_TIMEOUT_SECS = int('PUBLISH_TIMEOUT_SECS', 60);
const RUN = __ENV.RUN_ID || Date.now().toString(36);
const PASSWORD = 'k6-load-password-1';

const api = new Api(BASE_URL);

// From the post's scheduled time to its `published_at` (the platform accepted it).
const publishLateness = new Trend('publish_lateness_ms', true);
// Scheduled posts seen published in time, among all followed.
const postsPublished = new Rate('posts_published');
const postsNotPublished = new Counter('posts_not_published');

function scenario(rate, timeUnit, exec, vusPerIteration) {
  const vus = Math.max(2, Math.ceil(rate * vusPerIteration));
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit,
    duration: DURATION,
    preAllocatedVUs: vus,
    maxVUs: vus * 3,
    exec,
  };
}

const scenarios = {};
// A posting iteration lasts about LEAD_SECS plus the publish: that many VUs per arrival/s.
if (POST_RATE > 0) scenarios.schedule = scenario(POST_RATE, '1s', 'schedulePost', LEAD_SECS + 3);
if (READ_RATE > 0) scenarios.browse = scenario(READ_RATE, '1s', 'browse', 0.5);
if (SIGNUP_RATE > 0) scenarios.signup = scenario(SIGNUP_RATE, '1m', 'signup', 0.1);

export const options = {
  scenarios,
  setupTimeout: '5m',
  thresholds: {
    // Anything but the expected status counts (a 429 too: switch the rate limits off, README).
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{name:POST /v1/posts}': ['p(95)<500'],
    'http_req_duration{name:GET /v1/posts/{id}}': ['p(95)<250'],
    'http_req_duration{scenario:browse}': ['p(95)<300'],
    // Argon2id by design: slow, but bounded.
    'http_req_duration{name:POST /v1/auth/login}': ['p(95)<1500'],
    publish_lateness_ms: ['p(95)<2000', 'p(99)<5000'],
    posts_published: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

/** Registers TENANTS tenants, each with ACCOUNTS connected sandbox accounts, and logs each in. */
export function setup() {
  const tenants = [];
  for (let t = 0; t < TENANTS; t++) {
    const email = `k6-${RUN}-${t}@load.herald.local`;
    api.register(`k6 ${RUN} ${t}`, email, PASSWORD);
    const session = api.login(email, PASSWORD);
    if (!session) throw new Error(`login ${email} failed`);
    const accounts = [];
    for (let a = 0; a < ACCOUNTS; a++) {
      // Each distinct token is a distinct sandbox account (its own rate limits).
      const id = api.connectMastodon(session.token, SANDBOX_URL, `k6-${RUN}-${t}-${a}`);
      if (!id) throw new Error(`connecting account ${a} of tenant ${t} failed`);
      accounts.push(id);
    }
    tenants.push({ email, session, accounts });
  }
  return { tenants };
}

// Per VU: sessions of its own once the one from setup() is close to expiring (15 min).
const sessions = {};

function tenantFor(data) {
  // One tenant per VU, so a VU that needs a new session logs in once, not once per tenant.
  const index = (exec.vu.idInTest - 1) % data.tenants.length;
  const tenant = data.tenants[index];
  let session = sessions[index] || tenant.session;
  if (session.expiresAt - Date.now() < 60 * 1000) {
    session = api.login(tenant.email, PASSWORD) || session;
    sessions[index] = session;
  }
  return { tenant, token: session.token };
}

/** Schedules one post LEAD_SECS ahead, reads it back, then follows it until it is published. */
export function schedulePost(data) {
  const { tenant, token } = tenantFor(data);
  const iteration = exec.scenario.iterationInTest;
  const account = tenant.accounts[iteration % tenant.accounts.length];
  const scheduledAt = secondsFromNow(LEAD_SECS);
  const created = api.schedulePost(token, `k6 ${RUN} post ${iteration} at ${scheduledAt}`,
    scheduledAt, [account]);
  if (!created) return;
  const read = api.getPost(token, created.id);
  if (!read) return;

  const due = parseTime(created.scheduled_at);
  sleep(Math.max(0, (due - Date.now()) / 1000) + 0.2);
  const deadline = due + PUBLISH_TIMEOUT_SECS * 1000;
  let post = read;
  while (!FINAL.includes(post.status) && Date.now() < deadline) {
    post = api.getPost(token, created.id, 'GET /v1/posts/{id} (follow)') || post;
    if (!FINAL.includes(post.status)) sleep(0.5);
  }
  const published = post.status === 'published' && post.published_at;
  postsPublished.add(published ? 1 : 0);
  if (published) {
    publishLateness.add(parseTime(post.published_at) - due);
  } else {
    postsNotPublished.add(1);
  }
}

/** What a tenant's dashboard loads. */
export function browse(data) {
  const { token } = tenantFor(data);
  switch (exec.scenario.iterationInTest % 4) {
    case 0:
      api.listPosts(token);
      break;
    case 1:
      api.listAccounts(token);
      break;
    case 2:
      api.notifications(token);
      break;
    default:
      api.usage(token);
  }
}

/** A new tenant: register, log in (Argon2id), connect a sandbox account. */
export function signup() {
  const n = exec.scenario.iterationInTest;
  const email = `k6-${RUN}-new-${n}@load.herald.local`;
  api.register(`k6 ${RUN} new ${n}`, email, PASSWORD);
  const session = api.login(email, PASSWORD);
  if (session) api.connectMastodon(session.token, SANDBOX_URL, `k6-${RUN}-new-${n}`);
}

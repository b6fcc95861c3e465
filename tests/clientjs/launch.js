#!/usr/bin/env node
// One SMART standalone launch by client-js (npm `fhirclient`, its Node adapter) at one
// portal, with a headless patient: authorize, the portal's login and consent forms, the
// code exchange, a refresh (`client.refresh()`), a read with the refreshed token and a
// paged search (`client.request(..., {pageLimit: 0})`). Prints one JSON line; exits 1
// on failure, naming the step that failed.
//
//   node launch.js --iss <fhir base> --client-id <id> --redirect-uri <uri>
//        [--client-secret <s>] [--username alice] [--password pw] [--pkce-mode required]
//        [--search Observation] [--count 10] [--scope "..."]
"use strict";

const smart = require("fhirclient");

const DEFAULTS = {
  username: "alice",
  password: "password",
  "pkce-mode": "required",
  search: "Observation",
  count: "10",
  scope: "launch/patient openid fhirUser offline_access patient/*.read",
};
// A search answered 503 (a flaky portal) is tried again from its first page, this often.
const SEARCH_TRIES = 20;
const MAX_STEPS = 10;

function parseArgs(argv) {
  const out = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of ["iss", "client-id", "redirect-uri"]) {
    if (!out[name]) throw new Error(`--${name} is required`);
  }
  return out;
}

// The Node adapter reads the request's URL and host, keeps its state in `request.session`
// and answers through `response`; these stand for the app's own HTTP server.
function appRequest(url, session) {
  const u = new URL(url);
  return { url: u.pathname + u.search, headers: { host: u.host }, socket: {}, session };
}

function appResponse() {
  return {
    writeHead(status, headers) {
      this.status = status;
      this.headers = headers;
    },
    end() {},
  };
}

function unescapeHtml(text) {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

// The form with this id on a page: its action and its hidden fields.
function findForm(html, id) {
  const start = html.search(new RegExp(`<form[^>]*id="${id}"`));
  if (start < 0) return null;
  const end = html.indexOf("</form>", start);
  const form = html.slice(start, end < 0 ? undefined : end);
  const action = /action="([^"]*)"/.exec(form);
  const fields = {};
  for (const m of form.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0]);
    const value = /value="([^"]*)"/.exec(m[0]);
    if (name) fields[unescapeHtml(name[1])] = value ? unescapeHtml(value[1]) : "";
  }
  return { action: action ? unescapeHtml(action[1]) : "", fields };
}

// The patient's browser: follows redirects, signs in and approves, and stops at the
// redirect to the app (answers that URL).
async function patientBrowser(authorizeUrl, redirectUri, username, password) {
  let url = authorizeUrl;
  let init = { method: "GET" };
  const trail = [];
  for (let step = 0; step < MAX_STEPS; step++) {
    const resp = await fetch(url, { ...init, redirect: "manual" });
    trail.push(`${init.method} ${new URL(url).pathname} -> ${resp.status}`);
    if (resp.status >= 300 && resp.status < 400) {
      const next = new URL(resp.headers.get("location"), url).href;
      if (next.startsWith(redirectUri)) return { callback: next, trail };
      url = next;
      init = { method: "GET" };
      continue;
    }
    const html = await resp.text();
    const login = findForm(html, "login-form");
    const consent = login ? null : findForm(html, "consent-form");
    const form = login || consent;
    if (resp.status !== 200 || form === null) {
      throw new Error(`the portal answered ${resp.status} without a form at ${url}: ${trail}`);
    }
    const fields = login
      ? { ...form.fields, username, password }
      : { ...form.fields, decision: "approve" };
    url = new URL(form.action, url).href;
    init = {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    };
  }
  throw new Error(`no redirect to the app after ${MAX_STEPS} steps: ${trail}`);
}

async function pagedSearch(client, query) {
  for (let attempt = 1; ; attempt++) {
    const pages = [];
    try {
      // every page, following `next`; each Bundle handed to onPage as it arrives
      await client.request(query, { pageLimit: 0, onPage: (bundle) => pages.push(bundle) });
      const resources = pages.flatMap((b) => (b.entry || []).map((e) => e.resource));
      return { resources, pages, attempts: attempt };
    } catch (err) {
      if (err.status !== 503 || attempt >= SEARCH_TRIES) throw err;
    }
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const session = {};
  const redirectUri = args["redirect-uri"];
  let step = "authorize";
  try {
    const options = {
      iss: args.iss,
      clientId: args["client-id"],
      redirectUri,
      scope: args.scope,
      pkceMode: args["pkce-mode"],
      noRedirect: true,
    };
    if (args["client-secret"]) options.clientSecret = args["client-secret"];
    const launchUrl = new URL("launch", redirectUri).href;
    const authorizeUrl = await smart(appRequest(launchUrl, session), appResponse()).authorize(
      options,
    );
    const sent = new URL(authorizeUrl).searchParams;

    step = "login and consent";
    const { callback, trail } = await patientBrowser(
      authorizeUrl,
      redirectUri,
      args.username,
      args.password,
    );
    const back = new URL(callback).searchParams;
    if (back.get("error")) {
      throw new Error(`the portal sent ${back.get("error")}: ${back.get("error_description")}`);
    }

    step = "code exchange";
    const client = await smart(appRequest(callback, session), appResponse()).ready();
    const first = { ...client.state.tokenResponse };
    const patient = client.getPatientId();
    if (!first.access_token || !patient) throw new Error("no access token or patient");

    step = "refresh";
    await client.refresh();
    const refreshed = client.state.tokenResponse;
    if (!refreshed.access_token || refreshed.access_token === first.access_token) {
      throw new Error("the refresh answered no new access token");
    }

    step = "read with the refreshed token";
    const me = await client.request(`Patient/${encodeURIComponent(patient)}`);

    step = "paged search";
    const query = `${args.search}?patient=${encodeURIComponent(patient)}&_count=${args.count}`;
    const { resources, pages, attempts } = await pagedSearch(client, query);
    const ids = resources.map((r) => `${r.resourceType}/${r.id}`);
    console.log(
      JSON.stringify({
        ok: true,
        iss: args.iss,
        pkce_sent: sent.get("code_challenge_method") === "S256" && !!sent.get("code_challenge"),
        trail,
        patient,
        patient_read: `${me.resourceType}/${me.id}`,
        scope: first.scope,
        had_refresh_token: !!first.refresh_token,
        refreshed: true,
        search: {
          type: args.search,
          pages: pages.length,
          attempts,
          total: pages.length ? pages[0].total : null,
          resources: resources.length,
          distinct: new Set(ids).size,
          types: [...new Set(resources.map((r) => r.resourceType))],
        },
      }),
    );
  } catch (err) {
    console.log(JSON.stringify({ ok: false, step, error: String((err && err.message) || err) }));
    process.exitCode = 1;
  }
}

main();

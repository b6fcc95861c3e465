// A Medblocks Connect webhook receiver using only the Node.js standard library.
//
//   CONNECT_SIM_WEBHOOK_SECRET=whsec_... node examples/receivers/node_receiver.js 8789
//
// The port and secret come from argv (`PORT [SECRET]`) or the environment (`PORT`,
// `CONNECT_SIM_WEBHOOK_SECRET`); port 0 picks a free one. Once listening it prints
// `ready http://127.0.0.1:<port>/`.
//
// Per the delivery contract it verifies `Medblocks-Signature: t=<unix>,v1=<hex>`
// over the raw body (HMAC-SHA256 of "<t>.<body>" keyed with the whsec_ secret,
// constant-time compare, timestamp within 300 s), answers 400 otherwise; answers
// 200 at once and handles the event afterwards; acknowledges a repeated event id
// without handling it again; acknowledges and ignores unknown event types.
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");

const HEADER = "medblocks-signature";
const TOLERANCE_SECONDS = 300;
const MAX_BODY_BYTES = 1000000;
const REMEMBERED_EVENTS = 100000;
const KNOWN_TYPES = new Set([
  "patient_session.completed",
  "connection.token_refresh_failed",
  "records.sync.completed",
  "records.sync.failed",
]);

class SignatureError extends Error {}

function verify(raw, header, secret, nowSeconds) {
  if (!header) throw new SignatureError("no Medblocks-Signature header");
  let timestamp = null;
  const digests = [];
  for (const part of header.split(",")) {
    const [key, ...rest] = part.trim().split("=");
    const value = rest.join("=");
    if (key === "t" && /^[0-9]+$/.test(value)) timestamp = Number(value);
    else if (key === "v1") digests.push(value.trim().toLowerCase());
  }
  if (timestamp === null || digests.length === 0) {
    throw new SignatureError("malformed signature header");
  }
  if (Math.abs(nowSeconds - timestamp) > TOLERANCE_SECONDS) {
    throw new SignatureError("timestamp outside the tolerance");
  }
  const expected = crypto
    .createHmac("sha256", secret)
    .update(Buffer.concat([Buffer.from(`${timestamp}.`), raw]))
    .digest("hex");
  const wanted = Buffer.from(expected);
  let matched = false;
  for (const digest of digests) {
    const given = Buffer.from(digest);
    // timingSafeEqual needs equal lengths; a digest of another length cannot match
    if (given.length === wanted.length && crypto.timingSafeEqual(given, wanted)) matched = true;
  }
  if (!matched) throw new SignatureError("no matching signature");
  let event;
  try {
    event = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new SignatureError("the body is not JSON");
  }
  if (event === null || typeof event !== "object" || typeof event.id !== "string") {
    throw new SignatureError("the body is not an event");
  }
  return event;
}

function handle(event) {
  // The application's work for one event (here: a log line).
  const obj = (event.data && event.data.object) || {};
  console.log(`handled ${event.type} ${event.id} patient=${obj.patient_id}`);
}

function makeServer(secret) {
  const seen = new Set();
  const answer = (res, status, body) => {
    const data = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(data),
    });
    res.end(data);
  };
  return http.createServer((req, res) => {
    if (req.method !== "POST") return answer(res, 405, { error: "POST only" });
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (tooBig) return answer(res, 413, { error: "body too large" });
      let event;
      try {
        event = verify(Buffer.concat(chunks), req.headers[HEADER], secret, Date.now() / 1000);
      } catch (err) {
        if (err instanceof SignatureError) return answer(res, 400, { error: err.message });
        return answer(res, 500, { error: "internal error" });
      }
      if (seen.has(event.id)) return answer(res, 200, { received: true, duplicate: true });
      seen.add(event.id);
      if (seen.size > REMEMBERED_EVENTS) seen.delete(seen.values().next().value);
      answer(res, 200, { received: true });
      if (KNOWN_TYPES.has(event.type)) {
        setImmediate(() => {
          try {
            handle(event);
          } catch (err) {
            console.error(`failed ${event.id}: ${err.message}`);
          }
        });
      }
    });
  });
}

function main(argv) {
  const portText = argv[2] !== undefined ? argv[2] : process.env.PORT || "8789";
  const secret = argv[3] !== undefined ? argv[3] : process.env.CONNECT_SIM_WEBHOOK_SECRET || "";
  if (!/^[0-9]+$/.test(portText) || Number(portText) > 65535) {
    console.error(`the port must be a number from 0 to 65535, not '${portText}'`);
    return 2;
  }
  if (!secret.startsWith("whsec_")) {
    console.error("set the signing secret (whsec_...) in CONNECT_SIM_WEBHOOK_SECRET");
    return 2;
  }
  const host = process.env.HOST || "127.0.0.1";
  const server = makeServer(secret);
  server.listen(Number(portText), host, () => {
    console.log(`ready http://${host}:${server.address().port}/`);
  });
  return null;
}

const code = main(process.argv);
if (code !== null) process.exitCode = code;

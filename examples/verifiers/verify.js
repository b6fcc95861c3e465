// Verify a Medblocks-Signature header (Node standard library only).
//
//   MEDBLOCKS_SIGNATURE='t=…,v1=…' MEDBLOCKS_WEBHOOK_SECRET=whsec_… node verify.js body.json
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");

const TOLERANCE_S = 300;

// Throws Error(reason) unless `header` signs the raw `payload` (a Buffer) with `secret`.
function verify(payload, header, secret, now = Date.now() / 1000) {
  let timestamp = null;
  const signatures = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split(/=(.*)/s);
    if (key === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === "v1") signatures.push(value);
  }
  if (timestamp === null || signatures.length === 0) throw new Error("malformed_header");
  if (Math.abs(now - timestamp) > TOLERANCE_S) throw new Error("timestamp_outside_tolerance");
  const expected = crypto
    .createHmac("sha256", secret)
    .update(`${timestamp}.`)
    .update(payload)
    .digest("hex");
  const matches = signatures.some(
    (sig) =>
      sig.length === expected.length &&
      crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected)),
  );
  if (!matches) throw new Error("no_matching_signature");
}

module.exports = { verify };

if (require.main === module) {
  const raw = fs.readFileSync(process.argv[2]);
  try {
    verify(raw, process.env.MEDBLOCKS_SIGNATURE, process.env.MEDBLOCKS_WEBHOOK_SECRET);
  } catch (err) {
    console.log(`invalid: ${err.message}`);
    process.exit(1);
  }
  console.log("ok");
}

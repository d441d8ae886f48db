// Sends events with the npm `fluent-logger` package (3.4.1), a Forward client written
// elsewhere, in PackedForward and CompressedPackedForward mode, with and without acks.
//
// Usage: node fluent_logger_client.js HOST PORT COUNT
//
// For each of the four (mode, ack) combinations it emits COUNT events with tag
// `npm.<mode>.<ack|noack>` and record {"n": i, "mode": <mode>}, at time 1700000000 + i seconds
// (integer seconds), waits for every callback, and closes. This client sets options.size to
// the payload's byte length, not the number of entries. tests/forward_input.rs runs it and
// checks the exact lines at /logs. Exits non-zero if any emit reported an error.
'use strict';
const logger = require('fluent-logger');

const [host, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];

function run(mode, ack) {
  return new Promise((resolve, reject) => {
    const sender = logger.createFluentSender('npm', {
      host, port, timeout: 10.0, eventMode: mode, requireAckResponse: ack,
      ackResponseTimeout: 10000, enableReconnect: false,
    });
    sender.on('error', reject);
    const label = `${mode}.${ack ? 'ack' : 'noack'}`;
    let pending = count;
    for (let i = 0; i < count; i++) {
      sender.emit(label, { n: i, mode }, 1700000000 + i, (err) => {
        if (err) { reject(err); return; }
        pending -= 1;
        if (pending === 0) { sender.end(null, null, resolve); }
      });
    }
  });
}

(async () => {
  for (const mode of ['PackedForward', 'CompressedPackedForward']) {
    for (const ack of [true, false]) {
      await run(mode, ack);
    }
  }
})().catch((err) => { console.error(`fluent-logger failed: ${err}`); process.exit(1); });

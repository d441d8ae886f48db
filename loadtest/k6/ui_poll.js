// The Vivo UI's poll: GET /logs?from=END-110, END being the Vivo-Stream-End-ID of the previous
// answer (the UI shows the newest 111 chunks and follows the stream). Closed loop, no think time.
//
//   k6 run -e VUS=64 -e DURATION=30s -e P99_MS=50 --summary-export ui.json loadtest/k6/ui_poll.js
//
// While the stream grows, an answer to from=END-110 holds the 111 chunks asked for plus every
// chunk that arrived since the previous poll, so answers are larger than on an idle stream. With
// KEEP_WINDOW=1 each VU asks for from=END-110+G instead, G being its running average of the
// chunks that arrived between two of its polls, so answers hold 111 chunks on average whether the
// stream grows or not (on an idle stream G is 0 and the request is the same as without it). The
// `answer_entries` trend reports the chunks per answer either way.
//
// Environment: BASE_URL, STREAM (lib.js), VUS (64), DURATION (30s), WINDOW (110), KEEP_WINDOW
// (0), P99_MS (100).
import http from 'k6/http';
import { check } from 'k6';
import { Trend } from 'k6/metrics';
import { endpoint, headerInt, coordinates, thresholds, trendStats } from './lib.js';

const WINDOW = Number(__ENV.WINDOW || 110);
const KEEP_WINDOW = __ENV.KEEP_WINDOW === '1';
const answerEntries = new Trend('answer_entries');

export const options = {
  vus: Number(__ENV.VUS || 64),
  duration: __ENV.DURATION || '30s',
  discardResponseBodies: true,
  summaryTrendStats: trendStats,
  thresholds: thresholds(Number(__ENV.P99_MS || 100)),
};

export function setup() {
  return coordinates();
}

// Each VU is one UI tab with its own idea of END, and of how fast the stream grows (chunks per
// poll, a running average).
let end = null;
let growth = 0;

export default function (stream) {
  if (end === null) {
    end = stream.end;
  }
  const ahead = KEEP_WINDOW ? Math.min(Math.round(growth), WINDOW) : 0;
  const res = http.get(`${endpoint}?from=${end - WINDOW + ahead}`, { tags: { name: 'read' } });
  const answeredStart = headerInt(res, 'Vivo-Stream-Start-ID');
  const answeredEnd = headerInt(res, 'Vivo-Stream-End-ID');
  check(res, {
    'status is 200': (r) => r.status === 200,
    'End-ID present and not behind': () => answeredEnd !== null && answeredEnd >= end,
  });
  if (answeredStart !== null && answeredEnd !== null) {
    answerEntries.add(answeredEnd - answeredStart + 1);
  }
  if (answeredEnd !== null) {
    growth += (answeredEnd - end - growth) / 4;
    end = answeredEnd;
  }
}

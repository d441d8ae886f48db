// The Vivo UI's poll: GET /logs?from=END-110, END being the Vivo-Stream-End-ID of the previous
// answer (the UI shows the newest 111 chunks and follows the stream). Closed loop, no think time.
//
//   k6 run -e VUS=64 -e DURATION=30s -e P99_MS=50 --summary-export ui.json loadtest/k6/ui_poll.js
//
// Environment: BASE_URL, STREAM (lib.js), VUS (64), DURATION (30s), WINDOW (110), P99_MS (100).
import http from 'k6/http';
import { check } from 'k6';
import { endpoint, headerInt, coordinates, thresholds, trendStats } from './lib.js';

const WINDOW = Number(__ENV.WINDOW || 110);

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

// Each VU is one UI tab with its own idea of END.
let end = null;

export default function (stream) {
  if (end === null) {
    end = stream.end;
  }
  const res = http.get(`${endpoint}?from=${end - WINDOW}`, { tags: { name: 'read' } });
  const answeredEnd = headerInt(res, 'Vivo-Stream-End-ID');
  check(res, {
    'status is 200': (r) => r.status === 200,
    'End-ID present and not behind': () => answeredEnd !== null && answeredEnd >= end,
  });
  if (answeredEnd !== null) {
    end = answeredEnd;
  }
}

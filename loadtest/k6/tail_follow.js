// A tail follower: GET /logs?from=NEXT, NEXT being the Vivo-Stream-Next-ID of the previous
// answer, so every entry is received exactly once. Counts the entries followed.
//
//   k6 run -e VUS=8 -e DURATION=30s -e POLL_MS=100 --summary-export tail.json loadtest/k6/tail_follow.js
//
// Environment: BASE_URL, STREAM (lib.js), VUS (8), DURATION (30s), POLL_MS (pause between
// polls, 0), P99_MS (100).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { endpoint, headerInt, coordinates, thresholds, trendStats } from './lib.js';

const POLL_MS = Number(__ENV.POLL_MS || 0);
const followed = new Counter('entries_followed');
const gaps = new Counter('entries_skipped');

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '30s',
  discardResponseBodies: true,
  summaryTrendStats: trendStats,
  thresholds: Object.assign(thresholds(Number(__ENV.P99_MS || 100)), {
    // A follower that reads fast enough never loses entries to eviction.
    entries_skipped: ['count==0'],
  }),
};

export function setup() {
  return coordinates();
}

let next = null;

export default function (stream) {
  if (next === null) {
    next = stream.next;
  }
  const res = http.get(`${endpoint}?from=${next}`, { tags: { name: 'read' } });
  const start = headerInt(res, 'Vivo-Stream-Start-ID');
  const end = headerInt(res, 'Vivo-Stream-End-ID');
  const answeredNext = headerInt(res, 'Vivo-Stream-Next-ID');
  check(res, {
    'status is 200': (r) => r.status === 200,
    'Next-ID present and not behind': () => answeredNext !== null && answeredNext >= next,
  });
  if (start !== null && end !== null) {
    followed.add(end - start + 1);
    gaps.add(Math.max(0, start - next));
  }
  if (answeredNext !== null) {
    next = answeredNext;
  }
  if (POLL_MS > 0) {
    sleep(POLL_MS / 1000);
  }
}

// Full-stream reads: GET /logs with no parameters, the whole 20 MB stream each time. The figure
// that matters is data_received's rate (bytes/s).
//
//   k6 run -e VUS=4 -e DURATION=30s --summary-export full.json loadtest/k6/full_stream.js
//
// Environment: BASE_URL, STREAM (lib.js), VUS (4), DURATION (30s), MIN_BYTES (19000000: an
// answer smaller than this fails the check, the stream is not full), P99_MS (2000).
import http from 'k6/http';
import { check } from 'k6';
import { endpoint, thresholds, trendStats } from './lib.js';

const MIN_BYTES = Number(__ENV.MIN_BYTES || 19000000);

export const options = {
  vus: Number(__ENV.VUS || 4),
  duration: __ENV.DURATION || '30s',
  discardResponseBodies: true,
  summaryTrendStats: trendStats,
  thresholds: thresholds(Number(__ENV.P99_MS || 2000)),
};

export default function () {
  const res = http.get(endpoint, { tags: { name: 'read' } });
  check(res, {
    'status is 200': (r) => r.status === 200,
    'the whole stream': (r) => Number(r.headers['Content-Length']) >= MIN_BYTES,
  });
}

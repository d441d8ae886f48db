// Random ranges: from/to/limit drawn around the stream's live IDs (some before the oldest, some
// past the newest, some absent), checking that every answer stays inside what was asked.
//
//   k6 run -e VUS=16 -e DURATION=30s --summary-export ranges.json loadtest/k6/random_ranges.js
//
// Environment: BASE_URL, STREAM (lib.js), VUS (16), DURATION (30s), P99_MS (200).
import http from 'k6/http';
import { check } from 'k6';
import { endpoint, headerInt, coordinates, thresholds, trendStats } from './lib.js';

export const options = {
  vus: Number(__ENV.VUS || 16),
  duration: __ENV.DURATION || '30s',
  discardResponseBodies: true,
  summaryTrendStats: trendStats,
  thresholds: thresholds(Number(__ENV.P99_MS || 200)),
};

export function setup() {
  return coordinates();
}

function between(low, high) {
  return low + Math.floor(Math.random() * (high - low + 1));
}

export default function (stream) {
  const params = [];
  const from = Math.random() < 0.9 ? between(stream.start - 50, stream.next + 10) : null;
  const to = Math.random() < 0.5 ? between(from === null ? stream.start : from, stream.next + 50) : null;
  const limit = Math.random() < 0.7 ? between(1, 300) : null;
  if (from !== null) params.push(`from=${from}`);
  if (to !== null) params.push(`to=${to}`);
  if (limit !== null) params.push(`limit=${limit}`);
  const res = http.get(`${endpoint}?${params.join('&')}`, { tags: { name: 'read' } });
  const start = headerInt(res, 'Vivo-Stream-Start-ID');
  const end = headerInt(res, 'Vivo-Stream-End-ID');
  check(res, {
    'status is 200': (r) => r.status === 200,
    'answer inside the range asked': () =>
      start === null ||
      ((from === null || from <= 0 || start >= from) &&
        (to === null || to <= 0 || end <= to) &&
        (limit === null || end - start + 1 <= limit) &&
        start <= end),
  });
}

// Shared by the k6 scripts: the target, the Vivo headers, the thresholds.
//
// Environment: BASE_URL (default http://127.0.0.1:2025), STREAM (logs, metrics or traces).
import http from 'k6/http';

/** The stream endpoint, e.g. http://127.0.0.1:2025/logs. */
export const endpoint = `${__ENV.BASE_URL || 'http://127.0.0.1:2025'}/${__ENV.STREAM || 'logs'}`;

/** Percentiles every summary reports (the JSON summary keeps these keys). */
export const trendStats = ['avg', 'min', 'med', 'max', 'p(90)', 'p(99)'];

/** A Vivo header as an integer, or null when absent (k6 canonicalises header names). */
export function headerInt(res, name) {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(res.headers)) {
    if (key.toLowerCase() === wanted) {
      const value = parseInt(res.headers[key], 10);
      return Number.isNaN(value) ? null : value;
    }
  }
  return null;
}

/**
 * The stream's coordinates at the start: `next`, the ID the next entry will get (from a read
 * past the end, which selects nothing), `end` the newest ID held, `start` the oldest.
 */
export function coordinates() {
  const past = http.get(`${endpoint}?from=9223372036854775807`, { tags: { name: 'setup' } });
  if (past.status !== 200) {
    throw new Error(`${endpoint}: status ${past.status}`);
  }
  // Era-C servers and ours send Next-ID; a static copy (nginx) sends the headers it was given.
  const next = headerInt(past, 'Vivo-Stream-Next-ID');
  const oldest = http.get(`${endpoint}?limit=1`, { tags: { name: 'setup' } });
  const start = headerInt(oldest, 'Vivo-Stream-Start-ID');
  const end = next === null ? headerInt(past, 'Vivo-Stream-End-ID') : next - 1;
  return { next: end + 1, end, start: start === null ? 0 : start };
}

/** Every script's pass/fail rules: under 1% failed requests and checks, and a p99 bound. */
export function thresholds(p99Ms) {
  return {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{name:read}': [`p(99)<${p99Ms}`],
  };
}

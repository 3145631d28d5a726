import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestSummary } from '../../src/api/request-summary.ts';
import { memoryLog } from '../support/memory-log.ts';

test('requests are summed up in one INFO line an interval, by status and latency; an idle interval says nothing', async () => {
  const { log, lines } = memoryLog();
  const summary = new RequestSummary(log, 50);
  try {
    for (const [status, ms] of [
      [201, 3],
      [201, 5],
      [400, 1],
      [201, 40],
      [404, 2],
    ] as const)
      summary.record(status, ms);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const info = lines.filter((line) => line.includes(' INFO  '));
    assert.equal(info.length, 1, lines.join('\n'));
    assert.match(
      info[0]!,
      /INFO {2}5 requests in the last 0 s: 201×3 400×1 404×1; p50 3 ms, p95 40 ms, max 40 ms/,
    );
    assert.match(info[0]!, /"statuses":\{"201":3,"400":1,"404":1\}/);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(lines.length, 1, 'nothing answered since: no line');
    summary.record(503, 7);
  } finally {
    summary.close();
  }
  assert.equal(lines.length, 2, 'close() flushes what is left');
  assert.match(lines[1]!, /1 requests in the last 0 s: 503×1/);
});

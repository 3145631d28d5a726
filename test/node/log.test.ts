import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { streamLogger, type StreamLoggerOptions } from '../../src/node/log.ts';

function capture(options: StreamLoggerOptions = {}, isTTY = false) {
  const lines: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().trimEnd().split('\n'));
        done();
      },
    }),
    { isTTY },
  );
  return { log: streamLogger(stream, options), lines };
}

test('not on a terminal: one JSON object a line, with level, time, component, message and details', () => {
  const { log, lines } = capture();
  log.child('block').child('writer').info('Write new block b1', { transactions: 3 });
  log.debug('not at info');
  const record = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(lines.length, 1, 'debug is below the default level');
  assert.deepEqual(Object.keys(record).sort(), ['level', 'msg', 'name', 'time', 'transactions']);
  assert.equal(record.level, 'info');
  assert.equal(record.name, 'block.writer');
  assert.equal(record.msg, 'Write new block b1');
  assert.match(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('on a terminal: readable text lines; the level is a setting', () => {
  const { log, lines } = capture({ level: 'warn' }, true);
  log.info('hidden');
  log.child('vote').warn('Voting block b1 invalid', { reason: 'x' });
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^\S+Z WARN {2}\[vote\] Voting block b1 invalid \{"reason":"x"\}$/);
});

test('errors among the details keep their type, message, stack and causes', () => {
  const { log, lines } = capture({ level: 'debug' });
  const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const outer = new Error('the election failed', { cause: inner });
  log.error('stage failed', { cause: outer, blockId: 'b1' });
  const record = JSON.parse(lines[0]!) as { cause: Record<string, unknown>; blockId: string };
  assert.equal(record.blockId, 'b1');
  assert.equal(record.cause.type, 'Error');
  assert.match(String(record.cause.message), /the election failed: connect ECONNREFUSED/);
  assert.match(String(record.cause.stack), /caused by: Error: connect ECONNREFUSED/);
});

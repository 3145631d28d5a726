import { Writable } from 'node:stream';
import { streamLogger, type Logger } from '../../src/node/log.ts';

/** A debug-level log that keeps its lines, as text, to assert on what the node reported. */
export function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().trimEnd().split('\n'));
      done();
    },
  });
  return { log: streamLogger(stream, { level: 'debug', format: 'text' }), lines };
}

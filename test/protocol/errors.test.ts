import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BigchainDBError, EncodingError } from '../../src/protocol/errors.ts';

test('BigchainDBError: details for the context, the standard Error.cause for the error behind it', () => {
  const inner = new Error('connect ECONNREFUSED');
  const error = new EncodingError('cannot read the key', { field: 'public' }, { cause: inner });
  assert.ok(error instanceof BigchainDBError);
  assert.equal(error.name, 'EncodingError');
  assert.deepEqual(error.details, { field: 'public' });
  assert.equal(error.cause, inner);
  assert.equal(new EncodingError('no cause').cause, undefined);
  assert.deepEqual(new EncodingError('no details').details, {});
});

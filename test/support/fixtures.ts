import type { Transaction } from '../../src/protocol/transaction.ts';

/** Block creation does not validate transactions, so any transaction-shaped value will do. */
export const PLACEHOLDER_TX: Transaction = {
  id: 'a'.repeat(64),
  transaction: {
    version: 1,
    fulfillments: [],
    conditions: [],
    operation: 'CREATE',
    timestamp: '1472731200',
    data: { uuid: '1ed2c8ad-7b3c-4a0e-9d51-2f0b8a6c4e11', payload: null },
  },
};

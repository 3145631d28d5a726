import type { SqlDriver } from '../../src/storage/driver.ts';
import type { Storage } from '../../src/storage/storage.ts';

/**
 * The driver under a Storage, for tests and benchmarks only: to edit rows behind the node's back (tamper
 * with a document, drop an index row, fake an old schema) or to inspect what no named query returns.
 * Everything else goes through Storage's methods. It reaches the Storage's driver whether or not the class
 * exposes it, so this stays the one place outside src/storage/ that runs SQL of its own choosing.
 */
export function rawDriver(storage: Storage): SqlDriver {
  return (storage as unknown as { readonly driver: SqlDriver }).driver;
}

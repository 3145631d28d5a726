export * from './changefeed.ts';
export * from './driver.ts';
export * from './errors.ts';
export * from './open.ts';
export { IN_MEMORY_PATH, PGliteDriver } from './pglite-driver.ts';
export { PostgresDriver, type PostgresConnection } from './postgres-driver.ts';
export { conditionOwners, DerivedRows } from './rows.ts';
export { FEED_TABLES, PARTITIONED_TABLES, type FeedTable, type PartitionedTable } from './schema.ts';
export * from './storage.ts';

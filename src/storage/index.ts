export * from './changefeed.ts';
export * from './driver.ts';
export * from './errors.ts';
export * from './open.ts';
export { EMBEDDED_USER, IN_MEMORY_PATH, LegacyEmbeddedDatabase } from './embedded-server.ts';
export { PostgresDriver, type PostgresConnection } from './postgres-driver.ts';
export { conditionOwners, DerivedRows } from './rows.ts';
export { FEED_TABLES, PARTITIONED_TABLES, type FeedTable, type PartitionedTable } from './schema.ts';
export * from './storage.ts';

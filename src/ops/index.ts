export * from './audit.ts';
export * from './backup-format.ts';
export * from './backup.ts';
export * from './cluster.ts';
export * from './prune.ts';
export * from './restore.ts';

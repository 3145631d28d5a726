// A process `bigchaindb start` forks per `server.workers` (PostgreSQL backend): it serves the HTTP API.
import { register } from 'tsx/esm/api';

register();
await import('../src/api/worker.ts');

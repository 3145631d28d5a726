import {
  createServer,
  maxHeaderSize,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { BigchainDBError, errorCode, messageOf } from '../protocol/errors.ts';
import { transactionSchema } from '../protocol/schema.ts';
import { ValidationError } from '../protocol/validation-errors.ts';
import type { Bigchain } from '../node/bigchain.ts';
import { isDatabaseUnavailable } from '../storage/errors.ts';
import type { Admission, Admitted } from '../node/admission.ts';
import { RequestSummary } from './request-summary.ts';
import { describeError, silentLogger, type Logger } from '../node/log.ts';
import { METRICS_CONTENT_TYPE, type NodeMetrics } from '../node/metrics.ts';
import type { Readiness } from '../node/node.ts';

export const API_PREFIX = '/api/v1';
const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;
/** the largest request body accepted; a 1000-fulfillment transaction is well under it */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** what a 503 tells a client to wait while the database is down or restarting */
const RETRY_AFTER_S = 2;
/** at most one WARN per this while the database is unavailable, however many requests meet it */
const UNAVAILABLE_WARN_EVERY_MS = 10_000;

export interface ApiOptions {
  bigchain: Bigchain;
  /** where POSTed transactions go */
  admission: Admission;
  /** what `GET /` reports besides the node's keys */
  info: { version: string; apiEndpoint: string };
  bodyLimit?: number;
  log?: Logger;
  /** how often the INFO summary of requests is logged (each request is a DEBUG line); default 60 s */
  summaryIntervalMs?: number;
  /** the node's metrics as Prometheus text, for `GET /metrics` (absent: no such route) */
  metrics?: () => Promise<string>;
  /** where each request's latency is recorded, by route and status */
  requestMetrics?: NodeMetrics;
  /** whether the node can do its work, for `GET /readyz` (absent: no such route; `/healthz` always is) */
  readiness?: () => Promise<Readiness>;
}

/** An HTTP error answered as `{status, message}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Request {
  params: Record<string, string>;
  body: () => Promise<unknown>;
}

interface Reply {
  status: number;
  /** sent as JSON, or as it is when `contentType` is set (a string then) */
  body: unknown;
  contentType?: string;
}

interface Route {
  method: 'GET' | 'POST';
  /** OpenAPI-style path, `{name}` for a parameter; a trailing slash is accepted too */
  path: string;
  summary: string;
  requestSchema?: object;
  responses: Record<number, { description: string; schema?: object; contentType?: string }>;
  handle(request: Request): Promise<Reply>;
}

const errorSchema = {
  type: 'object',
  required: ['status', 'message'],
  properties: { status: { type: 'integer' }, message: { type: 'string' } },
};
const unavailableResponse = {
  description: 'the database is unavailable: retry after `Retry-After` seconds',
  schema: errorSchema,
};
const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { enum: ['valid', 'invalid', 'undecided', 'backlog'] } },
};
const infoSchema = {
  type: 'object',
  required: ['software', 'version', 'public_key', 'keyring', 'api_endpoint'],
  properties: {
    software: { type: 'string' },
    version: { type: 'string' },
    public_key: { type: 'string' },
    keyring: { type: 'array', items: { type: 'string' } },
    api_endpoint: { type: 'string' },
  },
};
const indexSchema = {
  type: 'object',
  required: [...infoSchema.required, 'openapi', 'routes'],
  properties: {
    ...infoSchema.properties,
    openapi: { type: 'string', description: 'the path of the OpenAPI document' },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['method', 'path', 'summary'],
        properties: {
          method: { type: 'string' },
          path: { type: 'string', description: 'OpenAPI-style, `{name}` for a parameter' },
          summary: { type: 'string' },
        },
      },
    },
  },
};

/**
 * The `tx_id` parameter, checked before any query: text that cannot be an id gets its 404 here, so no
 * client string reaches the database (PostgreSQL text cannot hold U+0000: `%00` made a 500).
 */
function transactionId(params: Record<string, string>): string {
  const id = params.tx_id ?? '';
  if (!/^[0-9a-f]{64}$/.test(id))
    throw new HttpError(404, `\`${id.slice(0, 100)}\` is not a transaction id (64 lowercase hex digits)`);
  return id;
}

/** The routes of the seed's HTTP API (PROTOCOL R7), each with the schemas the OpenAPI document shows. */
function routes(options: ApiOptions): Route[] {
  const b = options.bigchain;
  const info = () => ({
    software: 'BigchainDB',
    version: options.info.version,
    public_key: b.me,
    keyring: b.nodesExceptMe,
    api_endpoint: options.info.apiEndpoint,
  });
  return [
    {
      method: 'GET',
      path: '/',
      summary: 'Information about this node',
      responses: { 200: { description: 'the node', schema: infoSchema } },
      handle: async () => ({ status: 200, body: info() }),
    },
    {
      method: 'GET',
      // The URL the node prints at start-up: where a client starts.
      path: API_PREFIX,
      summary: 'This API: the node (as GET /), its routes and where its OpenAPI document is',
      responses: { 200: { description: 'the node and its routes', schema: indexSchema } },
      handle: async () => ({
        status: 200,
        body: {
          ...info(),
          openapi: OPENAPI_PATH,
          routes: operations(openApiDocument(routes(options), options.info.version)),
        },
      }),
    },
    {
      method: 'GET',
      path: OPENAPI_PATH,
      summary: 'This API as an OpenAPI 3.0 document',
      responses: { 200: { description: 'the OpenAPI document' } },
      handle: async () => ({ status: 200, body: openApiDocument(routes(options), options.info.version) }),
    },
    {
      method: 'POST',
      path: `${API_PREFIX}/transactions`,
      summary:
        'Submit a transaction. A CREATE must be signed by every key in its owners_before (for several, a ' +
        'fulfillment of their n-of-n threshold condition) and have a timestamp within max_clock_skew of the ' +
        "node's clock; the node checks that, then rebuilds it as a CREATE from the node to the same keys with " +
        'the same payload, and signs it.',
      requestSchema: transactionSchema,
      responses: {
        201: {
          description: 'accepted into the backlog; the transaction as stored',
          schema: transactionSchema,
        },
        200: { description: 'already waiting in the backlog', schema: transactionSchema },
        400: { description: 'not valid: the message says why', schema: errorSchema },
        413: { description: 'the body is too large', schema: errorSchema },
        415: { description: 'a Content-Encoding other than identity', schema: errorSchema },
        503: unavailableResponse,
      },
      handle: async (request) => {
        const body = await request.body();
        let admitted: Admitted;
        try {
          admitted = await options.admission.submit(body);
        } catch (error) {
          if (error instanceof ValidationError) throw new HttpError(400, `${error.name}: ${error.message}`);
          throw error;
        }
        return admitted.inserted
          ? { status: 201, body: { ...admitted.transaction, assignee: admitted.assignee } }
          : { status: 200, body: admitted.transaction };
      },
    },
    {
      method: 'GET',
      path: `${API_PREFIX}/transactions/{tx_id}`,
      summary: 'A transaction in a valid or undecided block',
      responses: {
        200: { description: 'the transaction', schema: transactionSchema },
        404: { description: 'in no valid or undecided block', schema: errorSchema },
        503: unavailableResponse,
      },
      handle: async ({ params }) => {
        const id = transactionId(params);
        const found = await b.getTransactionWithStatus(id);
        if (found.transaction === null)
          throw new HttpError(404, `transaction \`${id}\` is unknown to this node`);
        if (found.status === 'backlog')
          throw new HttpError(404, `transaction \`${id}\` is in the backlog, in no block yet`);
        if (found.status === 'invalid')
          throw new HttpError(404, `transaction \`${id}\` was rejected: ${found.reason ?? 'invalid'}`);
        return { status: 200, body: found.transaction };
      },
    },
    {
      method: 'GET',
      path: `${API_PREFIX}/transactions/{tx_id}/status`,
      summary: 'The status of a transaction: valid, undecided, backlog or invalid',
      responses: {
        200: { description: 'its status', schema: statusSchema },
        404: { description: 'unknown to this node', schema: errorSchema },
        503: unavailableResponse,
      },
      handle: async ({ params }) => {
        const id = transactionId(params);
        const status = await b.getStatus(id);
        if (status === null) throw new HttpError(404, `transaction \`${id}\` is unknown to this node`);
        return { status: 200, body: { status } };
      },
    },
    ...(options.metrics === undefined ? [] : [metricsRoute(options.metrics)]),
    {
      method: 'GET',
      path: '/healthz',
      summary: 'Liveness: the node process answers (docs/monitoring.md)',
      responses: { 200: { description: 'it does', schema: healthSchema } },
      handle: async () => ({ status: 200, body: { status: 'ok' } }),
    },
    ...(options.readiness === undefined ? [] : [readinessRoute(options.readiness)]),
  ];
}

const checkSchema = {
  type: 'object',
  required: ['name', 'ok'],
  properties: { name: { type: 'string' }, ok: { type: 'boolean' }, reason: { type: 'string' } },
};
const healthSchema = { type: 'object', required: ['status'], properties: { status: { type: 'string' } } };

function readinessRoute(readiness: () => Promise<Readiness>): Route {
  return {
    method: 'GET',
    path: '/readyz',
    summary:
      'Readiness: the database answers, every pipeline runs, the signature-check workers are loaded; 503 naming what fails',
    responses: {
      200: {
        description: 'ready',
        schema: {
          ...healthSchema,
          properties: { status: { type: 'string' }, checks: { type: 'array', items: checkSchema } },
        },
      },
      503: {
        description: 'not ready: the failing checks, with their reasons',
        schema: {
          ...errorSchema,
          properties: { ...errorSchema.properties, checks: { type: 'array', items: checkSchema } },
        },
      },
    },
    handle: async () => {
      const { ready, checks } = await readiness();
      if (ready) return { status: 200, body: { status: 'ready', checks } };
      const failing = checks.filter((check) => !check.ok);
      const message = `not ready: ${failing.map((check) => `${check.name}: ${check.reason ?? 'failing'}`).join('; ')}`;
      return { status: 503, body: { status: 503, message, checks } };
    },
  };
}

function metricsRoute(metrics: () => Promise<string>): Route {
  return {
    method: 'GET',
    path: '/metrics',
    summary:
      "The node's metrics in the Prometheus text format, summed over its processes (docs/monitoring.md)",
    responses: { 200: { description: 'the metrics', contentType: METRICS_CONTENT_TYPE } },
    handle: async () => ({ status: 200, body: await metrics(), contentType: METRICS_CONTENT_TYPE }),
  };
}

/** Every operation of an OpenAPI document, in its order: what the index lists. */
function operations(document: OpenApiDocument): { method: string; path: string; summary: string }[] {
  return Object.entries(document.paths).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).map(([method, { summary }]) => ({
      method: method.toUpperCase(),
      path,
      summary,
    })),
  );
}

interface OpenApiDocument {
  openapi: string;
  info: object;
  paths: Record<string, Record<string, { summary: string; [detail: string]: unknown }>>;
}

/** OpenAPI 3.0 from the route table: the schemas that validate requests are the ones documented. */
function openApiDocument(table: readonly Route[], version: string): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of table) {
    const parameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => ({
      name: match[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const responses = Object.fromEntries(
      Object.entries(route.responses).map(([code, response]) => [
        code,
        {
          description: response.description,
          ...(response.contentType
            ? { content: { [response.contentType]: {} } }
            : response.schema
              ? { content: { 'application/json': { schema: response.schema } } }
              : {}),
        },
      ]),
    );
    const operation = {
      summary: route.summary,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.requestSchema
        ? {
            requestBody: { required: true, content: { 'application/json': { schema: route.requestSchema } } },
          }
        : {}),
      responses,
    };
    const path = (paths[route.path] ??= {});
    path[route.method.toLowerCase()] = operation;
    // HEAD answers every GET route: its headers, no body.
    if (route.method === 'GET')
      path.head = {
        summary: `As GET, without the body: ${route.summary}`,
        ...(parameters.length > 0 ? { parameters } : {}),
        responses: Object.fromEntries(
          Object.entries(route.responses).map(([code, response]) => [
            code,
            { description: response.description },
          ]),
        ),
      };
  }
  return { openapi: '3.0.3', info: { title: 'BigchainDB HTTP API', version }, paths };
}

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(name);
      return '([^/]+)';
    })
    .join('/');
  return { route, pattern: new RegExp(route.path === '/' ? '^/$' : `^${source}/?$`), names };
}

async function readBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const encodings = (request.headers['content-encoding'] ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (encodings.length > 0)
    throw new HttpError(
      415,
      `the body's Content-Encoding ${encodings.join(', ')} is not supported: send it uncompressed (identity)`,
      { 'accept-encoding': 'identity' },
    );
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `the body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new HttpError(413, `the body is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    // The client closed or reset the connection mid-body (`aborted`, ECONNRESET): its fault, not the node's.
    throw new HttpError(400, `the connection closed before the whole body arrived (${describeError(error)})`);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'the body is empty: send a transaction as JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${messageOf(error)}`);
  }
}

/**
 * `body` as JSON, or as it is with `contentType`. node:http writes no body in answer to a HEAD request: the
 * headers, content-length included, are the GET's.
 */
function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType?: string,
) {
  const text = contentType === undefined ? `${JSON.stringify(body)}\n` : String(body);
  response.writeHead(status, {
    'content-type': contentType ?? 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'access-control-allow-origin': '*', // CORS: browsers on any origin may call the API (bigchaindb/driver)
    ...headers,
  });
  response.end(text);
}

/** node:http's errors for a request it could not parse that are not a plain 400, or need saying plainly */
const MALFORMED: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: `the request headers are larger than ${maxHeaderSize} bytes` },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, message: 'the chunk extensions are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'the request did not arrive in time' },
  HPE_INVALID_EOF_STATE: { status: 400, message: 'the connection closed before the whole request arrived' },
};

/**
 * The raw answer to a request node:http could not parse (bad request line, bad Content-Length, obs-fold,
 * headers too large): JSON like every other error, where node:http would send a bodiless 400/431.
 */
function malformedRequestAnswer(error: Error): { status: number; text: string } {
  const reason = 'reason' in error && typeof error.reason === 'string' ? error.reason : error.message;
  const { status, message } = MALFORMED[errorCode(error) ?? ''] ?? {
    status: 400,
    message: `the request is not valid HTTP: ${reason}`,
  };
  const body = `${JSON.stringify({ status, message })}\n`;
  const text =
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'content-type: application/json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'access-control-allow-origin: *\r\n' +
    `connection: close\r\n\r\n${body}`;
  return { status, text };
}

/** The node's HTTP API (not yet listening). Every answer is JSON; every error is `{status, message}`. */
export function createApiServer(options: ApiOptions): Server {
  const log = options.log ?? silentLogger;
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const table = routes(options).map(compile);
  const summary = new RequestSummary(log, options.summaryIntervalMs);
  let unavailableWarnedAt = -Infinity;
  let unavailableUnwarned = 0;
  const warnUnavailable = (error: unknown) => {
    const now = performance.now();
    if (now - unavailableWarnedAt < UNAVAILABLE_WARN_EVERY_MS) {
      unavailableUnwarned++;
      return;
    }
    const more = unavailableUnwarned > 0 ? ` (${unavailableUnwarned} more 503s since the last warning)` : '';
    log.warn(`the database is unavailable, answering 503: ${describeError(error)}${more}`);
    unavailableWarnedAt = now;
    unavailableUnwarned = 0;
  };
  // The responses under way on each connection: once one has begun, a raw answer would garble it.
  const underWay = new WeakMap<Duplex, Set<ServerResponse>>();

  const server = createServer((request, response) => {
    const started = performance.now();
    const remote = request.socket.remoteAddress;
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const answering = underWay.get(request.socket) ?? new Set();
    underWay.set(request.socket, answering.add(response));
    response.once('close', () => answering.delete(response));
    const matching = table.filter((entry) => entry.pattern.test(path));
    // What the request is counted under: its route's path pattern, never the raw path (a client could
    // make a new series of every URL).
    let route = matching.length === 0 ? '(no route)' : '(wrong method)';
    // HEAD is GET without the body, on every GET route.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const allowed = matching.flatMap((entry) =>
      entry.route.method === 'GET' ? ['GET', 'HEAD'] : [entry.route.method],
    );
    if (request.method === 'OPTIONS' && matching.length > 0) {
      // CORS preflight (a browser's POST of JSON from another origin)
      response.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': [...allowed, 'OPTIONS'].join(', '),
        'access-control-allow-headers': 'content-type',
        'access-control-max-age': '600',
      });
      response.end();
      return;
    }
    const answer = async (): Promise<Reply & { headers?: Record<string, string> }> => {
      if (matching.length === 0) throw new HttpError(404, 'Not found');
      const match = matching.find((entry) => entry.route.method === method);
      if (match === undefined) {
        const allow = allowed.join(', ');
        throw new HttpError(405, `The method ${request.method} is not allowed here; use ${allow}`, { allow });
      }
      route = match.route.path;
      const values = match.pattern.exec(path)?.slice(1) ?? [];
      const params = Object.fromEntries(
        match.names.map((name, i) => [name, decodeURIComponent(values[i] ?? '')]),
      );
      return match.route.handle({ params, body: () => readBody(request, limit) });
    };
    answer()
      .catch((error: unknown): Reply & { headers?: Record<string, string> } => {
        if (error instanceof HttpError)
          return {
            status: error.status,
            body: { status: error.status, message: error.message },
            headers: error.headers,
          };
        if (error instanceof URIError)
          return { status: 400, body: { status: 400, message: 'malformed URL encoding' } };
        if (isDatabaseUnavailable(error)) {
          warnUnavailable(error);
          return {
            status: 503,
            body: { status: 503, message: `the database is unavailable; retry in ${RETRY_AFTER_S} s` },
            headers: { 'retry-after': String(RETRY_AFTER_S) },
          };
        }
        log.error(
          `${request.method} ${path} failed: ${describeError(error)}`,
          error instanceof BigchainDBError ? error.details : {},
        );
        return { status: 500, body: { status: 500, message: 'Internal Server Error' } };
      })
      .then(({ status, body, headers, contentType }) => {
        const ms = Math.round(performance.now() - started);
        if (!request.socket.writable) {
          // The client went away, or sent a body node:http could not parse (the clientError handler answered).
          log.debug(
            `${request.method} ${path} not answered (${status}): the connection is closed, ${ms} ms`,
            {
              remote,
            },
          );
          return;
        }
        // A body not read (an early error) must not hold the connection: close it after the answer.
        const extra: Record<string, string> = request.complete ? {} : { connection: 'close' };
        send(response, status, body, { ...headers, ...extra }, contentType);
        summary.record(status, ms);
        options.requestMetrics?.httpRequest(
          method ?? '?',
          route,
          status,
          (performance.now() - started) / 1000,
        );
        log.debug(`${request.method} ${path} ${status} ${ms} ms`, { remote });
      })
      .catch((error: unknown) =>
        log.error(`could not answer ${request.method} ${path}: ${describeError(error)}`),
      );
  });
  server.on('clientError', (error: Error, socket: Duplex) => {
    const begun = [...(underWay.get(socket) ?? [])].some((response) => response.headersSent);
    if (!socket.writable || begun) {
      // A reset or closed connection (ECONNRESET, EPIPE), or a response already half sent: nothing to say.
      log.debug(`dropped a connection: ${describeError(error)}`);
      socket.destroy();
      return;
    }
    const { status, text } = malformedRequestAnswer(error);
    log.debug(`${status} to a malformed request: ${describeError(error)}`, {
      remote: 'remoteAddress' in socket ? socket.remoteAddress : undefined,
    });
    // Once written, let go: the rest of what the client sends cannot be parsed.
    socket.end(text, () => socket.destroy());
  });
  server.on('close', () => summary.close());
  return server;
}

/** `host:port` (port 0: any free one). */
export function parseBind(bind: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(bind);
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port > 65535)
    throw new BigchainDBError(`server.bind must be host:port, not ${JSON.stringify(bind)}`, { bind });
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Starts the API on `bind`; resolves with the address it listens on. */
export async function listen(server: Server, bind: string): Promise<string> {
  const { host, port } = parseBind(bind);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}`;
}

import { InvalidTransaction, NetworkError, TransactionNotFound, UnexpectedResponse } from './errors.ts';

/** Where a node's HTTP API is, e.g. `http://localhost:9984/api/v1`. */
export interface Connection {
  apiEndpoint: string;
  /** aborts the request (a `NetworkError` then) */
  signal?: AbortSignal;
}

function errorMessage(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string'
    ? body.message
    : undefined;
}

/** One request with the global `fetch`; a non-2xx answer becomes the matching `DriverError`. */
export async function request<T>(
  connection: Connection,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const url = `${connection.apiEndpoint.replace(/\/+$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(connection.signal ? { signal: connection.signal } : {}),
    });
  } catch (error) {
    const cause = error instanceof Error ? (error.cause instanceof Error ? error.cause : error) : undefined;
    throw new NetworkError(
      `${method} ${url} failed: ${cause?.message ?? String(error)}`,
      undefined,
      { method, url },
      { cause },
    );
  }
  const text = await response.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    throw new UnexpectedResponse(
      `${method} ${url}: the node answered ${response.status} with a body that is not JSON`,
      response.status,
      { method, url, body: text.slice(0, 500) },
    );
  }
  if (response.ok) return { status: response.status, body: parsed as T };
  const message = errorMessage(parsed) ?? `${method} ${url}: HTTP ${response.status}`;
  const details: Record<string, unknown> = { method, url, body: parsed };
  switch (response.status) {
    case 400:
      details.reason = /^(\w+):/.exec(message)?.[1];
      throw new InvalidTransaction(message, 400, details);
    case 404:
      throw new TransactionNotFound(message, 404, details);
    default:
      throw new UnexpectedResponse(message, response.status, details);
  }
}

import assert from 'node:assert/strict';

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A request to a node's HTTP API at `base`, `body` sent as the JSON text given; every answer must be JSON. */
export async function callApi(base: string, method: string, path: string, body?: string): Promise<ApiAnswer> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${method} ${path}`);
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

import { Ajv, type ErrorObject } from 'ajv';

/**
 * JSON schema of a transaction as it travels and is stored (PROTOCOL R4). It pins the shape only; the rules
 * that need arithmetic, cryptography or the chain are in validation.ts. Bounds (list lengths, string sizes)
 * keep hostile input cheap to reject.
 */
const publicKey = { type: 'string', pattern: '^[1-9A-HJ-NP-Za-km-z]{32,44}$' } as const;
const hexId = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const index = { type: 'integer', minimum: 0, maximum: 999 } as const;

export const MAX_FULFILLMENTS = 1000;
export const MAX_CONDITIONS = 1000;
export const MAX_OWNERS = 100;
/**
 * Levels of nesting a payload may have (the payload object itself is the first). A block holds a payload
 * six levels down (block, transactions, the transaction, transaction, data, payload), and canonical JSON
 * refuses more than MAX_JSON_DEPTH (256) levels: without this bound a transaction accepted alone could
 * never be written into a block.
 */
export const MAX_PAYLOAD_DEPTH = 200;

export const transactionSchema = {
  $id: 'https://bigchaindb.com/schema/transaction-0.6.json',
  title: 'BigchainDB 0.6 transaction',
  type: 'object',
  required: ['id', 'transaction'],
  additionalProperties: false,
  properties: {
    id: hexId,
    transaction: {
      type: 'object',
      required: ['version', 'fulfillments', 'conditions', 'operation', 'timestamp', 'data'],
      additionalProperties: false,
      properties: {
        version: { const: 1 },
        fulfillments: {
          type: 'array',
          maxItems: MAX_FULFILLMENTS,
          items: {
            type: 'object',
            required: ['owners_before', 'input', 'fulfillment', 'fid'],
            additionalProperties: false,
            properties: {
              owners_before: { type: 'array', maxItems: MAX_OWNERS, items: publicKey },
              input: {
                type: ['object', 'null'],
                required: ['txid', 'cid'],
                additionalProperties: false,
                properties: { txid: hexId, cid: index },
              },
              fulfillment: { type: ['string', 'null'], pattern: '^cf:', maxLength: 65536 },
              fid: index,
            },
          },
        },
        conditions: {
          type: 'array',
          maxItems: MAX_CONDITIONS,
          items: {
            type: 'object',
            required: ['owners_after', 'condition', 'cid'],
            additionalProperties: false,
            properties: {
              owners_after: { type: ['array', 'null'], maxItems: MAX_OWNERS, items: publicKey },
              condition: {
                type: 'object',
                required: ['uri'],
                additionalProperties: false,
                properties: {
                  details: { type: 'object' },
                  uri: { type: 'string', pattern: '^cc:', maxLength: 256 },
                },
              },
              cid: index,
            },
          },
        },
        operation: { type: 'string', maxLength: 64 },
        timestamp: { type: 'string', pattern: '^[0-9]{1,12}$' },
        data: {
          type: 'object',
          required: ['uuid', 'payload'],
          additionalProperties: false,
          properties: {
            uuid: {
              type: 'string',
              pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
            },
            payload: { type: ['object', 'null'] },
          },
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const validateShape = ajv.compile(transactionSchema);

/** Null when `value` matches the schema, else a one-line reason naming the offending path. */
export function transactionSchemaError(value: unknown): string | null {
  if (validateShape(value)) return null;
  return describe(validateShape.errors?.[0]);
}

function describe(error: ErrorObject | undefined): string {
  if (!error) return 'transaction does not match the schema';
  const path = error.instancePath === '' ? 'transaction' : error.instancePath.slice(1).replaceAll('/', '.');
  if (error.keyword === 'additionalProperties') {
    return `${path} has an unexpected property ${JSON.stringify(error.params.additionalProperty)}`;
  }
  if (error.keyword === 'const') return `${path} must be ${JSON.stringify(error.params.allowedValue)}`;
  return `${path} ${error.message ?? 'is invalid'}`;
}

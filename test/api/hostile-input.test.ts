import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { base58Encode } from '../../src/protocol/base58.ts';
import { Ed25519Fulfillment } from '../../src/protocol/cc/index.ts';
import { publicKeyFromPrivate, sha3Hex, type KeyPair } from '../../src/protocol/crypto.ts';
import {
  createTransaction,
  type Transaction,
  type TransactionInput,
} from '../../src/protocol/transaction.ts';
import { atLevel } from '../support/log-records.ts';
import { startLoneNode, type NodeProcess } from '../support/node-process.ts';

/*
 * Issue 12, item 5, first bullet: a few thousand generated request bodies against `bigchaindb start` run as
 * an operator runs it (embedded database, its own temp directory, 127.0.0.1 only). The bodies mix valid
 * client CREATEs and TRANSFERs whose payloads are hostile (NUL, lone surrogates, astral and bidi
 * characters, 64 KiB strings, deep nesting, huge numbers, odd keys), chained TRANSFERs, double spends,
 * replays, mutated and garbage bodies, and a few hostile GET paths. Invariants:
 *   (1) no 5xx and no request left unanswered;
 *   (2) every 4xx is JSON `{status, message}`, status the HTTP code, message non-empty;
 *   (3) every accepted transaction (201/200) is decided (valid or invalid) within DECIDE_MS of the last POST;
 *   (4) every transaction the test built as valid (right signature, unspent input) that the node accepted
 *       ends valid, in particular the plain CREATEs sent after hostile ones and the last one of all;
 *   (5) the node is alive at the end and logged no ` ERROR ` line;
 *   besides: a replayed body answered 2xx is the transaction first accepted for it (idempotence), and no
 *   double spend or second rival spend ever becomes valid (safety).
 *
 * The bodies come from fast-check with a fixed seed (HOSTILE_SEED to change it, HOSTILE_BODIES for the
 * count). The node is stateful, so there is no shrinking: every violation is recorded with its body and
 * the answer, and the test fails at the end with all of them counted.
 *
 * Client transactions are signed here (`signBody`), over the body as the node will parse it, with a
 * canonical JSON writer that refuses nothing: so a payload the protocol library would refuse to sign (NUL,
 * say) still reaches the node correctly signed, and what the node does with it is the node's own decision.
 */

const SEED = Number.parseInt(process.env.HOSTILE_SEED ?? '20261212', 10);
/** every client transaction's timestamp: the node refuses one too far from its clock (max_clock_skew) */
const TIMESTAMP = String(Math.round(Date.now() / 1000));
const BODIES = Math.min(
  Math.max(Number.parseInt(process.env.HOSTILE_BODIES ?? '3000', 10) || 3000, 100),
  20_000,
);
const BATCH = 100;
/** concurrent requests while a batch is sent */
const CONCURRENCY = 6;
/** no new batch starts after this long: the file must stay well under two minutes */
const SEND_BUDGET_MS = 70_000;
/** invariant (3): everything accepted is decided within this long of the last POST... */
const DECIDE_MS = 30_000;
/** ...and no status moves for this long means nothing will (a halted pipeline) */
const FINAL_QUIET_MS = 10_000;
const REQUEST_TIMEOUT_MS = 20_000;
const EXCERPT = 300;

// ---------------------------------------------------------------------------------------------------------
// Hostile values

/** A JSON text put verbatim into the body where the tree has it (numbers JSON.stringify cannot write). */
class Raw {
  constructor(readonly text: string) {}
}
type Tree = null | boolean | number | string | Raw | Tree[] | { [key: string]: Tree };

const HOSTILE_CHARS = [
  '\u0000',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '😀',
  '👩‍👩‍👧‍👦',
  '\u{10FFFF}',
  '\u{1D573}',
  '\u202E',
  '\u200F',
  '\u202A',
  '\u2066',
  '\u061C',
  '\u200B',
  '\u200C',
  '\u200D',
  '\u2060',
  '\uFEFF',
  '\u0001',
  '\u001F',
  '\u007F',
  '\u0085',
  '\u2028',
  '\u2029',
  '\uFFFE',
  '\uFFFF',
  '"',
  '\\',
  '\\u0000',
  '/',
  '\n',
  '\r',
  '\t',
  'é',
  'e\u0301',
  '%00',
  "'",
  '<script>',
  '${x}',
];

const hostileString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(fc.oneof(fc.constantFrom(...HOSTILE_CHARS), fc.string({ maxLength: 4 })), { maxLength: 8 })
      .map((parts) => parts.join('')),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'nul \u0000 here',
      'a\ud800b',
      '\udc00\ud800',
      '\u202Egnp.exe',
      'abc\u200F\u200E',
      '\u0000\u0000\u0000',
      '',
    ),
  },
);

/** 64 KiB strings (65,536 UTF-16 code units, or one either side) of one character. */
const bigString: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('x', '😀', '\u202E', 'é', '\u200B', '\u0000', '\ud800', '"', '\\'),
    fc.constantFrom(65_535, 65_536, 65_537),
  )
  .map(([char, units]) => char.repeat(Math.ceil(units / char.length)).slice(0, units));

const HUGE_NUMBERS = [
  '1e308',
  '1e999',
  '-1e999',
  '9007199254740993',
  '-9007199254740993',
  '9007199254740991',
  '-0',
  '-0.0',
  '0e0',
  '1e-400',
  '5e-324',
  '1.7976931348623157e308',
  '123456789012345678901234567890',
  '100000000000000000000',
  '0.1',
  '1E2',
  '1e21',
  '1e-7',
];
const numberLeaf: fc.Arbitrary<Tree> = fc.oneof(
  fc.constantFrom(...HUGE_NUMBERS).map((text) => new Raw(text)),
  fc.double(),
  fc.integer(),
  fc.constantFrom(2 ** 53 + 1, -0, 1e308, Number.MAX_VALUE, Number.MIN_VALUE),
);

const ODD_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '😀',
  '\u202Ekey',
  '\u200B',
  '$ref',
  '$schema',
  'payload',
  'id',
  '.',
  'a.b',
  '[0]',
  '0',
  '-1',
  '1e3',
  "'; DROP TABLE blocks; --",
  '\\',
  '"',
];
const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_KEYS) },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.constantFrom('k'.repeat(1000), 'k'.repeat(65_536), '\u202E'.repeat(4096)) },
);

/** An object through CreateDataProperty: `__proto__` stays an own key, as JSON.parse makes it. */
const objectOf = (entries: [string, Tree][]): Tree => Object.fromEntries(entries);

const { tree: hostileTree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    hostileString,
    numberLeaf,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.array(fc.tuple(hostileKey, tie('tree')), { maxLength: 4 }).map(objectOf),
  ),
}));

/** `depth` levels of objects or arrays around a hostile leaf. */
const deepTree: fc.Arbitrary<Tree> = fc
  .record({
    depth: fc.constantFrom(200, 250, 252, 253, 254, 255, 256, 300, 1000),
    shape: fc.constantFrom('object', 'array', 'mixed'),
    leaf: hostileString,
  })
  .map(({ depth, shape, leaf }) => {
    let value: Tree = leaf;
    for (let level = 0; level < depth; level++)
      value = shape === 'array' || (shape === 'mixed' && level % 2 === 1) ? [value] : { a: value };
    return value;
  });

/** Always an object (the schema wants one), with at most one big or deep part so the body stays < 1 MiB. */
const hostilePayload: fc.Arbitrary<Tree> = fc
  .record({
    entries: fc.array(fc.tuple(hostileKey, hostileTree), { minLength: 1, maxLength: 5 }),
    special: fc.option(
      fc.oneof(
        fc.tuple(fc.constantFrom('big', 'msg'), bigString),
        fc.tuple(hostileKey, deepTree),
        fc.tuple(fc.constantFrom('n', '__proto__'), numberLeaf),
        fc.tuple(
          bigString.map((key) => key.slice(0, 65_536)),
          hostileString,
        ),
      ),
      { freq: 2 },
    ),
  })
  .map(({ entries, special }) => objectOf(special === null ? entries : [...entries, special]));

// ---------------------------------------------------------------------------------------------------------
// Steps: what fast-check generates. Transfers, double spends and replays name an index into what the run
// has at that point (assets seen valid, outputs seen spent, bodies accepted), resolved when the batch is built.

type Encoding = 'json' | 'pretty' | 'escaped' | 'raw-nul' | 'bom';
const encoding: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Encoding>('json') },
  { weight: 2, arbitrary: fc.constant<Encoding>('pretty') },
  { weight: 3, arbitrary: fc.constant<Encoding>('escaped') },
  { weight: 2, arbitrary: fc.constant<Encoding>('raw-nul') },
  { weight: 1, arbitrary: fc.constant<Encoding>('bom') },
);

type Mutation =
  | { type: 'set'; path: (string | number)[]; value: unknown }
  | { type: 'delete'; path: (string | number)[] }
  | { type: 'truncate'; at: number }
  | { type: 'splice'; at: number; remove: number; insert: string }
  | { type: 'owner'; owner: string }
  | { type: 'fulfillment'; fulfillment: unknown }
  | { type: 'input'; input: unknown }
  | { type: 'deep'; depth: number; where: 'payload' | 'id' | 'input' };

const PATH_PARTS = [
  'transaction',
  'fulfillments',
  0,
  1,
  'fulfillment',
  'conditions',
  'condition',
  'details',
  'uri',
  'data',
  'payload',
  'uuid',
  'id',
  'operation',
  'timestamp',
  'version',
  'owners_before',
  'owners_after',
  'input',
  'cid',
  'fid',
];
const path = fc.array(fc.constantFrom(...PATH_PARTS), { minLength: 1, maxLength: 5 });
const bytes = (length: number, fill: number) => base58Encode(new Uint8Array(length).fill(fill));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('set' as const),
      path,
      value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostileString, numberLeaf),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('delete' as const), path }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('truncate' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('splice' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      remove: fc.nat(3),
      insert: fc.oneof(
        fc.constantFrom(...HOSTILE_CHARS),
        fc.constantFrom('{', '}', '[', ']', ',', ':', '"', ''),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('owner' as const),
      owner: fc.oneof(
        fc.constantFrom(0, 1, 16, 31, 33, 64).map((length) => bytes(length, 7)),
        fc.constantFrom('', '\u0000', '%00', '0'.repeat(44), 'I'.repeat(44), 'l'.repeat(32), '\ud800'),
        hostileString,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('fulfillment' as const),
      fulfillment: fc.oneof(
        fc.constantFrom('', 'cf:', 'cf:4:', 'cf:0:', 'cf:2:AAAA', 'cf:4:' + 'A'.repeat(1000), 'cf:99:\u0000'),
        hostileString.map((text) => `cf:4:${text}`),
        fc.jsonValue({ maxDepth: 1 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('input' as const),
      input: fc.oneof(
        fc.record({
          txid: fc.oneof(
            fc.constantFrom('\u0000'.repeat(64), '%00', 'F'.repeat(64), '0'.repeat(63), '\ud800'.repeat(64)),
            hostileString,
          ),
          cid: fc.oneof(fc.integer({ min: -2, max: 2 }), numberLeaf, fc.constant('0')),
        }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('deep' as const),
      depth: fc.constantFrom(5_000, 50_000),
      where: fc.constantFrom('payload' as const, 'id' as const, 'input' as const),
    }),
  },
);

const garbage: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
  fc.constantFrom<string | Uint8Array>(
    '',
    ' ',
    '\n',
    'null',
    'true',
    '0',
    '-0',
    '1e999',
    '[]',
    '{}',
    '"',
    '"\\ud800"',
    '{"transaction":null}',
    '{"id":null,"transaction":{}}',
    '\uFEFF{}',
    '\u0000',
    '{"a":"\u0000"}',
    '{"a":1}x',
    '{"a":1,}',
    "{'a':1}",
    'NaN',
    'Infinity',
    '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    '['.repeat(5_000),
    `{"a":${'['.repeat(100_000)}`,
    `${'['.repeat(200_000)}${']'.repeat(200_000)}`,
    `{"transaction":${'{"a":'.repeat(60_000)}1${'}'.repeat(60_000)}}`,
    `"${'x'.repeat(1_000_000)}"`,
    `"${'x'.repeat(1_048_577)}"`,
    new Uint8Array([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]),
    new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // {"a":"<CESU surrogate>"}
    new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
  ),
);

const getPath: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(
        '%00',
        '%',
        '%zz',
        '%ED%A0%80',
        '%C0%80',
        '%FF',
        '%F0%9F%98%80',
        '%E2%80%AE',
        '%2e%2e',
        '%2F',
        'a'.repeat(64),
        'F'.repeat(64),
        '0'.repeat(64),
        `${'0'.repeat(63)}%00`,
        '\u202E',
        'a'.repeat(4_000),
        'a'.repeat(20_000),
      ),
      fc.string({ unit: 'binary', maxLength: 20 }).map((text) => encodeURIComponent(text)),
      fc
        .uint8Array({ minLength: 1, maxLength: 8 })
        .map((raw) => [...raw].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')),
    ),
    fc.constantFrom('', '/', '/status', '/status/', '/status/x', '?%00', '/%00'),
  )
  .map(([segment, suffix]) => `/api/v1/transactions/${segment}${suffix}`);

type Step =
  | { kind: 'create'; payload: Tree; encoding: Encoding }
  | { kind: 'plain' }
  | { kind: 'transfer'; pick: number; payload: Tree | null; encoding: Encoding }
  | { kind: 'rivals'; pick: number }
  | { kind: 'double-spend'; pick: number }
  | { kind: 'replay'; pick: number }
  | { kind: 'mutated'; mutation: Mutation }
  | { kind: 'garbage'; body: string | Uint8Array }
  | { kind: 'get'; path: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 34,
    arbitrary: fc.record({ kind: fc.constant('create' as const), payload: hostilePayload, encoding }),
  },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('plain' as const) }) },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      pick: fc.nat(),
      payload: fc.option(hostilePayload, { freq: 2 }),
      encoding,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rivals' as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('double-spend' as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }) },
  { weight: 16, arbitrary: fc.record({ kind: fc.constant('mutated' as const), mutation }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('garbage' as const), body: garbage }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('get' as const), path: getPath }) },
);

// ---------------------------------------------------------------------------------------------------------
// Signing what the node will parse

/** RFC 8785 as the node writes it, refusing nothing: keys by UTF-16 code units, JSON.stringify's escapes. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`).join(',')}}`;
}

/** A key pair from a label: the same seed makes the same bodies. */
function keyFor(label: string): KeyPair {
  const hex = sha3Hex(`hostile-key:${SEED}:${label}`);
  const seed = Uint8Array.from(hex.match(/../g)!.map((pair) => Number.parseInt(pair, 16)));
  return { privateKey: base58Encode(seed), publicKey: publicKeyFromPrivate(seed) };
}

function uuidFor(label: string): string {
  const hex = sha3Hex(`hostile-uuid:${SEED}:${label}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const ID_MARK = '@@hostile-id@@';
const FULFILLMENT_MARK = '@@hostile-fulfillment@@';

interface Built {
  text: string;
  /** signed over exactly what the node parses, and sent as such */
  builtValid: boolean;
  /** the transaction id this body has (when it parses) */
  id?: string;
  /** the verbatim number texts in it */
  raws: string[];
}

/**
 * The body of a one-fulfillment transaction spending an Ed25519 condition of `signer` (a client CREATE or a
 * TRANSFER), with `payload` in `data.payload`, signed over the body as the node parses it.
 */
function signBody(skeleton: Transaction, payload: Tree, signer: KeyPair, enc: Encoding): Built {
  const raws: string[] = [];
  const [first] = skeleton.transaction.fulfillments;
  const shell = {
    id: ID_MARK,
    transaction: {
      ...skeleton.transaction,
      fulfillments: [{ ...first!, fulfillment: FULFILLMENT_MARK }],
      data: { uuid: skeleton.transaction.data.uuid, payload },
    },
  };
  const replacer = (_key: string, value: unknown) => {
    if (!(value instanceof Raw)) return value;
    raws.push(value.text);
    return `@@raw${raws.length - 1}@@`;
  };
  const template = JSON.stringify(shell, replacer, enc === 'pretty' ? '\t' : undefined).replace(
    /"@@raw(\d+)@@"/g,
    (_match, n: string) => raws[Number(n)]!,
  );
  let text: string;
  let id: string;
  try {
    const parsed = JSON.parse(template) as Transaction;
    const body = parsed.transaction;
    const fulfillment = { ...body.fulfillments[0]!, fulfillment: null };
    id = sha3Hex(canonical({ ...body, fulfillments: [fulfillment] }));
    const message = canonical({
      operation: body.operation,
      timestamp: body.timestamp,
      data: body.data,
      version: body.version,
      id,
      fulfillment,
      condition: body.conditions[0],
    });
    const signature = new Ed25519Fulfillment();
    signature.sign(message, signer.privateKey);
    text = template
      .replace(`"${ID_MARK}"`, JSON.stringify(id))
      .replace(`"${FULFILLMENT_MARK}"`, JSON.stringify(signature.serializeUri()));
  } catch {
    return {
      text: template.replace(`"${ID_MARK}"`, JSON.stringify('0'.repeat(64))),
      builtValid: false,
      raws,
    };
  }
  if (enc === 'escaped')
    text = text.replace(
      /[\u007f-\uffff]/g,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  if (enc === 'bom') return { text: `\uFEFF${text}`, builtValid: false, id, raws };
  if (enc === 'raw-nul') {
    const raw = text.replaceAll('\\u0000', '\u0000');
    return raw === text ? { text, builtValid: true, id, raws } : { text: raw, builtValid: false, id, raws };
  }
  return { text, builtValid: true, id, raws };
}

// ---------------------------------------------------------------------------------------------------------
// What the run records

interface Sent {
  seq: number;
  category: string;
  tags: string[];
  method: 'GET' | 'POST';
  path: string;
  body?: string | Uint8Array;
  builtValid: boolean;
  /** 0: no answer */
  status: number;
  answer: string;
  /** the transaction the node answered with (2xx POST) */
  acceptedId?: string;
}

interface Accepted {
  id: string;
  sent: Sent;
  /** a double spend or a rival: must not become valid (the rival: not both) */
  conflicting: boolean;
  status: string;
}

interface Asset {
  owner: KeyPair;
  id: string;
  hops: number;
}

interface Violation {
  invariant: string;
  what: string;
  sent?: Sent;
}

/** A body or answer as a JSON string literal with every non-ASCII character escaped, cut to EXCERPT. */
function excerpt(body: string | Uint8Array | undefined): string {
  if (body === undefined) return '(none)';
  if (body instanceof Uint8Array)
    return `bytes(${body.length}) ${Buffer.from(body.subarray(0, EXCERPT / 2)).toString('hex')}`;
  const cut = JSON.stringify(body.slice(0, EXCERPT)).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return body.length > EXCERPT ? `${collapse(cut)}… (${body.length} chars)` : collapse(cut);
}

function describeSent(sent: Sent): string {
  const tags = sent.tags.length > 0 ? ` [${sent.tags.join(', ')}]` : '';
  const body = sent.method === 'POST' ? ` body ${excerpt(sent.body)}` : '';
  const path = sent.method === 'GET' ? excerpt(sent.path) : sent.path;
  return `#${sent.seq} ${sent.category}${tags}: ${sent.method} ${path}${body} → ${sent.status} ${excerpt(sent.answer)}`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is hostile about a parsed body (walked without recursion: it may be deep). */
function tagsOf({ text, raws }: Built, enc: Encoding): string[] {
  const tags = new Set<string>(raws);
  if (enc !== 'json') tags.add(`enc:${enc}`);
  let value: unknown;
  try {
    value = JSON.parse(
      enc === 'raw-nul' || enc === 'bom' ? text.replace(/^\uFEFF/, '').replaceAll('\u0000', '\\u0000') : text,
    );
  } catch {
    return [...tags];
  }
  const strings = (s: string, where: string) => {
    if (s.includes('\u0000')) tags.add(`nul-${where}`);
    if (LONE_SURROGATE.test(s)) tags.add(`lone-surrogate-${where}`);
    if (/[\uD800-\uDBFF][\uDC00-\uDFFF]/.test(s)) tags.add('astral');
    if (/[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/.test(s)) tags.add('bidi');
    if (/[\u200B-\u200D\u2060\uFEFF]/.test(s)) tags.add('zero-width');
    if (/[\u0001-\u001F\u007F-\u009F\u2028\u2029]/.test(s)) tags.add('control');
    if (s.length >= 65_535) tags.add(`64KiB-${where}`);
  };
  const stack: [unknown, number][] = [[value, 0]];
  let deepest = 0;
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    deepest = Math.max(deepest, depth);
    if (typeof item === 'string') strings(item, 'value');
    else if (typeof item === 'number') {
      if (Object.is(item, -0)) tags.add('-0');
      if (Number.isInteger(item) && !Number.isSafeInteger(item)) tags.add('unsafe-integer');
      if (!Number.isFinite(item)) tags.add('non-finite');
    } else if (Array.isArray(item)) for (const entry of item) stack.push([entry, depth + 1]);
    else if (item !== null && typeof item === 'object')
      for (const [key, entry] of Object.entries(item)) {
        strings(key, 'key');
        if (['__proto__', 'constructor', 'prototype', '', '$ref'].includes(key))
          tags.add(`key:${JSON.stringify(key)}`);
        if (key.length >= 1000) tags.add('long-key');
        stack.push([entry, depth + 1]);
      }
  }
  if (deepest >= 100) tags.add(`depth-${deepest}`);
  return [...tags];
}

/** Runs `work` on every item, `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function increment(table: Map<string, Map<string, number>>, row: string, column: string): void {
  const counts = table.get(row) ?? new Map<string, number>();
  counts.set(column, (counts.get(column) ?? 0) + 1);
  table.set(row, counts);
}

/** Long repeats cut short (`kkkk…`, `[N][N][N]…`), so a log line or a path says what it is in a few words. */
function collapse(text: string): string {
  return text.replace(/(.{1,5}?)\1{4,}/g, (run, unit: string) => `${unit}…×${run.length / unit.length}`);
}

/** The error class of a 4xx/5xx answer: `SchemaError`, `the body is not valid JSON`, ... */
function reasonOf(answer: string): string {
  try {
    const message = String((JSON.parse(answer) as { message?: unknown }).message);
    return collapse(message.split(/: |\(/)[0]!).slice(0, 60);
  } catch {
    return answer === '' ? '(empty body)' : '(not JSON)';
  }
}

function formatTable(table: Map<string, Map<string, number>>): string[] {
  return [...table.entries()].map(
    ([row, counts]) =>
      `  ${row}: ${[...counts.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([column, count]) => `${column}×${count}`)
        .join(' ')}`,
  );
}

// ---------------------------------------------------------------------------------------------------------

let dir: string;
let node: NodeProcess;
let base: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bigchain-hostile-'));
  node = await startLoneNode(dir, 0.1);
  base = node.apiUrl.replace(/\/api\/v1$/, '');
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
});
after(async () => {
  await node?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test(
  'hostile request bodies against a live node: no 5xx, JSON errors, everything accepted decided, valid stays valid',
  { timeout: 170_000 },
  async (t) => {
    const started = Date.now();
    const sentLog: Sent[] = [];
    const accepted = new Map<string, Accepted>();
    const violations: Violation[] = [];
    const pool: Asset[] = [];
    const spent: { asset: Asset; by: string }[] = [];
    const acceptedBodies: Sent[] = [];
    const rivalPairs: [string | undefined, string | undefined][] = [];
    const codes = new Map<string, Map<string, number>>();
    const tagCodes = new Map<string, Map<string, number>>();
    const reasons = new Map<string, Map<string, number>>();
    let seq = 0;
    let maxHops = 0;

    async function send(
      category: string,
      method: 'GET' | 'POST',
      path: string,
      body: string | Uint8Array | undefined,
      extra: { tags?: string[]; builtValid?: boolean; conflicting?: boolean } = {},
    ): Promise<Sent> {
      const sent: Sent = {
        seq: seq++,
        category,
        tags: extra.tags ?? [],
        method,
        path,
        ...(body === undefined ? {} : { body }),
        builtValid: extra.builtValid ?? false,
        status: 0,
        answer: '',
      };
      sentLog.push(sent);
      let contentType = '';
      try {
        const response = await fetch(`${base}${path}`, {
          method,
          ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        sent.status = response.status;
        contentType = response.headers.get('content-type') ?? '';
        sent.answer = await response.text();
      } catch (error) {
        sent.answer = `no answer: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
      }
      increment(codes, category, String(sent.status));
      if (sent.status >= 400) increment(reasons, category, reasonOf(sent.answer));
      if (category === 'hostile CREATE' || category === 'TRANSFER')
        for (const tag of sent.tags) increment(tagCodes, tag, String(sent.status));
      check(sent, contentType, extra.conflicting ?? false);
      return sent;
    }

    function check(sent: Sent, contentType: string, conflicting: boolean): void {
      if (sent.status === 0) violations.push({ invariant: '(1) no 5xx, no hang', what: 'no answer', sent });
      if (sent.status >= 500)
        violations.push({ invariant: '(1) no 5xx, no hang', what: `${sent.status}`, sent });
      let json: unknown;
      try {
        json = JSON.parse(sent.answer);
      } catch {
        json = undefined;
      }
      if (sent.status >= 400 && sent.status < 500) {
        const record = json as { status?: unknown; message?: unknown } | undefined;
        const ok =
          /^application\/json/.test(contentType) &&
          typeof record === 'object' &&
          record !== null &&
          record.status === sent.status &&
          typeof record.message === 'string' &&
          record.message.length > 0;
        if (!ok)
          violations.push({
            invariant: '(2) every 4xx is JSON {status, message}',
            what: `${sent.status} ${contentType || 'no content-type'}`,
            sent,
          });
      }
      if (sent.method === 'POST' && (sent.status === 200 || sent.status === 201)) {
        const id = (json as { id?: unknown } | undefined)?.id;
        if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) {
          violations.push({
            invariant: '(3) accepted transactions are decided',
            what: 'a 2xx without an id',
            sent,
          });
          return;
        }
        sent.acceptedId = id;
        if (!accepted.has(id)) accepted.set(id, { id, sent, conflicting, status: 'backlog' });
        else if (conflicting) accepted.get(id)!.conflicting = true;
      }
    }

    const statusOf = async (id: string): Promise<string> => {
      try {
        const response = await fetch(`${base}/api/v1/transactions/${id}/status`, {
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await response.text();
        if (response.status === 404) return 'unknown to the node';
        if (response.status !== 200) return `status ${response.status}`;
        return String((JSON.parse(text) as { status?: unknown }).status);
      } catch (error) {
        return `no answer (${error instanceof Error ? error.name : 'error'})`;
      }
    };
    const decided = (status: string) => status === 'valid' || status === 'invalid';

    /** Polls until every id is decided, `maxMs` passed, or no status moved for `quietMs`. */
    async function settle(ids: readonly string[], maxMs: number, quietMs: number): Promise<void> {
      const start = Date.now();
      let progress = start;
      let open = ids.filter((id) => !decided(accepted.get(id)!.status));
      while (open.length > 0 && Date.now() - start < maxMs && Date.now() - progress < quietMs) {
        await delay(150);
        const statuses = await mapLimit(open, 8, statusOf);
        open.forEach((id, i) => {
          const entry = accepted.get(id)!;
          if (entry.status !== statuses[i]) progress = Date.now();
          entry.status = statuses[i]!;
        });
        open = open.filter((id) => !decided(accepted.get(id)!.status));
      }
    }

    // A plain client CREATE: the canary that shows whether the chain still decides.
    const plainCreate = (label: string): { owner: KeyPair; built: Built } => {
      const owner = keyFor(label);
      const skeleton = createTransaction(owner.publicKey, owner.publicKey, null, 'CREATE', {
        uuid: uuidFor(label),
        timestamp: TIMESTAMP,
      });
      return { owner, built: signBody(skeleton, { n: label }, owner, 'json') };
    };

    const transferBody = (from: Asset, to: KeyPair, label: string, payload: Tree | null, enc: Encoding) => {
      const input: TransactionInput = { txid: from.id, cid: 0 };
      const skeleton = createTransaction(from.owner.publicKey, to.publicKey, input, 'TRANSFER', {
        uuid: uuidFor(label),
        timestamp: TIMESTAMP,
      });
      return signBody(skeleton, payload, from.owner, enc);
    };

    type Job = () => Promise<void>;
    const pendingAssets: { sent: () => Sent | undefined; asset: (id: string) => Asset; from?: Asset }[] = [];

    /** Turns a step into the requests it makes, resolving picks against what the run has now. */
    function plan(item: Step, label: string): Job {
      switch (item.kind) {
        case 'create': {
          const owner = keyFor(label);
          const skeleton = createTransaction(owner.publicKey, owner.publicKey, null, 'CREATE', {
            uuid: uuidFor(label),
            timestamp: TIMESTAMP,
          });
          const built = signBody(skeleton, item.payload, owner, item.encoding);
          const tags = tagsOf(built, item.encoding);
          let sent: Sent | undefined;
          pendingAssets.push({ sent: () => sent, asset: (id) => ({ owner, id, hops: 0 }) });
          return async () => {
            sent = await send('hostile CREATE', 'POST', '/api/v1/transactions/', built.text, {
              tags,
              builtValid: built.builtValid,
            });
          };
        }
        case 'plain': {
          const { owner, built } = plainCreate(label);
          let sent: Sent | undefined;
          pendingAssets.push({ sent: () => sent, asset: (id) => ({ owner, id, hops: 0 }) });
          return async () => {
            sent = await send('plain CREATE', 'POST', '/api/v1/transactions/', built.text, {
              builtValid: true,
            });
          };
        }
        case 'transfer': {
          if (pool.length === 0) return plan({ kind: 'plain' }, label);
          const [from] = pool.splice(item.pick % pool.length, 1);
          const to = keyFor(`${label}:to`);
          const built = transferBody(from!, to, label, item.payload, item.encoding);
          const tags = item.payload === null ? [] : tagsOf(built, item.encoding);
          let sent: Sent | undefined;
          pendingAssets.push({
            sent: () => sent,
            asset: (id) => ({ owner: to, id, hops: from!.hops + 1 }),
            from: from!,
          });
          return async () => {
            sent = await send('TRANSFER', 'POST', '/api/v1/transactions/', built.text, {
              tags,
              builtValid: built.builtValid,
            });
          };
        }
        case 'rivals': {
          if (pool.length === 0) return plan({ kind: 'plain' }, label);
          const [from] = pool.splice(item.pick % pool.length, 1);
          const rivals = [keyFor(`${label}:a`), keyFor(`${label}:b`)].map((to, n) => ({
            to,
            built: transferBody(from!, to, `${label}:${n}`, null, 'json'),
          }));
          const sents: (Sent | undefined)[] = [undefined, undefined];
          for (const [n, rival] of rivals.entries())
            pendingAssets.push({
              sent: () => sents[n],
              asset: (id) => ({ owner: rival.to, id, hops: from!.hops + 1 }),
              from: from!,
            });
          return async () => {
            const answers = await Promise.all(
              rivals.map(({ built }) =>
                send('rival TRANSFERs', 'POST', '/api/v1/transactions/', built.text, { conflicting: true }),
              ),
            );
            answers.forEach((answer, n) => (sents[n] = answer));
            rivalPairs.push([rivals[0]!.built.id, rivals[1]!.built.id]);
          };
        }
        case 'double-spend': {
          if (spent.length === 0) return plan({ kind: 'plain' }, label);
          const { asset } = spent[item.pick % spent.length]!;
          const built = transferBody(asset, keyFor(`${label}:thief`), label, null, 'json');
          return async () => {
            await send('double spend', 'POST', '/api/v1/transactions/', built.text, { conflicting: true });
          };
        }
        case 'replay': {
          if (acceptedBodies.length === 0) return plan({ kind: 'plain' }, label);
          const original = acceptedBodies[item.pick % acceptedBodies.length]!;
          return async () => {
            const again = await send('replay', 'POST', '/api/v1/transactions/', original.body, {
              tags: [`of #${original.seq} ${original.category}`],
            });
            if (again.acceptedId !== undefined && again.acceptedId !== original.acceptedId)
              violations.push({
                invariant: 'idempotence: a replay answered 2xx is the transaction first accepted',
                what: `first ${original.acceptedId}, now ${again.acceptedId}`,
                sent: again,
              });
          };
        }
        case 'mutated': {
          const { body, unchanged } = mutate(label, item.mutation);
          return async () => {
            // A mutation that leaves the parsed body as it was (a key that is not there, whitespace between
            // tokens) leaves a valid CREATE: it is held to invariant (4) like one.
            await send(
              unchanged ? 'mutated (still valid)' : 'mutated',
              'POST',
              '/api/v1/transactions/',
              body,
              {
                tags: [item.mutation.type],
                builtValid: unchanged,
              },
            );
          };
        }
        case 'garbage':
          return async () => {
            await send('garbage', 'POST', '/api/v1/transactions/', item.body);
          };
        case 'get':
          return async () => {
            await send('GET path', 'GET', item.path, undefined);
          };
      }
    }

    /** A valid client CREATE (or, for `input`, a TRANSFER of nothing), then changed as `change` says. */
    function mutate(label: string, change: Mutation): { body: string; unchanged: boolean } {
      const { built } = plainCreate(label);
      const body = mutated(built, change);
      let unchanged = false;
      try {
        unchanged = canonical(JSON.parse(body)) === canonical(JSON.parse(built.text));
      } catch {
        unchanged = false;
      }
      return { body, unchanged };
    }

    function mutated(built: Built, change: Mutation): string {
      const value = JSON.parse(built.text) as Record<string, unknown>;
      const at = (fraction: number) => Math.floor(fraction * built.text.length);
      const walk = (keys: (string | number)[]): [Record<string | number, unknown>, string | number] => {
        let target = value as Record<string | number, unknown>;
        for (const key of keys.slice(0, -1)) {
          const next = target[key];
          if (typeof next !== 'object' || next === null) break;
          target = next as Record<string | number, unknown>;
        }
        return [target, keys.at(-1)!];
      };
      const tx = value.transaction as Transaction['transaction'];
      switch (change.type) {
        case 'set': {
          const [target, key] = walk(change.path);
          target[key] = change.value instanceof Raw ? Number(change.value.text) : change.value;
          return JSON.stringify(value);
        }
        case 'delete': {
          const [target, key] = walk(change.path);
          delete target[key];
          return JSON.stringify(value);
        }
        case 'truncate':
          return built.text.slice(0, at(change.at));
        case 'splice':
          return (
            built.text.slice(0, at(change.at)) +
            change.insert +
            built.text.slice(at(change.at) + change.remove)
          );
        case 'owner':
          tx.fulfillments[0]!.owners_before[0] = change.owner;
          tx.fulfillments[0]!.fulfillment = null;
          return JSON.stringify(value);
        case 'fulfillment':
          (tx.fulfillments[0] as unknown as Record<string, unknown>).fulfillment = change.fulfillment;
          return JSON.stringify(value);
        case 'input':
          tx.operation = 'TRANSFER';
          (tx.fulfillments[0] as unknown as Record<string, unknown>).input = change.input;
          return JSON.stringify(value);
        case 'deep': {
          const deep = `${'{"a":'.repeat(change.depth)}1${'}'.repeat(change.depth)}`;
          const mark = '"@@deep@@"';
          if (change.where === 'payload') tx.data.payload = '@@deep@@' as never;
          else if (change.where === 'id') value.id = '@@deep@@';
          else tx.fulfillments[0]!.input = '@@deep@@' as never;
          return JSON.stringify(value).replace(mark, () => deep);
        }
      }
    }

    // --- send the batches -------------------------------------------------------------------------------
    let batches = 0;
    let cut = false;
    let stalledBatches = 0;
    for (let batch = 0; batch * BATCH < BODIES; batch++) {
      if (Date.now() - started > SEND_BUDGET_MS) {
        cut = true;
        break;
      }
      const steps = fc.sample(step, { seed: SEED + batch, numRuns: Math.min(BATCH, BODIES - batch * BATCH) });
      pendingAssets.length = 0;
      const jobs = steps.map((item, i) => plan(item, `${batch}.${i}`));
      const firstSeq = seq;
      await mapLimit(jobs, CONCURRENCY, (job) => job());
      batches++;
      const fresh = sentLog.filter((sent) => sent.seq >= firstSeq && sent.acceptedId !== undefined);
      for (const sent of fresh) if (sent.category !== 'replay') acceptedBodies.push(sent);
      // Wait (briefly) for this batch, so the next can transfer what became valid.
      const ids = [...new Set(fresh.map((sent) => sent.acceptedId!))];
      await settle(ids, 5_000, stalledBatches > 0 ? 500 : 1_500);
      if (ids.some((id) => !decided(accepted.get(id)!.status))) stalledBatches++;
      // What became valid is the next batches' to spend; an input whose spend was refused is unspent again.
      const outcome = (pending: (typeof pendingAssets)[number]) => {
        const id = pending.sent()?.acceptedId;
        return { id, status: id === undefined ? 'refused' : accepted.get(id)!.status };
      };
      for (const pending of pendingAssets) {
        const { id, status } = outcome(pending);
        if (status !== 'valid') continue;
        const asset = pending.asset(id!);
        maxHops = Math.max(maxHops, asset.hops);
        pool.push(asset);
        if (pending.from) spent.push({ asset: pending.from, by: id! });
      }
      for (const pending of pendingAssets) {
        const { from } = pending;
        const { status } = outcome(pending);
        if (from === undefined || (status !== 'refused' && status !== 'invalid')) continue;
        if (!spent.some((entry) => entry.asset === from) && !pool.includes(from)) pool.push(from);
      }
    }
    const last = plainCreate('final canary');
    const canary = await send('final canary CREATE', 'POST', '/api/v1/transactions/', last.built.text, {
      builtValid: true,
    });
    const lastPost = Date.now();

    // --- (3) everything accepted is decided ---------------------------------------------------------------
    await settle([...accepted.keys()], DECIDE_MS, FINAL_QUIET_MS);
    const waited = Date.now() - lastPost;

    const inOrder = [...accepted.values()].sort((a, b) => a.sent.seq - b.sent.seq);
    const undecided = inOrder.filter((entry) => !decided(entry.status));
    const undecidedTags = new Map<string, number>();
    for (const entry of undecided)
      for (const tag of entry.sent.tags.length > 0 ? entry.sent.tags : ['(no hostile tag)'])
        undecidedTags.set(tag, (undecidedTags.get(tag) ?? 0) + 1);
    for (const entry of undecided)
      violations.push({
        invariant: '(3) accepted transactions are decided',
        what: `${entry.id} is ${entry.status} ${Math.round(waited / 1000)} s after the last POST`,
        sent: entry.sent,
      });

    // --- (4a) a plain, valid CREATE is accepted, whatever was sent before it ---------------------------
    for (const sent of sentLog) {
      if (
        (sent.category === 'plain CREATE' || sent.category === 'final canary CREATE') &&
        sent.status !== 201
      )
        violations.push({
          invariant: '(4a) a plain valid CREATE is accepted',
          what: `answered ${sent.status}: ${excerpt(sent.answer)}`,
          sent,
        });
    }

    // --- (4) what was built valid and accepted is valid; conflicting spends are not both valid ------------
    for (const entry of inOrder) {
      if (entry.sent.builtValid && !entry.conflicting && entry.status !== 'valid')
        violations.push({
          invariant: '(4) built valid and accepted → valid',
          what: `${entry.id} is ${entry.status}`,
          sent: entry.sent,
        });
      if (entry.sent.category === 'double spend' && entry.status === 'valid')
        violations.push({ invariant: 'safety: no double spend is valid', what: entry.id, sent: entry.sent });
    }
    for (const pair of rivalPairs) {
      const statuses = pair.map((id) => (id === undefined ? undefined : accepted.get(id)?.status));
      if (statuses.filter((status) => status === 'valid').length > 1)
        violations.push({
          invariant: 'safety: no double spend is valid',
          what: `both rivals ${pair.join(', ')} valid`,
        });
      const taken = statuses.filter((status) => status !== undefined);
      if (taken.length > 0 && taken.every(decided) && !taken.includes('valid'))
        violations.push({
          invariant: '(4) built valid and accepted → valid',
          what: `neither rival spend of one valid output is valid: ${pair.join(', ')} are ${statuses.join(', ')}`,
        });
    }

    // --- (5) the node is up and logged no ERROR -----------------------------------------------------------
    const alive = node.child.exitCode === null && node.child.signalCode === null;
    const home = alive
      ? await fetch(`${base}/`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).then(
          (response) => String(response.status),
          (error: unknown) => String(error),
        )
      : 'dead';
    if (!alive || home !== '200')
      violations.push({
        invariant: '(5) the node is alive, no ERROR line',
        what: `exit ${node.child.exitCode}, GET → ${home}`,
      });
    const errorLines = atLevel(node.lines, 'error');
    const errorKinds = new Map<string, number>();
    for (const record of errorLines) {
      const kind = collapse(
        `${record.name ?? ''} ${record.msg}`.replace(/[0-9a-f]{64}/g, '<id>').replace(/\d+/g, 'N'),
      ).slice(0, 240);
      errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
    }
    for (const [kind, count] of errorKinds)
      violations.push({ invariant: '(5) the node is alive, no ERROR line', what: `${count}× ${kind}` });

    // --- the tally ----------------------------------------------------------------------------------------
    const finals = new Map<string, Map<string, number>>();
    for (const entry of inOrder) increment(finals, entry.sent.category, entry.status);
    const posts = sentLog.filter((sent) => sent.method === 'POST').length;
    const decidedAfterFirstStuck =
      undecided.length === 0
        ? 0
        : inOrder.filter((e) => e.sent.seq > undecided[0]!.sent.seq && decided(e.status)).length;
    const lines = [
      `seed ${SEED} (HOSTILE_SEED=${SEED} to repeat), ${posts} POST bodies + ${sentLog.length - posts} GETs in ${batches} batches${cut ? ` (send budget reached: ${BODIES} asked)` : ''}, ${Math.round((Date.now() - started) / 1000)} s`,
      `accepted ${accepted.size} transactions; ${accepted.size - undecided.length} decided, ${undecided.length} not, ${Math.round(waited / 1000)} s after the last POST; assets chained up to ${maxHops} hops, ${spent.length} outputs seen spent`,
      'answers by category (HTTP code × count; 0 = no answer):',
      ...formatTable(codes),
      'final status of accepted transactions by category:',
      ...formatTable(finals),
      'reasons of the 4xx/5xx answers by category:',
      ...formatTable(reasons),
      'answers to hostile CREATEs and TRANSFERs by what is in them:',
      ...formatTable(tagCodes),
      `final canary: ${canary.status} ${canary.acceptedId === undefined ? excerpt(canary.answer) : (accepted.get(canary.acceptedId)?.status ?? '?')}`,
    ];
    if (undecided.length > 0) {
      lines.push(
        `first accepted transaction never decided: ${describeSent(undecided[0]!.sent)}`,
        `accepted after it and decided: ${decidedAfterFirstStuck}; not decided: ${undecided.filter((e) => e.status === 'undecided').length} in a block (election stuck), ${undecided.filter((e) => e.status === 'backlog').length} never in a block (block pipeline stuck), ${undecided.filter((e) => e.status !== 'undecided' && e.status !== 'backlog').length} other`,
        ...undecided
          .filter((e) => e.sent.tags.length > 0 && e.sent.category === 'hostile CREATE')
          .slice(0, 3)
          .map((e) => `first hostile ones among them (${e.status}): ${describeSent(e.sent)}`),
        `undecided by tag: ${[...undecidedTags.entries()].map(([tag, n]) => `${tag}×${n}`).join(' ')}`,
      );
    }
    lines.push(`ERROR lines in the node log: ${errorLines.length}`);
    for (const [kind, count] of errorKinds) lines.push(`  ${count}× ${kind}`);
    for (const line of lines) t.diagnostic(line);

    if (violations.length > 0) {
      const byInvariant = new Map<string, Violation[]>();
      for (const violation of violations)
        byInvariant.set(violation.invariant, [...(byInvariant.get(violation.invariant) ?? []), violation]);
      const report = [...byInvariant.entries()].map(([invariant, list]) => {
        const kinds = new Map<string, number>();
        for (const v of list) {
          const key = `${v.sent?.category ?? 'node'}: ${collapse(v.what.replace(/[0-9a-f]{64}/g, '<id>').replace(/\d+ s/, 'N s'))}`;
          kinds.set(key, (kinds.get(key) ?? 0) + 1);
        }
        const examples = list
          .filter((v) => v.sent !== undefined)
          .slice(0, 4)
          .map((v) => `    e.g. ${v.what}: ${describeSent(v.sent!)}`);
        return [
          `${invariant}: ${list.length} violation(s)`,
          ...[...kinds.entries()].slice(0, 12).map(([kind, count]) => `    ${count}× ${kind}`),
          ...examples,
        ].join('\n');
      });
      assert.fail(`seed ${SEED}: ${violations.length} violations\n${report.join('\n')}`);
    }
  },
);

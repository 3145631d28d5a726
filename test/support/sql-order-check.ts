/**
 * A check for one class of SQL bug: ordering, paging or comparing on a value cast to text. PostgreSQL
 * compares text by collation, so '9' > '10': `SELECT id, seq::text AS seq … ORDER BY seq DESC LIMIT 1`
 * returns block 9, not block 10, because a bare ORDER BY name means the output column of that name (here
 * the text) before the input column. That query picked "the last valid block" for restore and prune and
 * deleted valid blocks (issue 12).
 *
 * sqlOrderProblems(sql) reads one statement the way PostgreSQL resolves names:
 *
 * - In an ORDER BY of a query, a bare name (or a bare name in parentheses) is an output column if the
 *   select list has one of that name, and a number is the n-th output column; anything else, a qualified
 *   name (b.seq) or an expression, refers to the input columns. An output column named by an alias, or by
 *   the implicit name of a cast column (`seq::text` is named seq), is text when its outermost operation is
 *   a cast to text, varchar, char, name or bpchar (`::` or CAST).
 * - An ORDER BY inside an aggregate or a window (`array_agg(x ORDER BY seq)`) sees only input columns.
 * - A derived table or CTE passes its text columns on: `FROM (SELECT seq::text AS seq …) s ORDER BY s.seq`
 *   sorts text however it is qualified.
 *
 * It reports: an ORDER BY item naming a text output column (by name or number) or a text column of a
 * derived table or CTE; an ORDER BY item that is itself a cast to text; a cast of a column aliased to the
 * column's own name (any cast type) with a bare ORDER BY of that name; and a comparison (<, >, <=, >=:
 * what paging uses) whose operand is a cast to text of anything but a parameter or literal, a text column
 * of a derived table or CTE, or the bare name of a text output column of the same query. The last one is
 * stricter than PostgreSQL (a WHERE sees the input column), on purpose: the reader, and the next edit that
 * wraps the query, take the name for the text alias, so such names are qualified.
 */

import ts from 'typescript';

export interface SqlProblem {
  /** offset in the statement of the token at fault */
  offset: number;
  message: string;
}

// --- tokens and groups ----------------------------------------------------------------------------------

type TokenKind = 'ident' | 'string' | 'number' | 'param' | 'op' | 'punct';

interface Token {
  kind: TokenKind;
  /** identifiers lowercased (unquoted ones are case-folded by PostgreSQL); others as written */
  value: string;
  offset: number;
  /** offset after its last character */
  end: number;
  quoted?: boolean;
}

interface Group {
  kind: 'group';
  children: SqlNode[];
  offset: number;
  end: number;
}

type SqlNode = Token | Group;

const OPERATOR_CHARS = '+-*/<>=~!@#%^&|`?';

/** PostgreSQL's lexical structure, forgivingly: an unterminated string or comment runs to the end. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  const push = (token: Omit<Token, 'end'>) => tokens.push({ ...token, end: i });
  while (i < n) {
    const c = sql[i]!;
    const start = i;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'") {
      i++;
      while (i < n) {
        if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i = Math.min(n, i + 1);
      push({ kind: 'string', value: sql.slice(start, i), offset: start });
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      i = end === -1 ? n : end + 1;
      push({ kind: 'ident', value: sql.slice(start + 1, i - 1), offset: start, quoted: true });
    } else if (c === '$' && /[0-9]/.test(sql[i + 1] ?? '')) {
      i++;
      while (i < n && /[0-9]/.test(sql[i]!)) i++;
      push({ kind: 'param', value: sql.slice(start, i), offset: start });
    } else if (c === '$') {
      // A dollar-quoted string ($$…$$, $tag$…$tag$), e.g. a function body: one opaque token.
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag === undefined) {
        i++;
        push({ kind: 'punct', value: '$', offset: start });
      } else {
        const end = sql.indexOf(tag, i + tag.length);
        i = end === -1 ? n : end + tag.length;
        push({ kind: 'string', value: sql.slice(start, i), offset: start });
      }
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      while (i < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[i]!)) i++;
      push({ kind: 'ident', value: sql.slice(start, i).toLowerCase(), offset: start });
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      while (i < n && /[0-9.eE]/.test(sql[i]!)) i++;
      push({ kind: 'number', value: sql.slice(start, i), offset: start });
    } else if (c === ':' && sql[i + 1] === ':') {
      i += 2;
      push({ kind: 'op', value: '::', offset: start });
    } else if (OPERATOR_CHARS.includes(c)) {
      while (i < n && OPERATOR_CHARS.includes(sql[i]!)) {
        // A comment start ends an operator.
        if ((sql[i] === '-' && sql[i + 1] === '-') || (sql[i] === '/' && sql[i + 1] === '*')) break;
        i++;
      }
      // As PostgreSQL: a multi-character operator ends in + or - only if it has one of ~!@#%^&|`?
      // (so `a>-1` is `a > -1`).
      while (
        i - start > 1 &&
        /[+-]$/.test(sql.slice(start, i)) &&
        !/[~!@#%^&|`?]/.test(sql.slice(start, i))
      ) {
        i--;
      }
      push({ kind: 'op', value: sql.slice(start, i), offset: start });
    } else {
      i++;
      push({ kind: 'punct', value: c, offset: start });
    }
  }
  return tokens;
}

/** Parenthesised groups as nodes; brackets stay tokens. An unbalanced ')' is dropped. */
function nest(tokens: readonly Token[]): SqlNode[] {
  const root: SqlNode[] = [];
  const stack: SqlNode[][] = [root];
  const groups: Group[] = [];
  for (const token of tokens) {
    const top = stack.at(-1)!;
    if (token.kind === 'punct' && token.value === '(') {
      const group: Group = { kind: 'group', children: [], offset: token.offset, end: token.end };
      top.push(group);
      groups.push(group);
      stack.push(group.children);
    } else if (token.kind === 'punct' && token.value === ')') {
      if (stack.length > 1) {
        stack.pop();
        groups.pop()!.end = token.end;
      }
    } else {
      top.push(token);
    }
  }
  return root;
}

const isGroup = (node: SqlNode | undefined): node is Group => node?.kind === 'group';
const isIdent = (node: SqlNode | undefined, ...values: string[]): node is Token =>
  node !== undefined &&
  node.kind === 'ident' &&
  (values.length === 0 || (node.quoted !== true && values.includes(node.value)));
const isPunct = (node: SqlNode | undefined, value: string): boolean =>
  node !== undefined && node.kind === 'punct' && node.value === value;
const isOp = (node: SqlNode | undefined, value?: string): node is Token =>
  node !== undefined && node.kind === 'op' && (value === undefined || node.value === value);

function offsetOf(nodes: readonly SqlNode[]): number {
  return nodes[0]?.offset ?? 0;
}

const QUERY_STARTS = ['select', 'with', 'values', 'delete', 'update', 'insert', 'table'];

/** A parenthesised query (a subquery, derived table or CTE body), as opposed to arguments or a row. */
function isQueryGroup(node: SqlNode | undefined): boolean {
  if (!isGroup(node)) return false;
  const [first] = node.children;
  return isIdent(first, ...QUERY_STARTS) || (node.children.length === 1 && isQueryGroup(first));
}

function splitCommas(nodes: readonly SqlNode[]): SqlNode[][] {
  const parts: SqlNode[][] = [[]];
  for (const node of nodes) {
    if (isPunct(node, ',')) parts.push([]);
    else parts.at(-1)!.push(node);
  }
  return parts.filter((part) => part.length > 0);
}

/** `(x)`, `((x))` → `x`: PostgreSQL drops such parentheses before resolving an ORDER BY name. */
function unwrap(nodes: SqlNode[]): SqlNode[] {
  let current = nodes;
  while (current.length === 1 && isGroup(current[0]) && !isQueryGroup(current[0])) {
    current = current[0].children;
  }
  return current;
}

// --- casts ------------------------------------------------------------------------------------------------

const TEXT_TYPES = new Set(['text', 'varchar', 'char', 'character', 'bpchar', 'name', 'citext', 'string']);
const MULTIWORD_TYPES = [
  ['character', 'varying'],
  ['char', 'varying'],
  ['double', 'precision'],
  ['bit', 'varying'],
  ['timestamp', 'with', 'time', 'zone'],
  ['timestamp', 'without', 'time', 'zone'],
  ['time', 'with', 'time', 'zone'],
  ['time', 'without', 'time', 'zone'],
];

interface TypeName {
  /** the words of the type, e.g. ['character', 'varying'], schema dropped */
  words: string[];
  /** nodes it took */
  length: number;
}

/** A type name at `nodes[at]`: words, an optional (n) and optional [] pairs. */
function typeAt(nodes: readonly SqlNode[], at: number): TypeName | undefined {
  let i = at;
  const first = nodes[i];
  if (!isIdent(first)) return undefined;
  // pg_catalog.text
  if (isPunct(nodes[i + 1], '.') && isIdent(nodes[i + 2])) i += 2;
  const word = (nodes[i] as Token).value;
  let words = [word];
  for (const multi of MULTIWORD_TYPES) {
    if (multi[0] === word && multi.every((w, k) => isIdent(nodes[i + k], w))) {
      words = multi;
      break;
    }
  }
  i += words.length;
  if (isGroup(nodes[i]) && !isQueryGroup(nodes[i])) i++;
  while (isPunct(nodes[i], '[') && isPunct(nodes[i + 1], ']')) i += 2;
  return { words, length: i - at };
}

const isTextType = (type: TypeName): boolean => TEXT_TYPES.has(type.words[0]!);

interface Cast {
  type: TypeName;
  /** the nodes of the value cast */
  argument: SqlNode[];
  /** nodes after the cast (an implicit alias, or more expression when the cast is not outermost) */
  rest: SqlNode[];
  /** offset of the `::` or CAST */
  offset: number;
}

/** The cast that is the outermost operation of `expression`, if it is one: `x::t` or `CAST(x AS t)`. */
function outermostCast(expression: readonly SqlNode[]): Cast | undefined {
  let at = -1;
  for (let i = expression.length - 1; i >= 0; i--) {
    if (isOp(expression[i], '::')) {
      at = i;
      break;
    }
  }
  if (at > 0) {
    const type = typeAt(expression, at + 1);
    if (type === undefined) return undefined;
    const argument = expression.slice(0, at);
    // `a || b::text` casts only b: the outermost operation is ||.
    if (!isPrimary(argument)) return undefined;
    return { type, argument, rest: expression.slice(at + 1 + type.length), offset: expression[at]!.offset };
  }
  const [head, body] = expression;
  if (isIdent(head, 'cast') && isGroup(body)) {
    const children = body.children;
    for (let i = children.length - 1; i > 0; i--) {
      if (isIdent(children[i], 'as')) {
        const type = typeAt(children, i + 1);
        if (type === undefined || i + 1 + type.length !== children.length) return undefined;
        return { type, argument: children.slice(0, i), rest: expression.slice(2), offset: head.offset };
      }
    }
  }
  return undefined;
}

/** One operand with nothing binding looser than `::` at its top: a name, literal, call, group or cast. */
function isPrimary(nodes: readonly SqlNode[]): boolean {
  if (nodes.length === 0) return false;
  return (
    nodes.every(
      (node) =>
        isGroup(node) ||
        node.kind === 'ident' ||
        node.kind === 'string' ||
        node.kind === 'number' ||
        node.kind === 'param' ||
        isPunct(node, '.') ||
        isPunct(node, '[') ||
        isPunct(node, ']') ||
        isOp(node, '::'),
    ) && !nodes.some((node) => isIdent(node, ...CLAUSE_WORDS))
  );
}

/** `name`, `t.name`, `s.t.name`, or one of those in parentheses: the column's name. */
function columnName(nodes: SqlNode[]): { name: string; qualified: boolean } | undefined {
  const inner = unwrap(nodes);
  const [only] = inner;
  if (inner.length === 1 && isIdent(only) && !CLAUSE_WORDS.includes(only.value)) {
    return { name: only.value, qualified: false };
  }
  if (inner.length >= 3 && inner.length % 2 === 1) {
    for (let i = 0; i < inner.length; i++) {
      if (i % 2 === 0 ? !isIdent(inner[i]) : !isPunct(inner[i], '.')) return undefined;
    }
    return { name: (inner.at(-1) as Token).value, qualified: true };
  }
  return undefined;
}

// --- clauses --------------------------------------------------------------------------------------------

/** Words that end an operand or a clause; never part of a column reference. */
const CLAUSE_WORDS = [
  'select',
  'from',
  'where',
  'group',
  'having',
  'window',
  'order',
  'by',
  'limit',
  'offset',
  'fetch',
  'for',
  'union',
  'intersect',
  'except',
  'returning',
  'into',
  'values',
  'set',
  'on',
  'using',
  'join',
  'and',
  'or',
  'not',
  'when',
  'then',
  'else',
  'end',
  'case',
  'between',
  'in',
  'is',
  'like',
  'ilike',
  'similar',
  'as',
  'distinct',
  'all',
  'any',
  'some',
  'exists',
  'asc',
  'desc',
  'nulls',
  'with',
  'conflict',
  'do',
];

const SELECT_LIST_END = [
  'from',
  'into',
  'where',
  'group',
  'having',
  'window',
  'order',
  'limit',
  'offset',
  'fetch',
  'for',
  'union',
  'intersect',
  'except',
  'returning',
];
const ORDER_BY_END = [
  'limit',
  'offset',
  'fetch',
  'for',
  'union',
  'intersect',
  'except',
  'returning',
  'window',
];
const FROM_END = [
  'where',
  'group',
  'having',
  'window',
  'order',
  'limit',
  'offset',
  'fetch',
  'for',
  'union',
  'intersect',
  'except',
  'returning',
];

function until(nodes: readonly SqlNode[], from: number, ends: readonly string[]): SqlNode[] {
  const out: SqlNode[] = [];
  for (let i = from; i < nodes.length; i++) {
    const node = nodes[i]!;
    if (isPunct(node, ';') || isIdent(node, ...ends)) break;
    out.push(node);
  }
  return out;
}

interface OutputColumn {
  /** 1-based position in its select list */
  position: number;
  /** the output name: the alias, or the implicit name of a cast */
  name: string | undefined;
  text: boolean;
  /** set when the column is a cast: the column it casts, when it casts a plain column */
  castOf: string | undefined;
  cast: boolean;
  /** where the select-list item starts and ends, for messages */
  start: number;
  end: number;
}

function outputColumn(item: SqlNode[], position: number): OutputColumn {
  let expression = item;
  let alias: string | undefined;
  const last = item.at(-1);
  if (item.length >= 3 && isIdent(item.at(-2), 'as') && isIdent(last)) {
    alias = last.value;
    expression = item.slice(0, -2);
  }
  const span = { start: offsetOf(item), end: item.at(-1)?.end ?? 0 };
  const plain = { position, name: alias, text: false, castOf: undefined, cast: false, ...span };
  const cast = outermostCast(expression);
  if (cast === undefined) return plain;
  if (cast.rest.length > 0) {
    // `seq::text seq`: an alias without AS. Anything longer means the cast was not the outermost operation.
    if (alias !== undefined || cast.rest.length !== 1 || !isIdent(cast.rest[0])) return plain;
    alias = cast.rest[0].value;
  }
  const source = columnName(cast.argument);
  // PostgreSQL names a cast column after the column it casts, else after the type.
  const name = alias ?? source?.name ?? cast.type.words.at(-1);
  return { position, name, text: isTextType(cast.type), castOf: source?.name, cast: true, ...span };
}

/** The output columns of a query's select lists (all of them, for a UNION) and RETURNING lists. */
function outputColumns(scope: readonly SqlNode[]): OutputColumn[][] {
  const lists: OutputColumn[][] = [];
  for (let i = 0; i < scope.length; i++) {
    const node = scope[i];
    if (!isIdent(node, 'select', 'returning')) continue;
    let from = i + 1;
    if (isIdent(scope[from], 'all')) from++;
    if (isIdent(scope[from], 'distinct')) {
      from++;
      if (isIdent(scope[from], 'on') && isGroup(scope[from + 1])) from += 2;
    }
    const items = splitCommas(until(scope, from, SELECT_LIST_END));
    lists.push(items.map((item, index) => outputColumn(item, index + 1)));
  }
  return lists;
}

/** Derived tables and CTE bodies of a query: the row sources whose columns it reads. */
function rowSources(scope: readonly SqlNode[]): Group[] {
  const sources: Group[] = [];
  let inFrom = false;
  for (let i = 0; i < scope.length; i++) {
    const node = scope[i]!;
    if (isIdent(node, 'from', 'join', 'using')) inFrom = true;
    else if (isIdent(node, ...FROM_END)) inFrom = false;
    if (!isQueryGroup(node)) continue;
    let before = i - 1;
    if (isIdent(scope[before], 'materialized')) before--;
    if (isIdent(scope[before], 'not')) before--;
    if (inFrom || (isIdent(scope[before], 'as') && isIdent(scope[before - 1]))) sources.push(node as Group);
  }
  return sources;
}

/** ORDER BY item lists among `nodes`, top level only. */
function orderByLists(nodes: readonly SqlNode[]): SqlNode[][][] {
  const lists: SqlNode[][][] = [];
  for (let i = 0; i + 1 < nodes.length; i++) {
    if (isIdent(nodes[i], 'order') && isIdent(nodes[i + 1], 'by')) {
      lists.push(splitCommas(until(nodes, i + 2, ORDER_BY_END)).map(stripDirection));
    }
  }
  return lists;
}

function stripDirection(item: SqlNode[]): SqlNode[] {
  let end = item.length;
  const at = (k: number) => item[end - k];
  for (;;) {
    if (isIdent(at(1), 'asc', 'desc')) end -= 1;
    else if (isIdent(at(1), 'first', 'last') && isIdent(at(2), 'nulls')) end -= 2;
    else if (isOp(at(1)) && isIdent(at(2), 'using')) end -= 2;
    else break;
  }
  return item.slice(0, end);
}

/** The non-query groups of a scope (function arguments, windows, rows), recursively. */
function innerGroups(nodes: readonly SqlNode[]): Group[] {
  const groups: Group[] = [];
  for (const node of nodes) {
    if (isGroup(node) && !isQueryGroup(node)) groups.push(node, ...innerGroups(node.children));
  }
  return groups;
}

/** Every query in the statement: the statement itself and each parenthesised query, at any depth. */
function queries(nodes: readonly SqlNode[]): SqlNode[][] {
  const found: SqlNode[][] = [];
  const walk = (list: readonly SqlNode[], isQuery: boolean) => {
    if (isQuery) found.push([...list]);
    for (const node of list) {
      if (isGroup(node)) walk(node.children, isQueryGroup(node));
    }
  };
  walk(nodes, true);
  return found;
}

// --- the check --------------------------------------------------------------------------------------------

const COMPARISONS = new Set(['<', '>', '<=', '>=']);

function describeColumn(column: OutputColumn, sql: string): string {
  return sql.slice(column.start, column.end).replace(/\s+/g, ' ');
}

/** The problems of one SQL statement (or fragment); [] when none. */
export function sqlOrderProblems(sql: string): SqlProblem[] {
  const problems: SqlProblem[] = [];
  const report = (offset: number, message: string) => {
    if (!problems.some((p) => p.offset === offset && p.message === message))
      problems.push({ offset, message });
  };
  for (const scope of queries(nest(tokenize(sql)))) {
    const lists = outputColumns(scope);
    const columns = lists.flat();
    const textColumns = new Map<string, OutputColumn>();
    for (const column of columns) {
      if (column.text && column.name !== undefined) textColumns.set(column.name, column);
    }
    const textInputs = new Set<string>();
    for (const source of rowSources(scope)) {
      for (const column of outputColumns(source.children).flat()) {
        if (column.text && column.name !== undefined) textInputs.add(column.name);
      }
    }

    const checkTextCast = (item: SqlNode[], what: string) => {
      const cast = outermostCast(unwrap(item));
      if (cast !== undefined && cast.rest.length === 0 && isTextType(cast.type)) {
        report(cast.offset, `${what} a value cast to ${cast.type.words.join(' ')}: text compares '9' > '10'`);
      }
    };
    const checkTextInput = (item: SqlNode[], what: string) => {
      const ref = columnName(item);
      if (ref !== undefined && textInputs.has(ref.name)) {
        report(
          offsetOf(item),
          `${what} ${ref.name}, a text column of a derived table or CTE (a ::text cast there): ` +
            `text compares '9' > '10'; pass the original type through`,
        );
      }
    };

    // ORDER BY of the query itself: output columns by bare name or number.
    for (const items of orderByLists(scope)) {
      for (const raw of items) {
        const item = unwrap(raw);
        const ref = columnName(item);
        if (ref !== undefined && !ref.qualified) {
          const text = textColumns.get(ref.name);
          const selfCast = columns.find((c) => c.cast && c.name === ref.name && c.castOf === ref.name);
          if (text !== undefined) {
            const own = text.castOf === ref.name ? `, a cast of the column ${ref.name} to its own name` : '';
            report(
              offsetOf(item),
              `ORDER BY ${ref.name} sorts by the output column "${ref.name}" (${describeColumn(text, sql)})${own}, ` +
                `which is text: '9' > '10'; qualify the column (e.g. b.${ref.name}) to sort by its own type`,
            );
          } else if (selfCast !== undefined) {
            report(
              offsetOf(item),
              `ORDER BY ${ref.name} sorts by the output column "${ref.name}" (${describeColumn(selfCast, sql)}), ` +
                `a cast of the column to its own name, not by the column; qualify it`,
            );
          }
        }
        const [number] = item;
        if (item.length === 1 && number?.kind === 'number') {
          const column = lists[0]?.[Number(number.value) - 1];
          if (column?.text === true) {
            report(
              number.offset,
              `ORDER BY ${number.value} sorts by output column ${number.value} ` +
                `(${describeColumn(column, sql)}), which is text: '9' > '10'`,
            );
          }
        }
        checkTextCast(item, 'ORDER BY sorts by');
        checkTextInput(item, 'ORDER BY sorts by');
      }
    }
    // ORDER BY inside aggregates and windows: input columns only.
    for (const group of innerGroups(scope)) {
      for (const items of orderByLists(group.children)) {
        for (const item of items) {
          checkTextCast(item, 'ORDER BY sorts by');
          checkTextInput(item, 'ORDER BY sorts by');
        }
      }
    }

    // Comparisons, as paging uses them: `x > $1`, `(a, b) > ($1, $2)`.
    const checkOperand = (operand: SqlNode[]) => {
      const [row] = operand;
      if (operand.length === 1 && isGroup(row) && row.children.some((n) => isPunct(n, ','))) {
        // A row comparison, (a, b) > ($1, $2): each element is an operand.
        if (!isQueryGroup(row)) for (const element of splitCommas(row.children)) checkOperand(element);
        return;
      }
      const inner = unwrap(operand);
      const cast = outermostCast(inner);
      const literal =
        cast !== undefined && cast.argument.every((n) => n.kind === 'param' || n.kind === 'string');
      if (!literal) checkTextCast(inner, 'a comparison on');
      checkTextInput(inner, 'a comparison on');
      const ref = columnName(inner);
      if (ref !== undefined && !ref.qualified) {
        const text = textColumns.get(ref.name);
        if (text !== undefined) {
          report(
            offsetOf(inner),
            `a comparison on the bare name ${ref.name}, which is also the text output column ` +
              `"${ref.name}" (${describeColumn(text, sql)}); qualify it (e.g. b.${ref.name})`,
          );
        }
      }
    };
    for (const list of [scope, ...innerGroups(scope).map((group) => group.children)]) {
      list.forEach((node, i) => {
        if (!isOp(node) || !COMPARISONS.has(node.value)) return;
        checkOperand(operandBefore(list, i));
        checkOperand(operandAfter(list, i));
      });
    }
  }
  return problems.sort((a, b) => a.offset - b.offset);
}

const isOperandPart = (node: SqlNode): boolean =>
  isGroup(node)
    ? !isQueryGroup(node)
    : (node.kind !== 'op' || node.value === '::') &&
      !isPunct(node, ',') &&
      !isPunct(node, ';') &&
      !isIdent(node, ...CLAUSE_WORDS);

function operandBefore(list: readonly SqlNode[], at: number): SqlNode[] {
  let start = at;
  while (start > 0 && isOperandPart(list[start - 1]!)) start--;
  return list.slice(start, at);
}

function operandAfter(list: readonly SqlNode[], at: number): SqlNode[] {
  let end = at + 1;
  while (end < list.length && isOperandPart(list[end]!)) end++;
  return list.slice(at + 1, end);
}

/**
 * The shapes of SQL statements (and of the clauses a statement is built from), keywords in capitals as
 * this repository writes them: a keyword alone is not enough (`'DELETE'` is also an HTTP method, "SET" a
 * word), its clause's next word is required too.
 */
const SQL_SHAPES = [
  /^\s*SELECT\s+\S/,
  /\bSELECT\s[\s\S]*?\sFROM\s/,
  /\bINSERT\s+INTO\s/,
  /\bUPDATE\s+[\w."]+(\s+(AS\s+)?\w+)?\s+SET\s/,
  /\bDELETE\s+FROM\s/,
  /\b(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+|UNIQUE\s+|UNLOGGED\s+|TEMP(ORARY)?\s+)*(TABLE|INDEX|SEQUENCE|FUNCTION|TRIGGER|VIEW|SCHEMA|DATABASE|EXTENSION|ROLE|USER)\b/,
  /^\s*TRUNCATE\s+(TABLE\s+)?[\w"]/,
  /^\s*REINDEX\s+(\(\w+\)\s+)?(TABLE|INDEX|SCHEMA|DATABASE|SYSTEM)\b/,
  /\bLOCK\s+TABLE\s/,
  /\bSET\s+(LOCAL\s+|SESSION\s+)?TRANSACTION\s/,
  /\bDECLARE\s+[\w"]+\s[\s\S]*?\bCURSOR\b/,
  /^\s*FETCH\s+(FORWARD|BACKWARD|NEXT|PRIOR|FIRST|LAST|ALL|ABSOLUTE|RELATIVE|\d)/,
  /\bALTER\s+SYSTEM\s/,
  /^\s*SHOW\s+(ALL\b|[a-z_][\w.]*\s*;?\s*$)/,
  /^\s*(VACUUM|ANALYZE)(\s+\([A-Z, ]+\))?\s+[a-z_]/,
];
/** The same shapes in any case, for a string that also has a parameter ($1) or a cast (::type). */
const ANY_CASE_SHAPES = SQL_SHAPES.map((shape) => new RegExp(shape.source, 'i'));
const SQL_MARKERS = /\$\d|::[a-z]/i;

/**
 * `text` is (or builds) an SQL statement: it has the shape of one (SELECT … FROM, INSERT INTO, UPDATE … SET,
 * DELETE FROM, CREATE/ALTER/DROP TABLE, TRUNCATE, REINDEX, LOCK TABLE, SET TRANSACTION, DECLARE … CURSOR,
 * FETCH, ALTER SYSTEM, SHOW, VACUUM, ANALYZE) with its keywords in capitals, or in any case when it also has
 * a parameter or a cast. Prose ("select a block from the list") is not.
 */
export function looksLikeSql(text: string): boolean {
  return (
    SQL_SHAPES.some((shape) => shape.test(text)) ||
    (SQL_MARKERS.test(text) && ANY_CASE_SHAPES.some((shape) => shape.test(text)))
  );
}

// --- SQL in TypeScript sources ---------------------------------------------------------------------------

/** One string the source spells out, as the program builds it, with where each part came from. */
export interface SourceString {
  text: string;
  /** 1-based line of the string's start */
  line: number;
  /** the line of a character of `text` */
  lineAt(offset: number): number;
}

interface Segment {
  text: string;
  line: number;
}

/** What a `${…}` the scan cannot follow becomes: an identifier that names nothing. */
const UNKNOWN = ' __expr__ ';

/**
 * Every string literal, template literal and `+` concatenation of them in a TypeScript source, as whole
 * strings: a template's `${NAME}` is replaced by NAME's value when NAME is a const of the same file
 * initialized with such a string (how FEED_SELECT reaches the feed queries), any other `${…}` by a
 * placeholder. A string that is part of a larger concatenation or template is reported only as part of
 * the larger one. Newlines inside substituted constants become spaces, so line numbers stay those of the
 * source.
 */
export function sourceStrings(fileName: string, source: string): SourceString[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const constants = new Map<string, ts.Expression>();
  const collect = (node: ts.Node) => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer !== undefined &&
      ts.isVariableDeclarationList(node.parent) &&
      (node.parent.flags & ts.NodeFlags.Const) !== 0
    ) {
      constants.set(node.name.text, node.initializer);
    }
    ts.forEachChild(node, collect);
  };
  collect(file);
  const lineOf = (position: number) => file.getLineAndCharacterOfPosition(position).line + 1;

  const evaluate = (node: ts.Expression, depth: number): Segment[] | undefined => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      return [{ text: node.text, line: lineOf(node.getStart(file)) }];
    }
    if (ts.isTemplateExpression(node)) {
      const segments: Segment[] = [{ text: node.head.text, line: lineOf(node.head.getStart(file)) }];
      for (const span of node.templateSpans) {
        const line = lineOf(span.expression.getStart(file));
        const inlined = substitute(span.expression, depth);
        segments.push({ text: inlined ?? UNKNOWN, line });
        segments.push({ text: span.literal.text, line: lineOf(span.literal.getStart(file)) });
      }
      return segments;
    }
    if (ts.isParenthesizedExpression(node)) return evaluate(node.expression, depth);
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const left = evaluate(node.left, depth) ?? operand(node.left, depth);
      const right = evaluate(node.right, depth) ?? operand(node.right, depth);
      // Only a concatenation with a literal in it is a string the source spells out.
      if (!hasLiteral(node)) return undefined;
      return [...left, ...right];
    }
    return undefined;
  };
  const operand = (node: ts.Expression, depth: number): Segment[] => [
    { text: substitute(node, depth) ?? UNKNOWN, line: lineOf(node.getStart(file)) },
  ];
  const substitute = (node: ts.Expression, depth: number): string | undefined => {
    if (depth > 5) return undefined;
    if (ts.isIdentifier(node)) {
      const value = constants.get(node.text);
      const segments = value === undefined ? undefined : evaluate(value, depth + 1);
      return segments?.map((segment) => segment.text.replace(/\n/g, ' ')).join('');
    }
    const segments = evaluate(node, depth + 1);
    return segments?.map((segment) => segment.text.replace(/\n/g, ' ')).join('');
  };
  const hasLiteral = (node: ts.Node): boolean =>
    ts.isStringLiteral(node) ||
    ts.isNoSubstitutionTemplateLiteral(node) ||
    ts.isTemplateExpression(node) ||
    (ts.isParenthesizedExpression(node) && hasLiteral(node.expression)) ||
    (ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.PlusToken &&
      (hasLiteral(node.left) || hasLiteral(node.right)));
  /** Part of a larger string: a + operand, or a parenthesised one. */
  const isPart = (node: ts.Node): boolean => {
    const parent = node.parent;
    return (
      (ts.isBinaryExpression(parent) &&
        parent.operatorToken.kind === ts.SyntaxKind.PlusToken &&
        hasLiteral(parent)) ||
      (ts.isParenthesizedExpression(parent) && isPart(parent))
    );
  };

  const found: SourceString[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isExpression(node) && hasLiteral(node) && !isPart(node) && !ts.isParenthesizedExpression(node)) {
      const segments = evaluate(node, 0);
      if (segments !== undefined) {
        const text = segments.map((segment) => segment.text).join('');
        const starts: number[] = [];
        let at = 0;
        for (const segment of segments) {
          starts.push(at);
          at += segment.text.length;
        }
        found.push({
          text,
          line: segments[0]?.line ?? lineOf(node.getStart(file)),
          lineAt(offset) {
            let k = starts.length - 1;
            while (k > 0 && starts[k]! > offset) k--;
            const segment = segments[k]!;
            const before = segment.text.slice(0, offset - starts[k]!);
            return segment.line + (before.match(/\n/g)?.length ?? 0);
          },
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** `file:line: message` for every problem in the SQL strings of the given TypeScript files. */
export function checkSources(files: readonly { name: string; text: string }[]): {
  problems: string[];
  statements: number;
} {
  const problems: string[] = [];
  let statements = 0;
  for (const { name, text } of files) {
    for (const string of sourceStrings(name, text)) {
      if (looksLikeSql(string.text)) statements++;
      for (const problem of sqlOrderProblems(string.text)) {
        problems.push(`${name}:${string.lineAt(problem.offset)}: ${problem.message}`);
      }
    }
  }
  return { problems, statements };
}

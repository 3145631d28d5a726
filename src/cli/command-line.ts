/**
 * Parsing and help texts, both made from the command table (commands.ts). A small parser of its own rather
 * than node:util's parseArgs: `load -m [N]` takes an optional value, which parseArgs cannot express, and
 * after `load`, `-c` is its count while before it (and after any other command) `-c` is the configuration.
 *
 * The rules: `--opt value`, `--opt=value`, `-o value`, `-ovalue`; a required value is the next word
 * whatever it is (`-c -`); global options before or after the command; a command's own option after it
 * (and, for one marked so, before it); `--` ends the options; `-` alone is an argument.
 */
import { UsageError } from './errors.ts';
import {
  COMMANDS,
  findCommand,
  GLOBAL_OPTIONS,
  PROGRAM,
  PROGRAM_SUMMARY,
  type ArgumentSpec,
  type CommandSpec,
  type OptionSpec,
  type ValueSpec,
} from './commands.ts';

export type Value = string | number | boolean;
export type Values = Readonly<Record<string, Value>>;

export type CommandLine =
  /** print the help of the program (no command) or of `command`, to stdout */
  | { kind: 'help'; command?: CommandSpec; notices: string[] }
  | { kind: 'version'; notices: string[] }
  | {
      kind: 'run';
      command: CommandSpec;
      /** every option given, global or the command's, by its long name */
      options: Values;
      /** the command's arguments by name (FILE, NUM_SHARDS) */
      args: Values;
      /** said on stderr before the command runs (a seed alias was used) */
      notices: string[];
    };

const WIDTH = 100;
/** where option and command descriptions start */
const OPTION_COLUMN = 26;
const COMMAND_COLUMN = 20;

// --- parsing ----------------------------------------------------------------------------------------------

function isOption(word: string): boolean {
  return word.length > 1 && word.startsWith('-');
}

interface Match {
  spec: OptionSpec;
  /** the option as written, without a value: `--count`, `-c` */
  written: string;
  /** a value given in the same word: `--count=5`, `-c5` */
  inline?: string;
  notice?: string;
}

function match(word: string, specs: readonly OptionSpec[]): Match | undefined {
  if (word.startsWith('--')) {
    const equals = word.indexOf('=');
    const name = equals === -1 ? word.slice(2) : word.slice(2, equals);
    const written = `--${name}`;
    const inline = equals === -1 ? {} : { inline: word.slice(equals + 1) };
    for (const spec of specs) {
      if (spec.long === name || spec.aliases?.includes(name) === true) return { spec, written, ...inline };
      const seed = spec.seedAliases?.find((alias) => alias.long === name);
      if (seed !== undefined) return { spec, written, ...inline, notice: seed.notice };
    }
    return undefined;
  }
  const written = word.slice(0, 2);
  const spec = specs.find((option) => option.short === word[1]);
  if (spec === undefined) return undefined;
  if (word.length === 2) return { spec, written };
  // `-c5`; no bundling of flags (`-yv`).
  return spec.value === undefined ? undefined : { spec, written, inline: word.slice(2) };
}

/** The name of an option word as the user wrote it, without a value. */
function optionName(word: string): string {
  if (word.startsWith('--')) return word.split('=')[0] as string;
  return word;
}

/** The options accepted at a place: before the command, or after it (the command's own first). */
function accepted(command: CommandSpec | undefined, afterCommand: boolean): OptionSpec[] {
  if (afterCommand && command !== undefined) return [...command.options, ...GLOBAL_OPTIONS];
  return [...GLOBAL_OPTIONS, ...(command?.options.filter((option) => option.beforeCommand === true) ?? [])];
}

/**
 * Where the command name is: the first word that is neither an option nor the value of one. Before the
 * command only global options and flags marked `beforeCommand` may come, so a value is known to follow
 * exactly the global options that take one.
 */
function commandIndex(argv: readonly string[]): number | undefined {
  const before = [...GLOBAL_OPTIONS, ...COMMANDS.flatMap((command) => command.options)].filter(
    (option) => option.global === true || option.beforeCommand === true,
  );
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === '--') return i + 1 < argv.length ? i + 1 : undefined;
    if (!isOption(word)) return i;
    const found = match(word, before);
    if (found?.spec.value !== undefined && found.spec.value.optional !== true && found.inline === undefined)
      i++;
  }
  return undefined;
}

function convert(text: string, spec: ValueSpec, label: string, usage: string): Value {
  if (spec.wholeAtLeast === undefined) return text;
  if (!/^\d+$/.test(text) || Number(text) < spec.wholeAtLeast)
    throw new UsageError(
      `${label} must be a whole number ≥ ${spec.wholeAtLeast}, got ${JSON.stringify(text)}`,
      usage,
    );
  return Number(text);
}

/** Reads a command line against the table; throws a UsageError for anything it does not accept. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const notices: string[] = [];
  const at = commandIndex(argv);
  const name = at === undefined ? undefined : (argv[at] as string);
  const command = name === undefined ? undefined : findCommand(name);
  const usage = command === undefined ? programHelp() : usageReminder(command);
  function fail(message: string): never {
    throw new UsageError(message, usage);
  }

  const options: Record<string, Value> = {};
  const positionals: string[] = [];
  let afterCommand = false;
  let endOfOptions = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (i === at) {
      if (command === undefined)
        throw new UsageError(`unknown command ${JSON.stringify(word)}`, programHelp());
      afterCommand = true;
      endOfOptions = false;
      continue;
    }
    if (endOfOptions || !isOption(word)) {
      positionals.push(word);
      continue;
    }
    if (word === '--') {
      endOfOptions = true;
      continue;
    }
    const found = match(word, accepted(command, afterCommand));
    if (found === undefined) {
      const owner = COMMANDS.find((other) => other !== command && match(word, other.options) !== undefined);
      fail(
        owner === undefined
          ? `unknown option ${optionName(word)}`
          : `${optionName(word)} only applies to ${owner.name}`,
      );
    }
    const { spec, written, inline } = found;
    if (found.notice !== undefined) notices.push(found.notice);
    if (spec.action === 'help')
      return afterCommand ? { kind: 'help', command, notices } : { kind: 'help', notices };
    if (spec.action === 'version') return { kind: 'version', notices };
    if (spec.value === undefined) {
      if (inline !== undefined) fail(`${written} takes no value`);
      options[spec.long] = true;
      continue;
    }
    let text = inline;
    if (text === undefined) {
      const next = argv[i + 1];
      if (spec.value.optional === true) {
        if (next !== undefined && !isOption(next) && i + 1 !== at) {
          text = next;
          i++;
        }
      } else {
        if (next === undefined) fail(`${written} needs a value (${spec.value.name})`);
        text = next;
        i++;
      }
    }
    options[spec.long] = text === undefined ? true : convert(text, spec.value, written, usage);
  }
  if (command === undefined) throw new UsageError('a command is required', programHelp());

  const args: Record<string, Value> = {};
  const declared = command.arguments;
  if (positionals.length > declared.length) {
    fail(
      declared.length === 0
        ? `${command.name} takes no arguments`
        : `unexpected argument ${JSON.stringify(positionals[declared.length])}`,
    );
  }
  declared.forEach((spec, n) => {
    const text = positionals[n];
    if (text === undefined) {
      if (spec.optional !== true) fail(`${command.name} needs ${spec.name}`);
      return;
    }
    args[spec.name] = convert(text, spec, spec.name, usage);
  });

  if (command.action === 'help') {
    const topic = args.COMMAND;
    if (topic === undefined) return { kind: 'help', notices };
    const described = findCommand(String(topic));
    if (described === undefined)
      throw new UsageError(`unknown command ${JSON.stringify(topic)}`, programHelp());
    return { kind: 'help', command: described, notices };
  }
  return { kind: 'run', command, options, args, notices };
}

// --- help texts -------------------------------------------------------------------------------------------

/** Words filled into lines of WIDTH, the first after `first`, the others indented by `indent`. */
function wrap(text: string, first: string, indent: number): string {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = ' '.repeat(indent);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.join('\n');
}

/** A label and its description in two columns; a long label puts the description on the next line. */
function entry(label: string, description: string, column: number): string {
  const head = `  ${label}`;
  if (head.length + 1 > column) return `${head}\n${wrap(description, ' '.repeat(column), column)}`;
  return wrap(description, head.padEnd(column), column);
}

function valueUsage(value: ValueSpec): string {
  return value.optional === true ? `[${value.name}]` : value.name;
}

/** `[-m|--multiprocess [N]]` */
function optionUsage(option: OptionSpec): string {
  const names = option.short === undefined ? `--${option.long}` : `-${option.short}|--${option.long}`;
  return `[${names}${option.value === undefined ? '' : ` ${valueUsage(option.value)}`}]`;
}

function argumentUsage(argument: ArgumentSpec): string {
  return argument.optional === true ? `[${argument.name}]` : argument.name;
}

/** `-m, --multiprocess [N]`; global short names the command uses itself are left out. */
function optionLabel(option: OptionSpec, command?: CommandSpec): string {
  const shadowed =
    command !== undefined &&
    option.global === true &&
    command.options.some((own) => own.short !== undefined && own.short === option.short);
  const names = [
    ...(option.short === undefined || shadowed ? [] : [`-${option.short}`]),
    `--${option.long}`,
    ...(option.aliases ?? []).map((alias) => `--${alias}`),
  ];
  return `${names.join(', ')}${option.value === undefined ? '' : ` ${valueUsage(option.value)}`}`;
}

/** `usage: bigchaindb [-h] [-v] [-c CONFIG] [-y] <command> [<args>]`: the global options with a short name. */
export function programUsage(): string {
  const globals = GLOBAL_OPTIONS.filter((option) => option.short !== undefined)
    .map((option) => `[-${option.short}${option.value === undefined ? '' : ` ${option.value.name}`}]`)
    .join(' ');
  return `usage: ${PROGRAM} ${globals} <command> [<args>]`;
}

export function programHelp(): string {
  const beforeCommand = COMMANDS.flatMap((command) =>
    command.options
      .filter((option) => option.beforeCommand === true)
      .map((option) =>
        entry(
          `--${option.long}`,
          `${command.name}'s own option, also accepted before the command, where the seed placed it ` +
            `(\`${PROGRAM} help ${command.name}\`)`,
          OPTION_COLUMN,
        ),
      ),
  );
  return [
    programUsage(),
    '',
    PROGRAM_SUMMARY,
    '',
    'commands:',
    // One line each, however long: a command and what it does are read (and grepped) together.
    ...COMMANDS.map((command) => `  ${command.name.padEnd(COMMAND_COLUMN - 2)}${command.summary}`),
    '',
    wrap(
      `Run \`${PROGRAM} help COMMAND\` or \`${PROGRAM} COMMAND --help\` for the arguments and options of a command.`,
      '',
      0,
    ),
    '',
    'global options (before or after the command):',
    ...GLOBAL_OPTIONS.map((option) => entry(optionLabel(option), option.description, OPTION_COLUMN)),
    ...beforeCommand,
    '',
  ].join('\n');
}

/** `usage: bigchaindb load [-m|--multiprocess [N]] [-c|--count N]` */
export function commandUsage(command: CommandSpec): string {
  return [
    `usage: ${PROGRAM} ${command.name}`,
    ...command.options.map(optionUsage),
    ...command.arguments.map(argumentUsage),
  ].join(' ');
}

/** What a usage error about a command prints after the reason. */
export function usageReminder(command: CommandSpec): string {
  return `${commandUsage(command)}\n(\`${PROGRAM} ${command.name} --help\` describes its arguments and options)\n`;
}

export function commandHelp(command: CommandSpec): string {
  const sections = [commandUsage(command), '', wrap(command.summary, '', 0)];
  if (command.description !== undefined) sections.push('', wrap(command.description, '', 0));
  if (command.arguments.length > 0)
    sections.push(
      '',
      'arguments:',
      ...command.arguments.map((argument) =>
        entry(
          argument.name,
          `${argument.optional === true ? '(optional) ' : ''}${argument.description}`,
          OPTION_COLUMN,
        ),
      ),
    );
  if (command.options.length > 0)
    sections.push(
      '',
      'options:',
      ...command.options.map((option) => entry(optionLabel(option), option.description, OPTION_COLUMN)),
    );
  sections.push(
    '',
    'global options:',
    ...GLOBAL_OPTIONS.map((option) => entry(optionLabel(option, command), option.description, OPTION_COLUMN)),
    '',
  );
  return sections.join('\n');
}

/**
 * The `bigchaindb` command line, declared once: every command with its arguments and options, and the
 * global options. Usage lines, the help texts, parsing and usage errors are all made from this table
 * (src/cli/command-line.ts); main.ts maps each command name to the function that runs it.
 */

/** What an option or argument value must be. */
export interface ValueSpec {
  /** its name in usage lines: PATH, N, FILE */
  readonly name: string;
  /**
   * An option: it may be given without a value (`load -m`), which then reads as `true`; the next word is
   * its value unless it starts with `-`. An argument: it may be left out.
   */
  readonly optional?: boolean;
  /** a whole number at least this big, parsed to a number */
  readonly wholeAtLeast?: number;
}

export interface OptionSpec {
  /** the long name, without `--` */
  readonly long: string;
  /** the one-letter alias, without `-` */
  readonly short?: string;
  /** more long names meaning the same */
  readonly aliases?: readonly string[];
  /** long names kept for the seed's sake: each works like `long`, with the notice printed on stderr */
  readonly seedAliases?: readonly { readonly long: string; readonly notice: string }[];
  /** absent: a flag */
  readonly value?: ValueSpec;
  readonly description: string;
  /** accepted before or after any command (else it belongs to its command) */
  readonly global?: boolean;
  /** a command's own flag that is also accepted before the command name, where the seed placed it */
  readonly beforeCommand?: boolean;
  /** what the option does at once, whatever else the line says */
  readonly action?: 'help' | 'version';
}

export interface ArgumentSpec extends ValueSpec {
  readonly description: string;
}

export interface CommandSpec {
  readonly name: string;
  /** one line, in the list of commands */
  readonly summary: string;
  /** more, in the command's own help */
  readonly description?: string;
  readonly arguments: readonly ArgumentSpec[];
  readonly options: readonly OptionSpec[];
  /** `help [COMMAND]`: shows a help text instead of running anything */
  readonly action?: 'help';
}

export const PROGRAM = 'bigchaindb';
export const PROGRAM_SUMMARY = 'Control your BigchainDB node.';

export const START_POSTGRESQL = 'experimental-start-postgresql';
export const ACCEPT_FEDERATION_CHANGE = 'accept-federation-change';

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    long: 'help',
    short: 'h',
    global: true,
    action: 'help',
    description: 'show this help and exit (after a command: the help of that command)',
  },
  { long: 'version', short: 'v', global: true, action: 'version', description: 'show the version and exit' },
  {
    long: 'config',
    short: 'c',
    global: true,
    value: { name: 'CONFIG' },
    description:
      'the configuration file (default $BIGCHAINDB_CONFIG_PATH, else ~/.bigchaindb); a file named by -c or ' +
      'BIGCHAINDB_CONFIG_PATH must exist, except for configure (which writes it; -c -: print it instead)',
  },
  {
    long: 'yes',
    short: 'y',
    aliases: ['yes-please'],
    global: true,
    description: 'assume "yes" as answer to all prompts and run non-interactively',
  },
];

const acceptFederationChange = (command: string): OptionSpec => ({
  long: ACCEPT_FEDERATION_CHANGE,
  description:
    `${command} even on a database whose genesis block was made by a key that is neither this node's nor ` +
    "in its keyring, or for a federation (the genesis block's voters) other than this node's keyring and " +
    'key: for when the federation really changed',
});

const count = (name: string, what: string): ArgumentSpec => ({
  name,
  wholeAtLeast: 1,
  description: `the number of ${what}, a whole number ≥ 1`,
});

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'init',
    summary: 'Init the database',
    description:
      'Creates the database and its genesis block, signed by this node for its federation (its keyring and ' +
      'its own key). A database that exists is left as it is ("The database already exists.", exit 0), ' +
      'unless its genesis block was made by another node or for another federation: then init refuses ' +
      `(exit 1) unless --${ACCEPT_FEDERATION_CHANGE}.`,
    arguments: [],
    options: [acceptFederationChange('go ahead')],
  },
  {
    name: 'drop',
    summary: 'Drop the database',
    description: 'Asks for a confirmation first, unless -y.',
    arguments: [],
    options: [],
  },
  {
    name: 'set-shards',
    summary: 'Configure number of shards (PostgreSQL backend: hash partitions)',
    arguments: [count('NUM_SHARDS', 'hash partitions of each table')],
    options: [],
  },
  {
    name: 'set-replicas',
    summary: 'Configure number of replicas (PostgreSQL backend: synchronous standbys)',
    description: 'N replicas: every commit waits until N - 1 standbys have it.',
    arguments: [count('NUM_REPLICAS', 'copies of the data, the primary included')],
    options: [],
  },
  {
    name: 'backup',
    summary: 'Save every block and vote to FILE (NDJSON; - for stdout)',
    arguments: [
      { name: 'FILE', description: 'the file to create (an existing one is refused); - for stdout' },
    ],
    options: [],
  },
  {
    name: 'restore',
    summary: 'Restore a backup into an empty database (- for stdin), then apply the restore rule',
    arguments: [{ name: 'FILE', description: 'the backup to read; - for stdin' }],
    options: [],
  },
  {
    name: 'prune',
    summary: 'Apply the restore rule after restoring a snapshot or a pg_dump',
    description:
      'Clears the backlog, drops the blocks after the last valid block and their votes, and rebuilds the ' +
      'indexes.',
    arguments: [],
    options: [
      {
        long: 'rebuild',
        description: 'first re-derive the transaction, output and spend rows from the blocks',
      },
    ],
  },
  {
    name: 'verify',
    summary: 'Re-verify every stored block, vote and transaction; report any that was tampered with',
    description:
      'One line per problem on stdout as it is found, then a summary line; exit 1 when any was found.',
    arguments: [],
    options: [],
  },
  {
    name: 'start',
    summary: 'Start BigchainDB: the HTTP API and the block, vote, election and stale pipelines',
    description:
      'Serves the HTTP API on server.bind and runs the pipelines until SIGINT or SIGTERM. When neither -c ' +
      'nor BIGCHAINDB_CONFIG_PATH names a file and there is none at ~/.bigchaindb, it first writes one with ' +
      'a new keypair; it creates the database and its genesis block when missing. A database whose genesis ' +
      'block was made by another node or for another federation is refused (exit 1) unless ' +
      `--${ACCEPT_FEDERATION_CHANGE}.`,
    arguments: [],
    options: [
      {
        long: START_POSTGRESQL,
        beforeCommand: true,
        seedAliases: [
          {
            long: 'experimental-start-rethinkdb',
            notice:
              `--experimental-start-rethinkdb is taken as --${START_POSTGRESQL}: this node keeps its chain ` +
              'in PostgreSQL, not RethinkDB',
          },
        ],
        description:
          'run the node on a PostgreSQL server of its own in database.path (the embedded backend, which is ' +
          'the default) even when database.backend is postgresql. Also accepted before the command, and as ' +
          "the seed's --experimental-start-rethinkdb (with a notice)",
      },
      acceptFederationChange('start'),
    ],
  },
  {
    name: 'load',
    summary: "Send CREATE transactions to the node's HTTP API (api_endpoint), with progress and a summary",
    description:
      'A client with a fresh keypair sends client-signed CREATEs; a progress line on stderr, then the rate, ' +
      'latency and errors on stdout; exit 1 when any transaction was not accepted. After load, -c is its ' +
      'count: give the configuration file before the command or as --config.',
    arguments: [],
    options: [
      {
        long: 'multiprocess',
        short: 'm',
        value: { name: 'N', optional: true, wholeAtLeast: 1 },
        description: 'N concurrent senders (bare: one per core; default 1)',
      },
      {
        long: 'count',
        short: 'c',
        value: { name: 'N', wholeAtLeast: 0 },
        description: 'transactions to send (default 0: until Ctrl-C)',
      },
    ],
  },
  {
    name: 'configure',
    summary: 'Prepare the config file and create the node keypair',
    description:
      'Writes the configuration file (-c, else $BIGCHAINDB_CONFIG_PATH, else ~/.bigchaindb) with a new ' +
      'keypair, asking for the API bind address, the database and statsd (empty answer: the default; -y ' +
      'asks nothing). An existing file is kept unless you answer y. -c - prints the configuration instead.',
    arguments: [],
    options: [],
  },
  {
    name: 'show-config',
    summary: 'Show the current configuration',
    description:
      'The effective configuration (defaults < file < BIGCHAINDB_* environment) as JSON with sorted keys; ' +
      'the secrets, keypair.private and database.password, are masked.',
    arguments: [],
    options: [],
  },
  {
    name: 'export-my-pubkey',
    summary: "Export this node's public key",
    description: "Prints keypair.public, for the other nodes' keyrings.",
    arguments: [],
    options: [],
  },
  {
    name: 'help',
    summary: 'Show this help, or the help of COMMAND',
    arguments: [{ name: 'COMMAND', optional: true, description: 'the command to describe' }],
    options: [],
    action: 'help',
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}

import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const HELP = `usage: bigchaindb [-h] [-v] <command>

BigchainDB ${version} (TypeScript). The protocol core is in place; the node, its storage and the HTTP API
are being built (see README.md for the plan).

commands:
  start    will run a node on the embedded database (not yet available)

options:
  -h, --help     show this help and exit
  -v, --version  show the version and exit
`;

const [command] = process.argv.slice(2);
if (command === '-v' || command === '--version') {
  console.log(version);
} else if (command === undefined || command === '-h' || command === '--help') {
  console.log(HELP);
} else if (command === 'start') {
  console.log(
    `bigchaindb ${version}: \`start\` will create a config and keypair, initialise an embedded PostgreSQL (PGlite)\n` +
      'database and run the block, vote, election and stale pipelines with the HTTP API on localhost:9984.\n' +
      'Those parts are not built yet; today the package provides the protocol core (src/protocol).',
  );
} else {
  console.error(`bigchaindb: unknown command ${JSON.stringify(command)}\n\n${HELP}`);
  process.exitCode = 2;
}

/**
 * The command table: `s3mux [serve] [options]`, `check FILE`, `routes FILE`, `cp|sync SRC DST`, `version`, each
 * with `--help`; `--version` and `--help` on their own. Usage errors exit 2, a table with
 * problems exits 1.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadRoutingTable } from '../router/config';
import { UsageError } from './usage-error';
import { isHelp, isVersion } from './command-line';
import { serveHelp } from './serve-options';
import { formatRoutes } from './route-table';
import { version } from './version';
import { transferHelp } from './transfer-options';

// The server and the backends (and their SDKs) load only for the commands that need them,
// so --help, --version and routes answer at once.
const lazy = {
  serve: () => require('./serve') as typeof import('./serve'),
  check: () => require('../router/check') as typeof import('../router/check'),
  transfer: () => require('./transfer') as typeof import('./transfer'),
  migrate: () => require('./migrate') as typeof import('./migrate'),
  probe: () => require('../router/probe') as typeof import('../router/probe'),
};

/** Exit code, or 'running' for a command that keeps the process alive (serve). */
type Outcome = number | 'running';

interface Command {
  summary: string;
  help: string;
  run(args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> | Outcome;
}

/** The one FILE argument of check and routes, no options. */
function fileArgument(command: string, args: string[]): string {
  let positionals: string[];
  try {
    ({ positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: {} }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('.')[0], command);
  }
  if (positionals.length !== 1) throw new UsageError(`${command} takes one routing table file`, command);
  return positionals[0];
}

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'serve the S3 API (the default command)',
    help: serveHelp(),
    run: async (args, env): Promise<Outcome> => {
      await lazy.serve().runServe(args, env);
      return 'running';
    },
  },
  check: {
    summary: 'validate a routing table and summarize it',
    help: "usage: s3mux check [--probe] FILE\n\nValidates the routing table FILE. Prints a summary and exits 0, or every problem as\nFILE:LINE:COL: path: message and exits 1.\n\n--probe  also contacts each backend with its credentials (HeadBucket and a one-key listing\n         of each route's target; ListBuckets for a backend no route targets) and exits 1\n         when any of them fails.",
    run: async (args, env) => {
      const probe = args.includes('--probe');
      const file = fileArgument(
        'check',
        args.filter((a) => a !== '--probe'),
      );
      const result = probe ? await lazy.probe().probeConfigFile(file, { env }) : lazy.check().checkConfigFile(file);
      (result.ok ? console.log : console.error)(result.text);
      return result.ok ? 0 : 1;
    },
  },
  routes: {
    summary: 'print the resolved routing table',
    help: 'usage: s3mux routes FILE\n\nPrints each virtual bucket of the routing table FILE: the backend serving it, where its\nobjects really are, its mode, and who may do what there. No store is contacted.',
    run: (args) => {
      console.log(formatRoutes(loadRoutingTable(fileArgument('routes', args))));
      return 0;
    },
  },
  cp: {
    summary: 'copy every object under SRC to DST (backend URIs or route:BUCKET/prefix)',
    help: transferHelp('cp'),
    run: (args) => lazy.transfer().runTransferCommand('cp', args),
  },
  sync: {
    summary: 'copy what DST lacks or holds different; --delete removes what SRC lacks',
    help: transferHelp('sync'),
    run: (args) => lazy.transfer().runTransferCommand('sync', args),
  },
  migrate: {
    summary: "a migrate route's copier: status, run, verify",
    get help() {
      return lazy.migrate().MIGRATE_HELP;
    },
    run: (args) => lazy.migrate().runMigrate(args),
  },
  repair: {
    summary: 'make the copies of a mirror route equal again',
    get help() {
      return lazy.migrate().REPAIR_HELP;
    },
    run: (args) => lazy.migrate().runRepair(args),
  },
  version: {
    summary: 'print the version',
    help: "usage: s3mux version\n\nPrints s3mux's version and the Node.js version it runs on.",
    run: (args) => {
      if (args.length) throw new UsageError(`version takes no arguments`, 'version');
      console.log(`s3mux ${version()} (node ${process.version})`);
      return 0;
    },
  },
};

function mainHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: s3mux [COMMAND] [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(w)}  ${c.summary}`),
    '',
    "'s3mux COMMAND --help' for a command's options; 's3mux --version' for the version.",
  ].join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Outcome> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first.startsWith('-')) {
      if (first !== undefined && isHelp(first)) {
        console.log(mainHelp());
        return 0;
      }
      if (isVersion(first)) {
        console.log(version());
        return 0;
      }
      return await run('serve', argv, env);
    }
    if (first === 'help') {
      const topic = rest[0] && COMMANDS[rest[0]];
      console.log(topic ? topic.help : mainHelp());
      return 0;
    }
    return await run(first, rest, env);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`s3mux${err.command ? ` ${err.command}` : ''}: ${err.message}`);
      console.error(`Run 's3mux${err.command ? ` ${err.command}` : ''} --help' for usage.`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    console.error(`s3mux: ${(err as Error).message}`);
    return 1;
  }
}

async function run(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  if (args.some(isHelp)) {
    console.log(command.help);
    return 0;
  }
  return command.run(args, env);
}

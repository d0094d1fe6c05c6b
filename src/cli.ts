#!/usr/bin/env node
/**
 * s3mux serve [--address HOST:PORT] [--data-dir DIR] [--config FILE] [--domain D]...
 *             [--tls-cert FILE --tls-key FILE] [--region R] [--multipart-expiry 7d]
 * s3mux check FILE
 */
import path from 'node:path';
import { DEFAULT_MULTIPART_MAX_AGE_MS, startServer } from './server/app';
import { Router } from './router/router';
import { loadRoutingTable, ConfigError } from './router/config';
import { checkConfigFile } from './router/check';
import { rootIdentity } from './credentials';
import { resolveSecret } from './auth/secrets';

interface ServeArgs {
  address: string;
  dataDir: string;
  config?: string;
  domains: string[];
  tlsCert?: string;
  tlsKey?: string;
  region: string;
  multipartExpiry: number;
  fsEncryptedAtRest: boolean;
}

const USAGE = `usage:
  s3mux serve [--address HOST:PORT] [--data-dir DIR] [--config FILE] [--domain DOMAIN]...
              [--tls-cert FILE --tls-key FILE] [--region REGION] [--multipart-expiry 7d]
              [--fs-encrypted-at-rest true|false]
  s3mux check FILE`;

/** Flag name -> how it lands in ServeArgs. */
const SERVE_FLAGS: Record<string, (a: ServeArgs, v: string) => void> = {
  '--address': (a, v) => { a.address = v; },
  '--data-dir': (a, v) => { a.dataDir = v; },
  '--config': (a, v) => { a.config = v; },
  '--domain': (a, v) => { a.domains.push(v.toLowerCase()); },
  '--tls-cert': (a, v) => { a.tlsCert = v; },
  '--tls-key': (a, v) => { a.tlsKey = v; },
  '--region': (a, v) => { a.region = v; },
  '--multipart-expiry': (a, v) => { a.multipartExpiry = parseDuration(v, '--multipart-expiry'); },
  '--fs-encrypted-at-rest': (a, v) => {
    if (v !== 'true' && v !== 'false') throw new Error("option '--fs-encrypted-at-rest' takes true or false");
    a.fsEncryptedAtRest = v === 'true';
  },
};

export function parseServeArgs(argv: string[]): ServeArgs {
  const args: ServeArgs = { address: '127.0.0.1:9000', dataDir: './data', domains: [], region: 'us-east-1', multipartExpiry: DEFAULT_MULTIPART_MAX_AGE_MS, fsEncryptedAtRest: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const apply = SERVE_FLAGS[flag];
    if (!apply) throw new Error(`unknown option '${argv[i]}'\n${USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`option '${flag}' needs a value`);
    apply(args, value);
  }
  if ((args.tlsCert === undefined) !== (args.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  return args;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `7d`, `12h`, `30m`, `90s`; `0` turns a periodic job off. */
export function parseDuration(value: string, flag: string): number {
  if (value === '0') return 0;
  const m = /^(\d+)([smhd])$/.exec(value.trim());
  if (!m) throw new Error(`${flag} expects a duration such as 7d, 12h or 30m, got '${value}'`);
  return Number(m[1]) * UNITS[m[2]];
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address) ?? /^()()(\d+)$/.exec(address);
  if (!m) throw new Error(`--address expects HOST:PORT, got '${address}'`);
  return { host: m[1] || m[2] || '127.0.0.1', port: Number(m[3]) };
}

async function serve(argv: string[]): Promise<void> {
  const args = parseServeArgs(argv);
  const { host, port } = parseAddress(args.address);
  const router = args.config
    ? Router.fromTable(loadRoutingTable(path.resolve(args.config), { defaultDataDir: path.resolve(args.dataDir) }))
    : Router.defaultFor(path.resolve(args.dataDir));
  const root = rootIdentity();
  const users = (router.table.identities ?? []).map((i) => ({
    identity: { accessKeyId: i.accessKeyId, secretAccessKey: resolveSecret(i.secret, `identity '${i.name}'`) },
    principal: { name: i.name, admin: i.admin, rules: i.rules },
  }));
  const server = await startServer({
    router, host, port, region: args.region, domains: args.domains, identities: [root.identity], users,
    multipartMaxAgeMs: args.multipartExpiry, fsEncryptedAtRest: args.fsEncryptedAtRest,
    tls: args.tlsCert && args.tlsKey ? { cert: args.tlsCert, key: args.tlsKey } : undefined,
    log: (line) => console.error(line),
  });
  console.log(`s3mux listening on ${server.url}`);
  console.log(args.config ? `routing table: ${path.resolve(args.config)}` : `data directory: ${path.resolve(args.dataDir)}`);
  if (root.source === 'dev-default') {
    console.log(`root credentials (development default; set S3MUX_ROOT_USER and S3MUX_ROOT_PASSWORD to change):`);
    console.log(`  access key: ${root.identity.accessKeyId}`);
    console.log(`  secret key: ${root.identity.secretAccessKey}`);
  } else {
    console.log(`root credentials from ${root.source}_USER / ${root.source}_PASSWORD`);
  }
  const stop = () => {
    void server.close().then(() => router.close()).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'serve' || command === undefined) {
      await serve(rest);
      return -1; // keeps running
    }
    if (command === 'check') {
      if (rest.length !== 1) throw new Error(USAGE);
      const result = checkConfigFile(rest[0]);
      (result.ok ? console.log : console.error)(result.text);
      return result.ok ? 0 : 1;
    }
    if (command === '--help' || command === 'help') {
      console.log(USAGE);
      return 0;
    }
    throw new Error(`unknown command '${command}'\n${USAGE}`);
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `s3mux: ${(err as Error).message}`);
    return 2;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exit(code); });
}

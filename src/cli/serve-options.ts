/**
 * `s3mux serve`'s options: one table gives each flag its environment variable, default, help
 * text and value parser, so the parser, `--help` and the README's table cannot disagree.
 * A flag wins over its S3MUX_* variable, which wins over the default.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error';
import { parseAddress, parseBoolean, parseChoice, parseDuration } from './values';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../observability/logger';
import { DEFAULT_MAX_CONNECTIONS } from '../server/connection-cap';

export interface ServeOptions {
  address: string;
  dataDir: string;
  config?: string;
  domains: string[];
  tlsCert?: string;
  tlsKey?: string;
  region: string;
  multipartExpiryMs: number;
  lifecycleIntervalMs: number;
  /** Test only: a shorter lifecycle day. */
  lifecycleTestDayMs?: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Serve /minio/v2/metrics/cluster on the main port. */
  metrics: boolean;
  /** A separate listener for /metrics; off when undefined. */
  metricsAddress?: string;
  shutdownGraceMs: number;
  /** The fs backends' folders are on encrypted storage: SSE-S3 (AES256) requests are honoured there. */
  fsEncryptedAtRest: boolean;
  /** Behind a reverse proxy that sets X-Forwarded-Host/-Port/-Proto/-Prefix. */
  trustForwarded: boolean;
  /** How long a connection may wait on its client (a stalled body, an unread answer). */
  idleTimeoutMs: number;
  maxConnections: number;
}

interface OptionSpec {
  flag: string;
  key: keyof ServeOptions;
  type: 'string' | 'boolean';
  multiple?: boolean;
  valueName?: string;
  default?: string;
  help: string;
  parse?: (value: string, what: string) => unknown;
}

const duration = (v: string, what: string) => parseDuration(v, what);
const count = (v: string, what: string) => {
  if (!/^[0-9]+$/.test(v)) throw new Error(`${what} expects a whole number, got '${v}'`);
  return Number(v);
};
const address = (v: string, what: string) => {
  parseAddress(v, what);
  return v;
};

export const SERVE_OPTIONS: OptionSpec[] = [
  {
    flag: 'address',
    key: 'address',
    type: 'string',
    valueName: 'HOST:PORT',
    default: '127.0.0.1:9000',
    parse: address,
    help: 'where to listen (0.0.0.0:9000 or :9000 for every interface)',
  },
  {
    flag: 'data-dir',
    key: 'dataDir',
    type: 'string',
    valueName: 'DIR',
    default: './data',
    help: "the embedded filesystem backend's folder (when no --config)",
  },
  {
    flag: 'config',
    key: 'config',
    type: 'string',
    valueName: 'FILE',
    help: 'a routing table (YAML or JSON); reloaded on SIGHUP and when it changes',
  },
  {
    flag: 'domain',
    key: 'domains',
    type: 'string',
    multiple: true,
    valueName: 'DOMAIN',
    help: 'base domain for virtual-hosted-style requests (bucket.DOMAIN); repeatable, comma-separated in the variable',
  },
  { flag: 'tls-cert', key: 'tlsCert', type: 'string', valueName: 'FILE', help: 'serve HTTPS with this PEM certificate (with --tls-key)' },
  { flag: 'tls-key', key: 'tlsKey', type: 'string', valueName: 'FILE', help: "the certificate's PEM private key" },
  {
    flag: 'region',
    key: 'region',
    type: 'string',
    valueName: 'REGION',
    default: 'us-east-1',
    help: 'the region s3mux reports (GetBucketLocation)',
  },
  {
    flag: 'multipart-expiry',
    key: 'multipartExpiryMs',
    type: 'string',
    valueName: 'DURATION',
    default: '7d',
    parse: duration,
    help: 'multipart uploads not completed after this long are removed (12h, 30m; 0 = never)',
  },
  {
    flag: 'lifecycle-interval',
    key: 'lifecycleIntervalMs',
    type: 'string',
    valueName: 'DURATION',
    default: '1h',
    parse: duration,
    help: "how often the lifecycle worker applies buckets' expiration rules (0 = never)",
  },
  {
    flag: 'lifecycle-test-day-length',
    key: 'lifecycleTestDayMs',
    type: 'string',
    valueName: 'DURATION',
    parse: duration,
    help: 'TESTS ONLY: the length of a lifecycle day (default 24h), so a test sees Days: 1 expire in seconds',
  },
  {
    flag: 'log-level',
    key: 'logLevel',
    type: 'string',
    valueName: 'LEVEL',
    default: 'info',
    parse: parseChoice(LOG_LEVELS),
    help: `${LOG_LEVELS.join(', ')}`,
  },
  {
    flag: 'log-format',
    key: 'logFormat',
    type: 'string',
    valueName: 'FORMAT',
    default: 'json',
    parse: parseChoice(LOG_FORMATS),
    help: 'json (one object a line) or pretty (one readable line per entry)',
  },
  {
    flag: 'metrics',
    key: 'metrics',
    type: 'boolean',
    help: 'serve Prometheus metrics on the main port at /minio/v2/metrics/cluster (unauthenticated)',
  },
  {
    flag: 'metrics-address',
    key: 'metricsAddress',
    type: 'string',
    valueName: 'HOST:PORT',
    parse: address,
    help: 'serve Prometheus metrics at /metrics on a separate listener (off by default)',
  },
  {
    flag: 'fs-encrypted-at-rest',
    key: 'fsEncryptedAtRest',
    type: 'boolean',
    help: 'the fs data folders are on encrypted storage: SSE-S3 (AES256) uploads are accepted there (else refused)',
  },
  {
    flag: 'trust-forwarded',
    key: 'trustForwarded',
    type: 'boolean',
    help: 'behind a reverse proxy: check signatures against the host and path prefix it forwards (X-Forwarded-Host, -Port, -Proto, -Prefix); set only when the proxy sets or strips them',
  },
  {
    flag: 'idle-timeout',
    key: 'idleTimeoutMs',
    type: 'string',
    valueName: 'DURATION',
    default: '20s',
    parse: duration,
    help: 'a connection waiting this long on its client is closed: a stalled upload gets 400 RequestTimeout (as S3), an answer nobody reads is cut (0 = never)',
  },
  {
    flag: 'max-connections',
    key: 'maxConnections',
    type: 'string',
    valueName: 'N',
    default: String(DEFAULT_MAX_CONNECTIONS),
    parse: count,
    help: 'client connections served at once; requests on connections beyond answer 503 SlowDown, which S3 clients retry (0 = no cap)',
  },
  {
    flag: 'shutdown-grace',
    key: 'shutdownGraceMs',
    type: 'string',
    valueName: 'DURATION',
    default: '25s',
    parse: duration,
    help: 'on SIGTERM/SIGINT, how long in-flight requests may take to finish',
  },
];

export function envName(flag: string): string {
  return `S3MUX_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function parseServeOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(SERVE_OPTIONS.map((o) => [o.flag, o.multiple ? { type: o.type, multiple: true } : { type: o.type }])),
    });
  } catch (err) {
    throw new UsageError(describeParseError(err as Error), 'serve');
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const out: Record<string, unknown> = {};
  for (const o of SERVE_OPTIONS) {
    const fromFlag = values[o.flag];
    const fromEnv = env[envName(o.flag)];
    const what = fromFlag !== undefined ? `--${o.flag}` : envName(o.flag);
    try {
      if (o.type === 'boolean') {
        out[o.key] = fromFlag !== undefined ? fromFlag : fromEnv !== undefined ? parseBoolean(fromEnv, what) : false;
      } else if (o.multiple) {
        const list = (fromFlag as string[] | undefined) ?? (fromEnv ? fromEnv.split(',') : []);
        out[o.key] = list.map((v) => v.trim().toLowerCase()).filter(Boolean);
      } else {
        const raw = (fromFlag as string | undefined) ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : o.default);
        if (raw === '') throw new Error(`${what} needs a value`);
        out[o.key] = raw === undefined ? undefined : o.parse ? o.parse(raw, what) : raw;
      }
    } catch (err) {
      throw new UsageError((err as Error).message, 'serve');
    }
  }
  const opts = out as unknown as ServeOptions;
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together', 'serve');
  return opts;
}

/** node:util's messages, shortened to what a person typed. */
function describeParseError(err: Error & { code?: string }): string {
  const m = /'(--?[A-Za-z0-9-]+)/.exec(err.message);
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${m?.[1] ?? err.message}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[0] ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /needs a value|argument missing/i.test(err.message) ? `option ${m?.[1] ?? ''} needs a value` : err.message;
    default:
      return err.message;
  }
}

export function serveHelp(): string {
  const lines = [
    'usage: s3mux serve [options]',
    '',
    'Serves the S3 API. Every option can also come from the environment variable shown.',
    '',
    'options:',
  ];
  const left = SERVE_OPTIONS.map((o) => `--${o.flag}${o.valueName ? ` ${o.valueName}` : ''}`);
  const width = Math.max(...left.map((l) => l.length));
  SERVE_OPTIONS.forEach((o, i) => {
    const dflt = o.default !== undefined ? ` (default ${o.default})` : '';
    lines.push(`  ${left[i].padEnd(width)}  ${o.help}${dflt}`);
    lines.push(`  ${''.padEnd(width)}  env ${envName(o.flag)}`);
  });
  lines.push(`  ${'--help'.padEnd(width)}  this text`);
  lines.push(
    '',
    'credentials: S3MUX_ROOT_USER / S3MUX_ROOT_PASSWORD (or MINIO_ROOT_USER / MINIO_ROOT_PASSWORD),',
    'each also as a file: S3MUX_ROOT_USER_FILE / S3MUX_ROOT_PASSWORD_FILE (or MINIO_*_FILE).',
  );
  return lines.join('\n');
}

/**
 * `s3mux cp` and `s3mux sync` options: one table gives each flag its value parser and help,
 * so the parser and `--help` cannot disagree. Include/exclude keep their order (the last
 * matching pattern decides), as in `aws s3 sync`.
 */
import { parseArgs } from 'node:util';
import type { KeyPattern } from '../transfer/patterns';
import { UsageError } from './usage-error';
import { parseCount, parseSize } from './values';

export type TransferCommand = 'cp' | 'sync';

export interface TransferCliOptions {
  source: string;
  destination: string;
  config?: string;
  dryRun: boolean;
  patterns: KeyPattern[];
  concurrency: number;
  rate?: number;
  resume?: string;
  delete: boolean;
  retries: number;
  multipartThreshold: number;
  partSize: number;
  /** Copy even objects the destination already holds equal (cp's default; sync skips them). */
  overwrite: boolean;
  /** JSON lines even on a terminal. */
  json: boolean;
}

interface OptionSpec {
  flag: string;
  type: 'string' | 'boolean';
  valueName?: string;
  default?: string;
  help: string;
  only?: TransferCommand;
}

export const TRANSFER_OPTIONS: OptionSpec[] = [
  {
    flag: 'config',
    type: 'string',
    valueName: 'FILE',
    help: 'the routing table: its backends serve the URIs, its routes the route: endpoints',
  },
  { flag: 'dry-run', type: 'boolean', help: 'show what would be copied or deleted; write nothing' },
  {
    flag: 'include',
    type: 'string',
    valueName: 'GLOB',
    help: 'take keys matching GLOB (repeatable; the last matching --include/--exclude decides)',
  },
  { flag: 'exclude', type: 'string', valueName: 'GLOB', help: 'leave keys matching GLOB (repeatable; * matches across /)' },
  { flag: 'concurrency', type: 'string', valueName: 'N', default: '8', help: 'objects copied at once (1-256)' },
  {
    flag: 'rate',
    type: 'string',
    valueName: 'SIZE/s',
    help: 'byte-rate limit across all copies (10MB, 512KiB; server-side copies move no bytes here)',
  },
  { flag: 'resume', type: 'string', valueName: 'FILE', help: 'checkpoint file: continue the transfer it records, and record this one' },
  { flag: 'delete', type: 'boolean', only: 'sync', help: 'delete destination keys the source lacks (among the keys the patterns take)' },
  { flag: 'retries', type: 'string', valueName: 'N', default: '5', help: 'attempts per object or part, the first included (1-20)' },
  {
    flag: 'multipart-threshold',
    type: 'string',
    valueName: 'SIZE',
    default: '64MiB',
    help: 'objects this large or larger go as multipart uploads',
  },
  { flag: 'part-size', type: 'string', valueName: 'SIZE', default: '16MiB', help: 'multipart part size (at least 5MiB)' },
  { flag: 'json', type: 'boolean', help: 'JSON lines on stdout even on a terminal (the default when stdout is not one)' },
];

const SUMMARY: Record<TransferCommand, string> = {
  cp: 'Copies every object under SRC to DST (all of them, also those DST already holds equal).',
  sync: 'Copies the objects under SRC that DST lacks or holds different (size or ETag); --delete also removes what SRC lacks.',
};

export function transferHelp(command: TransferCommand): string {
  const opts = TRANSFER_OPTIONS.filter((o) => !o.only || o.only === command);
  const left = opts.map((o) => `--${o.flag}${o.valueName ? ` ${o.valueName}` : ''}`);
  const width = Math.max(...left.map((l) => l.length), '--help'.length);
  return [
    `usage: s3mux ${command} SRC DST [options]`,
    '',
    SUMMARY[command],
    'SRC and DST are backend URIs (s3://bucket/prefix, gs://, az://, oci://, file:///dir/bucket, memory://store/bucket)',
    'or route:BUCKET[/prefix] of the routing table given with --config. With --config, a URI is served by the',
    "table's backend of its kind (its endpoint and credentials), as a route's target would be.",
    '',
    'options:',
    ...opts.map((o, i) => `  ${left[i].padEnd(width)}  ${o.help}${o.default ? ` (default ${o.default})` : ''}`),
    `  ${'--help'.padEnd(width)}  this text`,
    '',
    'Progress: a bar on a terminal, JSON lines otherwise. Exit 0 when every object was copied, 1 when any failed.',
  ].join('\n');
}

export function parseTransferOptions(command: TransferCommand, args: string[]): TransferCliOptions {
  const specs = TRANSFER_OPTIONS.filter((o) => !o.only || o.only === command);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: Object.fromEntries(specs.map((o) => [o.flag, { type: o.type, multiple: o.flag === 'include' || o.flag === 'exclude' }])),
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split('. ')[0], command);
  }
  if (parsed.positionals.length !== 2) throw new UsageError(`${command} takes SRC and DST`, command);
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const value = (flag: string) => (v[flag] as string | undefined) ?? specs.find((o) => o.flag === flag)?.default;
  const patterns: KeyPattern[] = (parsed.tokens ?? []).flatMap((t) =>
    t.kind === 'option' && (t.name === 'include' || t.name === 'exclude') && t.value !== undefined ? [{ kind: t.name, glob: t.value }] : [],
  );
  try {
    const partSize = parseSize(value('part-size')!, '--part-size');
    if (partSize < 5 * 1024 * 1024) throw new Error('--part-size is at least 5MiB (S3 refuses smaller parts)');
    return {
      source: parsed.positionals[0],
      destination: parsed.positionals[1],
      config: value('config'),
      dryRun: v['dry-run'] === true,
      patterns,
      concurrency: parseCount(1, 256)(value('concurrency')!, '--concurrency'),
      rate: v.rate === undefined ? undefined : parseSize(v.rate as string, '--rate'),
      resume: value('resume'),
      delete: v.delete === true,
      retries: parseCount(1, 20)(value('retries')!, '--retries'),
      multipartThreshold: parseSize(value('multipart-threshold')!, '--multipart-threshold'),
      partSize,
      overwrite: command === 'cp',
      json: v.json === true,
    };
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
}

/**
 * The compatibility table (test/e2e/compat.md and the README block between
 * `<!-- compat:start -->` and `<!-- compat:end -->`), built from one run's results.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export type Status = 'ok' | 'FAIL' | 'skip';

export interface ScenarioResult {
  client: string;
  /** The backend target (test/e2e/targets.ts); absent in records from before backends: fs. */
  backend?: string;
  proto: 'http' | 'https';
  status: Status;
  seconds: number;
  /** First error line (FAIL) or the reason (skip). */
  message?: string;
  version?: string;
  /**
   * Operations in the order they were reported; ok=false when the operation failed; skipped
   * when not run because the backend declares it a store gap (message: why).
   */
  ops: { name: string; ok: boolean; skipped?: boolean; message?: string }[];
}

export interface BackendInfo {
  name: string;
  /** The s3mux backend type. */
  kind: string;
  /** What the data landed in. */
  store: string;
  /** The protocols it ran over. */
  protos: ('http' | 'https')[];
  /** Operations not run there (store gaps), with why. */
  skipOps?: Record<string, string>;
  /** Clients not run there (store gaps), with why. */
  skipScenarios?: Record<string, string>;
}

export interface RunRecord {
  startedAt: string;
  node: string;
  /** Set when --only/--backend/--proto limited the run: such a table does not replace the README's. */
  partial?: string;
  /** The backend targets of the run, in order. */
  backends?: BackendInfo[];
  /** Wall time of the whole run. */
  seconds?: number;
  results: ScenarioResult[];
}

/** Column order and what each operation means. Unknown operations go last, in order of appearance. */
export const OPERATIONS: [string, string][] = [
  ['mb', 'create a bucket'],
  ['list-buckets', 'list buckets (the new bucket is there)'],
  ['put', 'single-request upload, then download and compare sha256 (s3fs: write files through the mount, checked through the S3 API)'],
  ['put-stream', 'upload from a stream (aws-chunked / unknown length where the client does that)'],
  ['multipart', 'multipart upload (client-chosen parts), then download and compare sha256'],
  ['get', 'download, sha256 compared (s3fs: read through the mount)'],
  ['range-get', 'ranged GET (206, Content-Range, right bytes)'],
  ['head', 'HEAD / stat: size, ETag (MD5 for single part, md5-N for multipart)'],
  ['metadata', 'user metadata and standard headers round trip'],
  ['checksum', 'flexible checksums (x-amz-checksum-*, trailers) on upload and on GET with checksum mode'],
  ['list', 'list one level (prefix + delimiter); s3fs: ls with sizes'],
  ['list-recursive', 'list all keys under a prefix'],
  ['list-paged', 'ListObjectsV2 pagination (continuation tokens), keys unique and in order'],
  ['list-delimiter', 'paginated listing with a delimiter (CommonPrefixes across pages)'],
  ['list-v1', 'ListObjects (v1) pagination with markers'],
  ['sync', 'sync a folder up (and back down), every file compared'],
  ['sync-noop', 'second sync transfers nothing'],
  ['sync-delete', 'sync removes from the destination what the source no longer has (aws-cli also syncs s3 to s3)'],
  ['check', 'client-side verification of size + MD5 against the listing'],
  ['copy', 'server-side copy, copy downloaded and compared'],
  ['copy-multipart', 'server-side multipart copy (UploadPartCopy)'],
  ['copy-replace-meta', 'CopyObject with MetadataDirective REPLACE'],
  ['tagging', 'object tags: put, get, carried or replaced by a copy (TaggingDirective COPY / REPLACE), deleted'],
  ['storage-class', 'upload with a storage class (STANDARD_IA) or change it in place: kept and reported by HEAD and listings'],
  ['presign-get', 'presigned GET fetched with a plain HTTP client'],
  ['presign-put', 'presigned PUT sent with a plain HTTP client'],
  ['presign-post', 'browser-form POST with a presigned policy (conditions, ${filename}, success_action_status 201)'],
  ['cond-get', 'conditional GET (If-None-Match / If-Modified-Since → 304, If-Match → 412)'],
  ['get-part', 'GET and HEAD of one part of a multipart object (partNumber): 206, its size, PartsCount'],
  ['list-parts', 'ListParts, including part-number-marker paging'],
  ['abort-multipart', 'AbortMultipartUpload; upload gone from ListMultipartUploads'],
  ['delete', 'delete one object; it is gone (s3fs: rm and rmdir)'],
  ['delete-many', 'DeleteObjects (multi-object delete)'],
  ['rm-recursive', "delete everything under a prefix with the client's recursive delete"],
  ['rb', 'delete the bucket (refused while not empty)'],
  ['err-NoSuchKey', 'GET of a missing key → 404 NoSuchKey'],
  ['err-NoSuchBucket', 'request on a missing bucket → 404 NoSuchBucket'],
  ['err-BucketNotEmpty', 'delete of a non-empty bucket → 409 BucketNotEmpty'],
  ['err-SignatureDoesNotMatch', 'request signed with a wrong secret → 403 SignatureDoesNotMatch'],
  ['err-NotImplemented', 'a feature s3mux does not offer (S3 Select) → 501 NotImplemented, never a 200 that ignored it'],
  ['mount', 's3fs: mount the bucket'],
  ['mkdir', 's3fs: mkdir (directory marker object)'],
  ['mv', 'move / rename: the source is gone, the bytes arrive (s3fs: a file and a directory)'],
  ['chmod', 's3fs: chmod (mode kept in x-amz-meta-mode)'],
  ['edit', 's3fs: bytes overwritten inside a 25 MiB file (parts copied from the object itself: UploadPartCopy), append, truncate'],
  ['symlink', 's3fs: symbolic link (an object holding the target, S_IFLNK in x-amz-meta-mode), kept over a remount'],
  ['xattr', 's3fs: extended attributes (x-amz-meta-xattr, changed by self-copies with REPLACE), kept over a remount'],
  ['utimens', 's3fs: set the mtime (x-amz-meta-mtime), kept over a remount'],
  ['remount', 's3fs: unmount, mount again, everything still there'],
  ['unmount', 's3fs: unmount'],
];

function columns(results: ScenarioResult[]): string[] {
  const seen = new Set<string>();
  // Operations named "_..." are a scenario's own setup/cleanup: counted, not shown as columns.
  for (const r of results) for (const op of r.ops) if (!op.name.startsWith('_')) seen.add(op.name);
  const known = OPERATIONS.map(([n]) => n).filter((n) => seen.has(n));
  const unknown = [...seen].filter((n) => !OPERATIONS.some(([k]) => k === n));
  return [...known, ...unknown];
}

const backendOf = (r: ScenarioResult) => r.backend ?? 'fs';

/** An operation over every run of one client: ✓ passed wherever exercised, ✗ + where it failed, – never exercised. */
function cell(runs: ScenarioResult[], op: string, backendCount: number): string {
  const found = runs.flatMap((r) => r.ops.filter((o) => o.name === op).map((o) => ({ r, o })));
  if (found.length === 0) return '–';
  const where = (list: typeof found) => [...new Set(list.map(({ r }) => (backendCount > 1 ? `${backendOf(r)}/${r.proto}` : r.proto)))];
  const failing = where(found.filter(({ o }) => !o.ok));
  if (failing.length > 0) return `✗ ${failing.join(', ')}`;
  const gaps = [...new Set(found.filter(({ o }) => o.skipped).map(({ r }) => backendOf(r)))];
  if (gaps.length === 0) return '✓';
  return found.some(({ o }) => !o.skipped) ? `✓ (not on ${gaps.join(', ')})` : 'gap';
}

/** One client on one backend, over the protocols it ran. */
function summaryCell(runs: ScenarioResult[]): string {
  if (runs.length === 0) return '';
  if (runs.every((r) => r.status === 'ok')) return '✓';
  if (runs.every((r) => r.status === 'skip')) return 'skipped';
  return runs
    .filter((r) => r.status !== 'ok')
    .map((r) => `${r.status === 'FAIL' ? '**✗**' : 'skipped'} ${r.proto}`)
    .join(', ');
}

const escapeCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function compatMarkdown(run: RunRecord): string {
  const cols = columns(run.results);
  const backends: BackendInfo[] =
    run.backends ??
    [...new Set(run.results.map(backendOf))].map((name) => ({
      name,
      kind: name,
      store: '',
      protos: [...new Set(run.results.filter((r) => backendOf(r) === name).map((r) => r.proto))],
    }));
  const clients = [...new Set(run.results.map((r) => r.client))];
  const runsOf = (client: string, backend?: string) =>
    run.results.filter((r) => r.client === client && (backend === undefined || backendOf(r) === backend));
  const lines: string[] = [];
  const took = run.seconds !== undefined ? `, ${Math.floor(run.seconds / 60)} min ${run.seconds % 60} s` : '';
  lines.push(
    `Generated by \`npm run test:e2e -- --report\` on ${run.startedAt} (node ${run.node}${took})${run.partial ? `, partial run (${run.partial})` : ''}.`,
  );
  lines.push('Every client runs against s3mux; s3mux stores what it gets on each backend:');
  lines.push('');
  for (const b of backends) {
    lines.push(`- **${b.name}** (${b.protos.join(' and ') || 'not run'}): ${b.store || `the ${b.kind} backend`}`);
    const gaps = [...Object.entries(b.skipOps ?? {}), ...Object.entries(b.skipScenarios ?? {})];
    if (gaps.length)
      lines.push(`  - not run there, store gaps: ${gaps.map(([what, why]) => `\`${what}\` (${escapeCell(why)})`).join('; ')}`);
  }
  lines.push('');
  lines.push(`| client | ${backends.map((b) => b.name).join(' | ')} |`);
  lines.push(`|---|${backends.map(() => ':-:').join('|')}|`);
  for (const c of clients) lines.push(`| ${c} | ${backends.map((b) => summaryCell(runsOf(c, b.name))).join(' | ')} |`);
  lines.push('');
  lines.push('What each client exercised, over all backends and protocols: ✓ passed everywhere it ran, ✗ failed (where),');
  lines.push('– not exercised by that client (or not reached); "not on X": a store gap of backend X, not run there.');
  lines.push('');
  lines.push(`| client | ${cols.join(' | ')} |`);
  lines.push(`|---|${cols.map(() => ':-:').join('|')}|`);
  for (const c of clients) lines.push(`| ${c} | ${cols.map((col) => cell(runsOf(c), col, backends.length)).join(' | ')} |`);
  const versions = new Map<string, string>();
  for (const r of run.results) if (r.version) versions.set(r.client, r.version);
  if (versions.size > 0) {
    lines.push('');
    lines.push('Client versions: ' + [...versions].map(([c, v]) => `${c} \`${v}\``).join(', ') + '.');
  }
  const problems = run.results.filter((r) => r.status !== 'ok');
  if (problems.length > 0) {
    lines.push('');
    lines.push('Not passing in this run:');
    lines.push('');
    for (const r of problems) {
      lines.push(`- ${r.client} (${backendOf(r)}, ${r.proto}) ${r.status === 'skip' ? 'skipped' : 'FAIL'}: ${escapeCell(r.message ?? '')}`);
      for (const op of r.ops.filter((o) => !o.ok)) lines.push(`  - \`${op.name}\`: ${escapeCell(op.message ?? '')}`);
    }
  }
  lines.push('');
  lines.push('<details><summary>What each column checks</summary>');
  lines.push('');
  lines.push('| operation | checks |');
  lines.push('|---|---|');
  for (const c of cols) {
    const desc = OPERATIONS.find(([n]) => n === c)?.[1] ?? '';
    lines.push(`| \`${c}\` | ${escapeCell(desc)} |`);
  }
  lines.push('');
  lines.push('</details>');
  return lines.join('\n') + '\n';
}

/** Writes compat.md and, if README.md has the markers, replaces only the block between them. */
export function writeReport(run: RunRecord, compatFile: string, readmeFile: string): string[] {
  const table = compatMarkdown(run);
  writeFileSync(compatFile, `# s3mux client compatibility\n\n${table}`);
  const written = [compatFile];
  if (run.partial) {
    console.log(`README.md not updated: partial run (${run.partial})`);
  } else if (existsSync(readmeFile)) {
    const readme = readFileSync(readmeFile, 'utf8');
    const start = '<!-- compat:start -->';
    const end = '<!-- compat:end -->';
    const i = readme.indexOf(start);
    const j = readme.indexOf(end, i + start.length);
    if (i >= 0 && j > i) {
      const updated = readme.slice(0, i + start.length) + '\n' + table + readme.slice(j);
      if (updated !== readme) writeFileSync(readmeFile, updated);
      written.push(readmeFile);
    }
  }
  return written;
}

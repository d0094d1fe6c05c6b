/**
 * npm run bench -- --transfer: the transfer engine (`s3mux sync`) against `/usr/bin/aws s3
 * sync`, between the same two endpoints: two s3mux servers on fs (child processes). Two
 * cells, each run by both tools on fresh destinations:
 *   - upload: a local folder → endpoint B;
 *   - store to store: endpoint A → endpoint B. aws-cli cannot copy between two endpoints, so
 *     its time is the sum of A → a local folder and that folder → B (what a user of it does);
 *     s3mux streams A → B directly.
 * Writes bench/results-transfer.json and the transfer section of bench/RESULTS.md.
 */
import './quiet-warnings';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { makeBlock } from './body';
import { startServerProcess, type ServerProcess } from './server-process';

const CREDS = { accessKeyId: 'benchtransfer', secretAccessKey: 'benchtransfersecret' };
const CLI = path.join(__dirname, '..', 'src', 'cli.js');
const SMALL = { count: 200, size: 256 * 1024 };
const LARGE = { count: 4, size: 32 * 1024 * 1024 };
const TOTAL = SMALL.count * SMALL.size + LARGE.count * LARGE.size;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 }, (err, _out, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.slice(-2000)}`)) : resolve((performance.now() - t0) / 1000),
    ),
  );
}

function client(url: string): S3Client {
  return new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: CREDS });
}

async function seed(s3: S3Client, bucket: string, dir: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const block = makeBlock();
  const body = (size: number, i: number) => {
    const b = Buffer.alloc(size);
    for (let off = 0; off < size; off += block.length) block.copy(b, off, 0, Math.min(block.length, size - off));
    b.writeUInt32BE(i, 0);
    return b;
  };
  const all = [
    ...Array.from({ length: SMALL.count }, (_, i) => ({ key: `small/${String(i).padStart(4, '0')}.bin`, size: SMALL.size, i })),
    ...Array.from({ length: LARGE.count }, (_, i) => ({ key: `large/${i}.bin`, size: LARGE.size, i: 100_000 + i })),
  ];
  for (const o of all) {
    const b = body(o.size, o.i);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: b }));
    const file = path.join(dir, o.key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, b);
  }
}

export async function runTransferBench(): Promise<number> {
  const work = mkdtempSync(path.join(os.tmpdir(), 's3mux-bench-transfer-'));
  const servers: ServerProcess[] = [];
  try {
    const a = await startServerProcess(CREDS);
    servers.push(a);
    const b = await startServerProcess(CREDS);
    servers.push(b);
    const local = path.join(work, 'local', 'data');
    await seed(client(a.url), 'data', local);
    const bClient = client(b.url);
    const table = path.join(work, 'table.yaml');
    const backend = (url: string) =>
      `    type: s3\n    endpoint: ${url}\n    region: us-east-1\n    forcePathStyle: true\n    credentials: { accessKeyIdEnv: K, secretAccessKeyEnv: S }`;
    writeFileSync(
      table,
      `backends:\n  a:\n${backend(a.url)}\n  b:\n${backend(b.url)}\ndefault: a\nroutes:\n  src: { backend: a, bucket: data }\n` +
        ['up-s3mux', 'up-aws', 's2s-s3mux', 's2s-aws'].map((n) => `  ${n}: { backend: b, bucket: ${n} }`).join('\n') +
        '\n',
    );
    for (const n of ['up-s3mux', 'up-aws', 's2s-s3mux', 's2s-aws']) await bClient.send(new CreateBucketCommand({ Bucket: n }));
    const env = { K: CREDS.accessKeyId, S: CREDS.secretAccessKey };
    const awsEnv = { AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1' };
    const aws = (args: string[]) => run('/usr/bin/aws', ['s3', 'sync', '--only-show-errors', ...args], awsEnv);
    const s3mux = (args: string[]) => run(process.execPath, [CLI, 'sync', '--config', table, ...args], env);

    const results = [
      { cell: 'upload: local folder → B', tool: 's3mux sync', seconds: await s3mux([`file://${local}`, 'route:up-s3mux']) },
      { cell: 'upload: local folder → B', tool: 'aws s3 sync', seconds: await aws([local, 's3://up-aws', '--endpoint-url', b.url]) },
      { cell: 'store to store: A → B', tool: 's3mux sync', seconds: await s3mux(['route:src', 'route:s2s-s3mux']) },
    ];
    const down = path.join(work, 'down');
    const t1 = await aws(['s3://data', down, '--endpoint-url', a.url]);
    const t2 = await aws([down, 's3://s2s-aws', '--endpoint-url', b.url]);
    results.push({ cell: 'store to store: A → B', tool: 'aws s3 sync (A → disk → B)', seconds: t1 + t2 });

    const mib = TOTAL / 1024 / 1024;
    const rows = results.map((r) => ({ ...r, mibPerSecond: mib / r.seconds }));
    const lines = [
      '<!-- bench:transfer:start -->',
      '## Bulk copy: `s3mux sync` against `aws s3 sync`',
      '',
      `${new Date().toISOString().slice(0, 10)}, \`npm run bench -- --transfer\`, ${os.cpus().length} cores, node ${process.version}, aws-cli from /usr/bin/aws. ` +
        `Two s3mux servers on fs (child processes) as endpoints A and B; ${SMALL.count} objects of ${SMALL.size / 1024} KiB and ${LARGE.count} of ${LARGE.size / 1024 / 1024} MiB (${mib.toFixed(0)} MiB). ` +
        's3mux sync with its defaults (8 objects at once, multipart from 64 MiB); aws-cli with its defaults (10 requests at once, multipart from 8 MiB). ' +
        'aws-cli cannot copy between two endpoints: its store-to-store time is a download to disk plus an upload. All processes share the same cores.',
      '',
      '| cell | tool | seconds | MiB/s |',
      '| --- | --- | ---: | ---: |',
      ...rows.map((r) => `| ${r.cell} | ${r.tool} | ${r.seconds.toFixed(2)} | ${r.mibPerSecond.toFixed(1)} |`),
      '<!-- bench:transfer:end -->',
    ];
    console.log(lines.join('\n'));
    writeFileSync(
      path.join(__dirname, '..', '..', 'bench', 'results-transfer.json'),
      JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + '\n',
    );
    const md = path.join(__dirname, '..', '..', 'bench', 'RESULTS.md');
    const text = readFileSync(md, 'utf8');
    const section = lines.join('\n');
    const re = /<!-- bench:transfer:start -->[\s\S]*<!-- bench:transfer:end -->/;
    writeFileSync(md, re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`);
    return 0;
  } finally {
    for (const s of servers) await s.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

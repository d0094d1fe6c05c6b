/**
 * End-to-end suite: real S3 clients against a real s3mux process, over HTTP and HTTPS.
 *
 *   npm run test:e2e [-- options]
 *     --report            also write test/e2e/compat.md and the README compat block
 *     --report-only       only regenerate the report from the last run (dist/test/e2e/last-run.json)
 *     --only a,b          run only these scenarios (names or slugs: aws-cli, boto3, s3cmd, rclone, s3fs, aws-sdk-js-v3, minio-js)
 *     --proto http|https  run only one protocol
 *     --jobs N            scenarios run side by side against the same server (default 2)
 *     --deadline SECONDS  time budget for the whole run (default 540); scenarios get at most what is left
 *     --cmd-timeout SEC   time limit for each single client command / step (default 120)
 *     --keep              keep the temporary directory (it is always kept when something failed)
 *     --verbose           stream every scenario's output
 *   E2E_WIRE=1 makes the boto3 and Node scenarios log every request and response (with --verbose).
 *
 * For each protocol it starts `node dist/src/cli.js serve` on a free port with a fresh data
 * directory, runs every scenario (a child process per client, see scenarios.ts) and stops it.
 * Prints one line per scenario and `N passed, N failed, N skipped`; exits 1 iff any failed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SCENARIOS, missingExecutable, type Scenario } from './scenarios';
import { writeReport, type RunRecord, type ScenarioResult } from './report';

const DIST = path.resolve(__dirname, '../..'); // dist/
const ROOT = path.resolve(DIST, '..'); // repository root
const CLI = path.join(DIST, 'src', 'cli.js');
const LAST_RUN = path.join(__dirname, 'last-run.json');

const ACCESS_KEY = 'e2eAccessKey01';
// AWS-like secret with the characters that trip up escaping ('/' and '+').
const SECRET_KEY = 'e2e/Secret+Key/0123456789abcdefghijKLMNOP';
const REGION = 'us-east-1';

interface Options {
  report: boolean;
  reportOnly: boolean;
  only?: string[];
  protos: ('http' | 'https')[];
  jobs: number;
  deadlineSec: number;
  cmdTimeoutSec: number;
  keep: boolean;
  verbose: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { report: false, reportOnly: false, protos: ['http', 'https'], jobs: 2, deadlineSec: 540, cmdTimeoutSec: 120, keep: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--report': o.report = true; break;
      case '--report-only': o.reportOnly = true; break;
      case '--only': o.only = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--proto': {
        const p = value();
        if (p !== 'http' && p !== 'https') throw new Error(`--proto expects http or https, got '${p}'`);
        o.protos = [p];
        break;
      }
      case '--jobs': o.jobs = Math.max(1, Number(value()) || 1); break;
      case '--deadline': o.deadlineSec = Math.max(30, Number(value()) || 540); break;
      case '--cmd-timeout': o.cmdTimeoutSec = Math.max(5, Number(value()) || 120); break;
      case '--keep': o.keep = true; break;
      case '--verbose': o.verbose = true; break;
      default: throw new Error(`unknown option '${argv[i]}'`);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The server

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

class ServerProcess {
  child!: ChildProcess;
  url = '';
  port = 0;
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private log!: WriteStream;
  private logged = 0;

  constructor(readonly proto: 'http' | 'https', readonly dataDir: string, readonly logFile: string,
    readonly tls?: { cert: string; key: string }) {}

  /** Bytes written to the log so far (to show only what a scenario caused). */
  get logOffset(): number { return this.logged; }

  async start(): Promise<void> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.startOnce(await freePort());
        return;
      } catch (err) {
        lastError = err as Error;
      }
    }
    throw lastError;
  }

  private startOnce(port: number): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const args = [CLI, 'serve', '--address', `127.0.0.1:${port}`, '--data-dir', this.dataDir];
    if (this.tls) args.push('--tls-cert', this.tls.cert, '--tls-key', this.tls.key);
    this.exited = undefined;
    this.child = spawn(process.execPath, ['--enable-source-maps', ...args], {
      cwd: ROOT,
      env: { ...process.env, S3MUX_ROOT_USER: ACCESS_KEY, S3MUX_ROOT_PASSWORD: SECRET_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const write = (chunk: Buffer) => { this.logged += chunk.length; this.log.write(chunk); };
    this.child.stderr!.on('data', write);
    return new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`s3mux did not print 'listening' within 30 s:\n${out}${this.tail(0, 20)}`));
      }, 30_000);
      this.child.stdout!.on('data', (chunk: Buffer) => {
        write(chunk);
        out += chunk.toString();
        const m = /s3mux listening on (\S+)/.exec(out);
        if (m && !this.url) {
          clearTimeout(timer);
          this.url = m[1];
          this.port = port;
          resolve();
        }
      });
      this.child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        clearTimeout(timer);
        if (!this.url) {
          const tail = this.tail(0, 30);
          const why = tail.split('\n').find((l) => /\b\w*Error\b|^s3mux: /.test(l))?.trim() ?? '';
          reject(new Error(`s3mux exited (code ${code}, signal ${signal}) before listening: ${why}\n${tail}`));
        }
      });
    });
  }

  get alive(): boolean { return this.exited === undefined; }

  /** Last `lines` lines of the server log written after byte `from`. */
  tail(from: number, lines: number): string {
    let text = '';
    try { text = readFileSync(this.logFile).subarray(from).toString('utf8'); } catch { /* no log yet */ }
    return collapse(text.split('\n').filter((l) => l.trim() !== '')).slice(-lines).join('\n');
  }

  async stop(): Promise<void> {
    if (this.alive) {
      const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
    this.url = '';
  }
}

/** Collapses runs of lines that differ only in their numbers into one line with a count. */
function collapse(lines: string[]): string[] {
  const out: string[] = [];
  let prevShape = '';
  let count = 0;
  const flush = () => { if (count > 1) out[out.length - 1] += `  [x${count}, numbers vary]`; };
  for (const line of lines) {
    const shape = line.replace(/\d+/g, '#');
    if (shape === prevShape) { count++; continue; }
    flush();
    out.push(line);
    prevShape = shape;
    count = 1;
  }
  flush();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface RunContext {
  tmp: string;
  /** Date.now() by which every scenario must have ended. */
  deadline: number;
  caFile?: string;
  opts: Options;
}

const SCRUB = /^(AWS_|S3_|RCLONE_|MC_|MINIO_|S3MUX_|BOTO_|NODE_EXTRA_CA_CERTS$|CURL_CA_BUNDLE$|SSL_CERT_|REQUESTS_CA_BUNDLE$|HTTPS?_PROXY$|https?_proxy$|ALL_PROXY$|all_proxy$)/;

function scenarioEnv(sc: Scenario, proto: 'http' | 'https', server: ServerProcess, work: string, ctx: RunContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!SCRUB.test(k)) env[k] = v;
  Object.assign(env, {
    HOME: work,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    E2E_CLIENT: sc.name,
    S3_ENDPOINT: server.url,
    S3_PROTO: proto,
    S3_HOST: '127.0.0.1',
    S3_PORT: String(server.port),
    S3_REGION: REGION,
    S3_ACCESS_KEY: ACCESS_KEY,
    S3_SECRET_KEY: SECRET_KEY,
    S3_BUCKET: `e2e-${sc.slug}-${proto}`,
    S3_CA_FILE: proto === 'https' ? ctx.caFile : '',
    WORK_DIR: work,
    CMD_TIMEOUT: String(ctx.opts.cmdTimeoutSec),
    AWS_BIN: process.env.E2E_AWS ?? '/usr/bin/aws',
    PYTHON_BIN: process.env.E2E_PYTHON ?? '/usr/bin/python3',
  });
  if (proto === 'https' && ctx.caFile) env.NODE_EXTRA_CA_CERTS = ctx.caFile;
  return env;
}

/** What must not outlive the runner. */
const LIVE = { servers: new Set<ServerProcess>(), scenarios: new Set<number>() };

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}

/** Unmounts anything still mounted under `dir` (an s3fs scenario that was killed). */
function cleanupMounts(dir: string): void {
  let mounts = '';
  try { mounts = readFileSync('/proc/mounts', 'utf8'); } catch { return; }
  for (const line of mounts.split('\n')) {
    const mp = line.split(' ')[1]?.replace(/\\040/g, ' ');
    if (mp && (mp === dir || mp.startsWith(dir + '/'))) {
      const r = spawnSync('fusermount3', ['-uz', mp], { timeout: 15_000 });
      if (r.status !== 0) spawnSync('umount', ['-l', mp], { timeout: 15_000 });
    }
  }
}

async function runScenario(sc: Scenario, proto: 'http' | 'https', server: ServerProcess, ctx: RunContext): Promise<ScenarioResult & { output: string; logFrom: number }> {
  const work = path.join(ctx.tmp, proto, sc.slug);
  mkdirSync(work, { recursive: true });
  const result: ScenarioResult & { output: string; logFrom: number } = {
    client: sc.name, proto, status: 'FAIL', seconds: 0, ops: [], output: '', logFrom: server.logOffset,
  };
  const remaining = Math.floor((ctx.deadline - Date.now()) / 1000);
  if (remaining < 20) {
    result.message = `not run: the run's time budget (--deadline ${ctx.opts.deadlineSec}) is used up`;
    return result;
  }
  const timeoutSec = Math.min(sc.timeoutSec, remaining);
  const missing = missingExecutable(sc.requires);
  if (missing) {
    result.status = 'skip';
    result.message = `${missing} is not installed`;
    return result;
  }
  const { cmd, args } = sc.command(ROOT, DIST);
  const started = Date.now();
  const outFile = createWriteStream(path.join(work, 'output.log'));
  const child = spawn(cmd, args, {
    cwd: work, env: scenarioEnv(sc, proto, server, work, ctx), detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let skipReason: string | undefined;
  let pending = '';
  const onStdout = (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const op = /^OP (\S+) (ok|FAIL)\s*(.*)$/.exec(line);
      if (op) result.ops.push({ name: op[1], ok: op[2] === 'ok', message: op[3] || undefined });
      const ver = /^VERSION (.*)$/.exec(line);
      if (ver) result.version = ver[1].trim();
      const skip = /^SKIP (.*)$/.exec(line);
      if (skip) skipReason = skip[1];
    }
  };
  const record = (stream: 'out' | 'err') => (text: string) => {
    outFile.write(text);
    if (ctx.opts.verbose) process.stderr.write(text.replace(/^(?=.)/gm, `[${sc.name}/${proto}] `));
    if (stream === 'out') onStdout(text);
  };
  if (child.pid) LIVE.scenarios.add(child.pid);
  child.stdout!.setEncoding('utf8').on('data', record('out'));
  child.stderr!.setEncoding('utf8').on('data', record('err'));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, 'SIGTERM');
    setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5_000).unref();
  }, timeoutSec * 1000);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  killGroup(child.pid, 'SIGKILL'); // stragglers (a backgrounded s3fs, a hung client)
  if (child.pid) LIVE.scenarios.delete(child.pid);
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2_000);
    child.once('close', () => { clearTimeout(t); resolve(); });
    if (child.stdout!.readableEnded && child.stderr!.readableEnded) { clearTimeout(t); resolve(); }
  });
  if (pending) onStdout('\n');
  await new Promise<void>((resolve) => outFile.end(() => resolve()));
  cleanupMounts(work);
  result.seconds = (Date.now() - started) / 1000;
  const lines = readFileSync(path.join(work, 'output.log'), 'utf8').split('\n');
  result.output = lines.slice(-200).join('\n');

  const failed = result.ops.filter((o) => !o.ok);
  const lastLine = lines.map((l) => l.trim()).filter(Boolean).pop();
  if (exit.error) {
    result.message = `could not start ${cmd}: ${exit.error.message}`;
  } else if (timedOut) {
    const last = result.ops[result.ops.length - 1];
    result.message = `timed out after ${timeoutSec} s${last ? ` (last operation reported: ${last.name})` : ''}`
      + (failed.length ? `; ${failed[0].name}: ${failed[0].message ?? ''}` : '');
  } else if (exit.code === 77) {
    result.status = 'skip';
    result.message = skipReason ?? lastLine ?? 'skipped';
  } else if (exit.code === 0 && failed.length === 0 && result.ops.length > 0) {
    result.status = 'ok';
  } else if (failed.length > 0) {
    result.message = `${failed[0].name}: ${failed[0].message ?? '(no message)'}`;
  } else if (exit.code === 0) {
    result.message = 'the scenario reported no operations';
  } else {
    result.message = `exit ${exit.code ?? exit.signal}: ${lastLine ?? '(no output)'}`;
  }
  if (result.status === 'FAIL' && !server.alive) {
    result.message += ` [s3mux exited: code ${server.exited?.code}, signal ${server.exited?.signal}]`;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------

function makeCert(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', key, '-out', cert], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr || r.error?.message}`);
  return { cert, key };
}

function indent(text: string, prefix = '    '): string {
  return text.split('\n').map((l) => prefix + l).join('\n');
}

function formatLine(r: ScenarioResult): string {
  const label = `${r.client} (${r.proto})`;
  if (r.status === 'ok') return `ok   ${label}  ${r.seconds.toFixed(1)}s`;
  if (r.status === 'skip') return `skip ${label}: ${r.message ?? ''}`;
  return `FAIL ${label}: ${r.message ?? ''}`;
}

async function runAll(opts: Options): Promise<number> {
  const scenarios = opts.only
    ? SCENARIOS.filter((s) => opts.only!.includes(s.name) || opts.only!.includes(s.slug))
    : SCENARIOS;
  if (opts.only && scenarios.length !== opts.only.length) {
    const known = SCENARIOS.map((s) => s.name).join(', ');
    throw new Error(`unknown scenario in --only ${opts.only.join(',')}; known: ${known}`);
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist; build first (npx tsc -p tsconfig.json)`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 's3mux-e2e-'));
  const limits = [opts.only ? `--only ${opts.only.join(',')}` : '', opts.protos.length < 2 ? `--proto ${opts.protos[0]}` : ''].filter(Boolean);
  const record: RunRecord = {
    startedAt: new Date().toISOString(), node: process.version, results: [],
    ...(limits.length ? { partial: limits.join(' ') } : {}),
  };
  const t0 = Date.now();
  let keep = opts.keep;
  const tls = opts.protos.includes('https') ? makeCert(tmp) : undefined;
  const ctx: RunContext = { tmp, caFile: tls?.cert, opts, deadline: t0 + opts.deadlineSec * 1000 };

  // However the runner ends (signal, exception, a closed stdout), take the server and any
  // running scenario down with it; a killed s3fs scenario may also leave a mount behind.
  process.once('exit', () => {
    for (const s of LIVE.servers) if (s.alive) s.child?.kill('SIGKILL');
    for (const pid of LIVE.scenarios) killGroup(pid, 'SIGKILL');
    cleanupMounts(tmp);
  });
  const onSignal = () => process.exit(130);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  process.stdout.on('error', () => process.exit(1)); // e.g. piped into head

  for (const [i, proto] of opts.protos.entries()) {
    // Each protocol gets its share of the budget; time one leaves unused goes to the next.
    ctx.deadline = t0 + (opts.deadlineSec * 1000 * (i + 1)) / opts.protos.length;
    const server = new ServerProcess(proto, path.join(tmp, proto, 'data'), path.join(tmp, proto, 's3mux.log'),
      proto === 'https' ? tls : undefined);
    LIVE.servers.add(server);
    try {
      await server.start();
    } catch (err) {
      keep = true;
      for (const sc of scenarios) {
        const r: ScenarioResult = { client: sc.name, proto, status: 'FAIL', seconds: 0, ops: [], message: `s3mux did not start: ${(err as Error).message.split('\n')[0]}` };
        record.results.push(r);
        console.log(formatLine(r));
      }
      console.log(indent((err as Error).message));
      continue;
    }
    const queue = [...scenarios];
    const ordered: (ScenarioResult | undefined)[] = new Array(scenarios.length);
    let restarting: Promise<void> | undefined;
    const ensureServer = () => {
      if (server.alive) return Promise.resolve();
      restarting ??= (async () => {
        console.log(`     (s3mux ${proto} had exited: code ${server.exited?.code}, signal ${server.exited?.signal}; restarting it)`);
        await server.stop();
        await server.start();
      })().finally(() => { restarting = undefined; });
      return restarting;
    };
    const worker = async () => {
      for (let sc = queue.shift(); sc; sc = queue.shift()) {
        await ensureServer().catch((err) => console.log(`     (s3mux ${proto} could not be restarted: ${(err as Error).message.split('\n')[0]})`));
        const r = await runScenario(sc, proto, server, ctx);
        const { output, logFrom, ...plain } = r;
        ordered[scenarios.indexOf(sc)] = plain;
        console.log(formatLine(plain));
        if (r.status === 'FAIL') keep = true;
        if (r.status === 'FAIL' && r.seconds > 0) {
          keep = true;
          const failedOps = r.ops.filter((o) => !o.ok);
          if (failedOps.length > 1) {
            console.log(indent(failedOps.map((o) => `${o.name}: ${o.message ?? ''}`).join('\n'), '    ✗ '));
          }
          const outTail = output.split('\n').filter((l) => l.trim() !== '').slice(-15).join('\n');
          if (outTail) console.log(`  --- ${sc.name} output (tail; full: ${path.join(tmp, proto, sc.slug, 'output.log')})\n${indent(outTail)}`);
          const logTail = server.tail(logFrom, 25);
          console.log(`  --- s3mux log (tail since the scenario started; full: ${server.logFile})\n${logTail ? indent(logTail) : '    (empty)'}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.jobs, scenarios.length) }, worker));
    await server.stop();
    for (const r of ordered) if (r) record.results.push(r);
  }

  const passed = record.results.filter((r) => r.status === 'ok').length;
  const failed = record.results.filter((r) => r.status === 'FAIL').length;
  const skipped = record.results.filter((r) => r.status === 'skip').length;
  writeFileSync(LAST_RUN, JSON.stringify(record, null, 2));
  if (opts.report) {
    const written = writeReport(record, path.join(ROOT, 'test/e2e/compat.md'), path.join(ROOT, 'README.md'));
    console.log(`report written: ${written.map((f) => path.relative(ROOT, f)).join(', ')}`);
  }
  if (keep) console.log(`logs and data kept in ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.reportOnly) {
    if (!existsSync(LAST_RUN)) throw new Error(`no previous run recorded at ${LAST_RUN}`);
    const record = JSON.parse(readFileSync(LAST_RUN, 'utf8')) as RunRecord;
    const written = writeReport(record, path.join(ROOT, 'test/e2e/compat.md'), path.join(ROOT, 'README.md'));
    console.log(`report written from the run of ${record.startedAt}: ${written.map((f) => path.relative(ROOT, f)).join(', ')}`);
    return 0;
  }
  return runAll(opts);
}

main().then((code) => process.exit(code), (err) => {
  console.error(`e2e: ${(err as Error).message}`);
  process.exit(2);
});

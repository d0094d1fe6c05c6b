/**
 * End-to-end suite: real S3 clients against a real s3mux process, on every backend.
 *
 *   npm run test:e2e [-- options]
 *     --report            also write test/e2e/compat.md and the README compat block
 *     --report-only       only regenerate the report from the last run (dist/test/e2e/last-run.json)
 *     --only a,b          run only these scenarios (names or slugs: aws-cli, boto3, s3cmd, rclone, s3fs, aws-sdk-js-v3, minio-js)
 *     --backend a,b       run only on these backends (fs, memory, s3, azure, gcs, github; see targets.ts); default all
 *     --proto http|https  run only one protocol (HTTPS runs on fs only)
 *     --jobs N            scenarios run side by side (default 2), across backends
 *     --deadline SECONDS  time budget for the whole run (default 720); scenarios get at most what is left
 *     --cmd-timeout SEC   time limit for each single client command / step (default 120)
 *     --keep              keep the temporary directory (it is always kept when something failed)
 *     --verbose           stream every scenario's output
 *   E2E_WIRE=1 makes the boto3 and Node scenarios log every request and response (with --verbose).
 *
 * For each backend target (targets.ts) it starts the store (Azurite, an upstream s3mux, ...)
 * and, per protocol, `node dist/src/cli.js serve` on a free port with the target's routing
 * table, runs every scenario (a child process per client, see scenarios.ts) against it and
 * stops both once the target's last scenario is done. One queue feeds --jobs workers across
 * all backends. Prints one line per scenario × backend × protocol and
 * `N passed, N failed, N skipped`; exits 1 iff any failed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SCENARIOS, missingExecutable, type Scenario } from './scenarios';
import { OPERATIONS, writeReport, type RunRecord, type ScenarioResult } from './report';
import { CLI, DIST, ROOT, ServerProcess, type Proto } from './server-process';
import { makeSelfSignedCert } from '../helpers/tls';
import { skipOpsFor, TARGETS, type BackendTarget, type RunningStore } from './targets';

const LAST_RUN = path.join(__dirname, 'last-run.json');

const ACCESS_KEY = 'e2eAccessKey01';
// AWS-like secret with the characters that trip up escaping ('/' and '+').
const SECRET_KEY = 'e2e/Secret+Key/0123456789abcdefghijKLMNOP';
const REGION = 'us-east-1';

interface Options {
  report: boolean;
  reportOnly: boolean;
  only?: string[];
  backends?: string[];
  protos: Proto[];
  jobs: number;
  deadlineSec: number;
  cmdTimeoutSec: number;
  keep: boolean;
  verbose: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    report: false,
    reportOnly: false,
    protos: ['http', 'https'],
    jobs: 2,
    deadlineSec: 720,
    cmdTimeoutSec: 120,
    keep: false,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`option '${flag}' needs a value`);
      return v;
    };
    const list = () =>
      value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    switch (flag) {
      case '--report':
        o.report = true;
        break;
      case '--report-only':
        o.reportOnly = true;
        break;
      case '--only':
        o.only = list();
        break;
      case '--backend':
      case '--backends':
        o.backends = list();
        break;
      case '--proto': {
        const p = value();
        if (p !== 'http' && p !== 'https') throw new Error(`--proto expects http or https, got '${p}'`);
        o.protos = [p];
        break;
      }
      case '--jobs':
        o.jobs = Math.max(1, Number(value()) || 1);
        break;
      case '--deadline':
        o.deadlineSec = Math.max(30, Number(value()) || 720);
        break;
      case '--cmd-timeout':
        o.cmdTimeoutSec = Math.max(5, Number(value()) || 120);
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--verbose':
        o.verbose = true;
        break;
      default:
        throw new Error(`unknown option '${argv[i]}'`);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Backends: a store per target, an s3mux per target × protocol, both started on first use and
// stopped after the last scenario that needs them.

/** What must not outlive the runner. */
const LIVE = { killers: new Set<{ kill(): void }>(), scenarios: new Set<number>() };

class TargetRun {
  private store?: Promise<RunningStore>;
  private pending = 0;
  readonly dir: string;
  /** Set once the store has started. */
  running?: RunningStore;

  constructor(
    readonly target: BackendTarget,
    tmp: string,
  ) {
    this.dir = path.join(tmp, target.name);
  }

  /** First scenario start and last scenario end (Date.now()), and the scenarios' total time, in ms. */
  span?: { from: number; to: number; busy: number };

  expect(): void {
    this.pending++;
  }

  ran(started: number): void {
    const now = Date.now();
    this.span = this.span
      ? { from: Math.min(this.span.from, started), to: now, busy: this.span.busy + now - started }
      : { from: started, to: now, busy: now - started };
  }

  start(): Promise<RunningStore> {
    this.store ??= (async () => {
      mkdirSync(this.dir, { recursive: true });
      const store = await this.target.start({
        dir: this.dir,
        track: (child) => {
          if (child instanceof ServerProcess) LIVE.killers.add(child);
          else
            LIVE.killers.add({
              kill: () => {
                (child as ChildProcess).kill('SIGKILL');
              },
            });
        },
      });
      this.running = store;
      return store;
    })();
    return this.store;
  }

  /** Once per expect(): stops the store after the last one. */
  async release(): Promise<void> {
    if (--this.pending > 0 || !this.store) return;
    const store = await this.store.catch(() => undefined);
    await store?.stop().catch((err) => console.log(`     (${this.target.name}: stopping the store failed: ${(err as Error).message})`));
  }
}

class Group {
  server?: ServerProcess;
  private starting?: Promise<ServerProcess>;
  private restarting?: Promise<void>;
  private pending = 0;
  readonly dir: string;
  startFailureShown = false;

  constructor(
    readonly run: TargetRun,
    readonly proto: Proto,
    readonly ctx: RunContext,
  ) {
    this.dir = path.join(ctx.tmp, `${run.target.name}-${proto}`);
  }

  get label(): string {
    return `${this.run.target.name}, ${this.proto}`;
  }

  expect(): void {
    this.pending++;
    this.run.expect();
  }

  /** The running server (started on first use). Rejects when the store or s3mux cannot start. */
  acquire(): Promise<ServerProcess> {
    this.starting ??= (async () => {
      const store = await this.run.start().catch((err: Error) => {
        throw new Error(`the ${this.run.target.name} store did not start: ${err.message}`);
      });
      let configFile: string | undefined;
      if (store.table) {
        configFile = path.join(this.dir, 'routing.json');
        mkdirSync(this.dir, { recursive: true });
        writeFileSync(
          configFile,
          JSON.stringify({ $comment: `e2e: ${this.run.target.name}: ${this.run.target.store}`, ...store.table }, null, 2),
        );
      }
      const server = new ServerProcess({
        proto: this.proto,
        dataDir: path.join(this.dir, 'data'),
        logFile: path.join(this.dir, 's3mux.log'),
        accessKey: ACCESS_KEY,
        secretKey: SECRET_KEY,
        tls: this.proto === 'https' ? this.ctx.tls : undefined,
        configFile,
        env: store.env,
      });
      this.server = server;
      LIVE.killers.add(server);
      await server.start().catch((err: Error) => {
        throw new Error(`s3mux did not start: ${err.message}`);
      });
      return server;
    })();
    return this.starting;
  }

  /**
   * With a routing table, nothing may land in the front s3mux's --data-dir: what is there
   * (a few names) means requests were served by a local fs backend, not by the target's.
   */
  strayData(): string | undefined {
    if (!this.run.running?.table || !this.server) return undefined;
    let names: string[] = [];
    try {
      names = readdirSync(this.server.opts.dataDir);
    } catch {
      return undefined;
    }
    return names.length ? names.slice(0, 3).join(', ') : undefined;
  }

  /** Restarts s3mux if a scenario made it exit. */
  ensureAlive(): Promise<void> {
    const server = this.server;
    if (!server || server.alive) return Promise.resolve();
    this.restarting ??= (async () => {
      console.log(`     (s3mux ${this.label} had exited: code ${server.exited?.code}, signal ${server.exited?.signal}; restarting it)`);
      await server.stop();
      await server.start();
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  async release(): Promise<void> {
    if (--this.pending === 0) await this.server?.stop();
    await this.run.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface RunContext {
  tmp: string;
  /** Date.now() by which every scenario must have ended. */
  deadline: number;
  tls?: { cert: string; key: string };
  opts: Options;
}

const SCRUB =
  /^(AWS_|S3_|RCLONE_|MC_|MINIO_|S3MUX_|BOTO_|E2E_|NODE_EXTRA_CA_CERTS$|CURL_CA_BUNDLE$|SSL_CERT_|REQUESTS_CA_BUNDLE$|HTTPS?_PROXY$|https?_proxy$|ALL_PROXY$|all_proxy$)/;

function scenarioEnv(sc: Scenario, group: Group, server: ServerProcess, work: string, ctx: RunContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!SCRUB.test(k) || k === 'E2E_WIRE') env[k] = v;
  const proto = group.proto;
  Object.assign(env, {
    HOME: work,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    E2E_CLIENT: sc.name,
    E2E_BACKEND: group.run.target.name,
    E2E_SKIP_OPS: Object.keys(skipOpsFor(group.run.target, sc.name)).join(','),
    E2E_OPAQUE_ETAG: group.run.target.opaqueEtag ? '1' : '',
    S3_ENDPOINT: server.url,
    S3_PROTO: proto,
    S3_HOST: '127.0.0.1',
    S3_PORT: String(server.port),
    S3_REGION: REGION,
    S3_ACCESS_KEY: ACCESS_KEY,
    S3_SECRET_KEY: SECRET_KEY,
    // Also a valid Azure container name (lowercase, digits, single '-').
    S3_BUCKET: `e2e-${sc.slug}-${group.run.target.name}-${proto}`,
    S3_CA_FILE: proto === 'https' ? ctx.tls?.cert : '',
    WORK_DIR: work,
    CMD_TIMEOUT: String(ctx.opts.cmdTimeoutSec),
    AWS_BIN: process.env.E2E_AWS ?? '/usr/bin/aws',
    PYTHON_BIN: process.env.E2E_PYTHON ?? '/usr/bin/python3',
  });
  if (proto === 'https' && ctx.tls) env.NODE_EXTRA_CA_CERTS = ctx.tls.cert;
  return env;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** Unmounts anything still mounted under `dir` (an s3fs scenario that was killed). */
function cleanupMounts(dir: string): void {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return;
  }
  for (const line of mounts.split('\n')) {
    const mp = line.split(' ')[1]?.replace(/\\040/g, ' ');
    if (mp && (mp === dir || mp.startsWith(dir + '/'))) {
      const r = spawnSync('fusermount3', ['-uz', mp], { timeout: 15_000 });
      if (r.status !== 0) spawnSync('umount', ['-l', mp], { timeout: 15_000 });
    }
  }
}

type FullResult = ScenarioResult & { output: string; logFrom: number; work: string };

function baseResult(sc: Scenario, group: Group): ScenarioResult {
  return { client: sc.name, backend: group.run.target.name, proto: group.proto, status: 'FAIL', seconds: 0, ops: [] };
}

async function runScenario(sc: Scenario, group: Group, server: ServerProcess, ctx: RunContext): Promise<FullResult> {
  const work = path.join(group.dir, sc.slug);
  mkdirSync(work, { recursive: true });
  const result: FullResult = { ...baseResult(sc, group), output: '', logFrom: server.logOffset, work };
  const remaining = Math.floor((ctx.deadline - Date.now()) / 1000);
  if (remaining < 20) {
    result.message = `not run: the run's time budget (--deadline ${ctx.opts.deadlineSec}) is used up`;
    return result;
  }
  const timeoutSec = Math.min(sc.timeoutSec, remaining);
  const { cmd, args } = sc.command(ROOT, DIST);
  const started = Date.now();
  const outFile = createWriteStream(path.join(work, 'output.log'));
  const child = spawn(cmd, args, {
    cwd: work,
    env: scenarioEnv(sc, group, server, work, ctx),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let skipReason: string | undefined;
  let pending = '';
  const onStdout = (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const op = /^OP (\S+) (ok|FAIL|skip)\s*(.*)$/.exec(line);
      if (op && op[2] === 'skip') {
        const why = skipOpsFor(group.run.target, sc.name)[op[1]];
        result.ops.push({ name: op[1], ok: true, skipped: true, message: why ? `store gap: ${why}` : op[3] || undefined });
      } else if (op) {
        result.ops.push({ name: op[1], ok: op[2] === 'ok', message: op[3] || undefined });
      }
      const ver = /^VERSION (.*)$/.exec(line);
      if (ver) result.version = ver[1].trim();
      const skip = /^SKIP (.*)$/.exec(line);
      if (skip) skipReason = skip[1];
    }
  };
  const record = (stream: 'out' | 'err') => (text: string) => {
    outFile.write(text);
    if (ctx.opts.verbose) process.stderr.write(text.replace(/^(?=.)/gm, `[${sc.name}/${group.label}] `));
    if (stream === 'out') onStdout(text);
  };
  if (child.pid) LIVE.scenarios.add(child.pid);
  child.stdout.setEncoding('utf8').on('data', record('out'));
  child.stderr.setEncoding('utf8').on('data', record('err'));
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
    child.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    if (child.stdout.readableEnded && child.stderr.readableEnded) {
      clearTimeout(t);
      resolve();
    }
  });
  if (pending) onStdout('\n');
  await new Promise<void>((resolve) => outFile.end(() => resolve()));
  cleanupMounts(work);
  result.seconds = (Date.now() - started) / 1000;
  const lines = readFileSync(path.join(work, 'output.log'), 'utf8').split('\n');
  result.output = lines.slice(-200).join('\n');

  const failed = result.ops.filter((o) => !o.ok);
  const lastLine = lines
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  if (exit.error) {
    result.message = `could not start ${cmd}: ${exit.error.message}`;
  } else if (timedOut) {
    const last = result.ops[result.ops.length - 1];
    result.message =
      `timed out after ${timeoutSec} s${last ? ` (last operation reported: ${last.name})` : ''}` +
      (failed.length ? `; ${failed[0].name}: ${failed[0].message ?? ''}` : '');
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

function indent(text: string, prefix = '    '): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

function formatLine(r: ScenarioResult): string {
  const label = `${r.client} (${r.backend ?? 'fs'}, ${r.proto})`;
  const notRun = r.ops.filter((o) => o.skipped).map((o) => o.name);
  if (r.status === 'ok')
    return `ok   ${label}  ${r.seconds.toFixed(1)}s${notRun.length ? `  (not run, store gaps: ${notRun.join(', ')})` : ''}`;
  if (r.status === 'skip') return `skip ${label}: ${r.message ?? ''}`;
  return `FAIL ${label}: ${r.message ?? ''}`;
}

function pick<T extends { name: string }>(all: T[], wanted: string[] | undefined, what: string, alias?: (t: T) => string): T[] {
  if (!wanted) return all;
  const unknown = wanted.filter((w) => !all.some((t) => t.name === w || alias?.(t) === w));
  if (unknown.length) throw new Error(`unknown ${what} '${unknown.join(',')}'; known: ${all.map((t) => t.name).join(', ')}`);
  return all.filter((t) => wanted.includes(t.name) || (alias !== undefined && wanted.includes(alias(t))));
}

interface Job {
  sc: Scenario;
  group: Group;
}

async function runAll(opts: Options): Promise<number> {
  const scenarios = pick(SCENARIOS, opts.only, 'scenario', (s) => s.slug);
  const targets = pick(TARGETS, opts.backends, 'backend');
  for (const t of TARGETS) {
    const unknownOps = Object.keys(t.skipOps ?? {}).filter((key) => {
      const [client, op] = key.includes(':') ? key.split(':', 2) : [undefined, key];
      return !OPERATIONS.some(([name]) => name === op) || (client !== undefined && !SCENARIOS.some((s) => s.name === client));
    });
    const unknownClients = Object.keys(t.skipScenarios ?? {}).filter((c) => !SCENARIOS.some((s) => s.name === c));
    if (unknownOps.length || unknownClients.length) {
      throw new Error(
        `targets.ts: backend ${t.name} declares gaps for unknown ${[...unknownOps.map((o) => `operation '${o}'`), ...unknownClients.map((c) => `client '${c}'`)].join(', ')}`,
      );
    }
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist; build first (npx tsc -p tsconfig.json)`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 's3mux-e2e-'));
  const limits = [
    opts.only ? `--only ${opts.only.join(',')}` : '',
    opts.backends ? `--backend ${opts.backends.join(',')}` : '',
    opts.protos.length < 2 ? `--proto ${opts.protos[0]}` : '',
  ].filter(Boolean);
  const record: RunRecord = {
    startedAt: new Date().toISOString(),
    node: process.version,
    results: [],
    backends: targets.map((t) => ({
      name: t.name,
      kind: t.kind,
      store: t.store,
      protos: t.protos.filter((p) => opts.protos.includes(p)),
      ...(t.skipOps ? { skipOps: t.skipOps } : {}),
      ...(t.skipScenarios ? { skipScenarios: t.skipScenarios } : {}),
    })),
    ...(limits.length ? { partial: limits.join(' ') } : {}),
  };
  const t0 = Date.now();
  let keep = opts.keep;
  const ctx: RunContext = { tmp, opts, deadline: t0 + opts.deadlineSec * 1000 };

  // However the runner ends (signal, exception, a closed stdout), take the servers, the stores
  // and any running scenario down with it; a killed s3fs scenario may also leave a mount behind.
  process.once('exit', () => {
    for (const k of LIVE.killers) {
      try {
        k.kill();
      } catch {
        /* gone */
      }
    }
    for (const pid of LIVE.scenarios) killGroup(pid, 'SIGKILL');
    cleanupMounts(tmp);
  });
  const onSignal = () => process.exit(130);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  process.stdout.on('error', () => process.exit(1)); // e.g. piped into head

  // Every result, in the order of the report: backend, protocol, scenario.
  const slots: { key: string; result?: ScenarioResult }[] = [];
  const slotOf = new Map<string, number>();
  const keyOf = (target: string, proto: string, client: string) => `${target}\0${proto}\0${client}`;
  const settle = (r: ScenarioResult) => {
    slots[slotOf.get(keyOf(r.backend ?? 'fs', r.proto, r.client))!].result = r;
    console.log(formatLine(r));
  };

  // Scenario-major order: each client's runs on every backend go out together, the long ones
  // (aws-cli first) early, so that no backend's slowest client is left alone at the end.
  const jobs: Job[] = [];
  const immediate: ScenarioResult[] = [];
  const groups: Group[] = [];
  const runs: TargetRun[] = [];
  for (const target of targets) {
    const run = new TargetRun(target, tmp);
    runs.push(run);
    const protos = target.protos.filter((p) => opts.protos.includes(p));
    if (protos.length === 0)
      console.log(`     (${target.name}: runs over ${target.protos.join(', ')} only; nothing to do with --proto ${opts.protos.join(',')})`);
    const unavailable = target.available();
    for (const proto of protos) {
      const group = new Group(run, proto, ctx);
      groups.push(group);
      for (const sc of scenarios) {
        slotOf.set(keyOf(target.name, proto, sc.name), slots.length);
        slots.push({ key: keyOf(target.name, proto, sc.name) });
        const skip = (message: string) => immediate.push({ ...baseResult(sc, group), status: 'skip', message });
        const missing = missingExecutable(sc.requires);
        if (unavailable) skip(`backend not run: ${unavailable}`);
        else if (target.skipScenarios?.[sc.name]) skip(`store gap: ${target.skipScenarios[sc.name]}`);
        else if (missing) skip(`${missing} is not installed`);
        else {
          group.expect();
          jobs.push({ sc, group });
        }
      }
    }
  }
  if (jobs.some((j) => j.group.proto === 'https')) ctx.tls = makeSelfSignedCert(tmp);
  jobs.sort((a, b) => scenarios.indexOf(a.sc) - scenarios.indexOf(b.sc));
  for (const r of immediate) settle(r);

  const reportFailure = (r: FullResult, group: Group) => {
    const failedOps = r.ops.filter((o) => !o.ok);
    if (failedOps.length > 1) {
      console.log(indent(failedOps.map((o) => `${o.name}: ${o.message ?? ''}`).join('\n'), '    ✗ '));
    }
    const outTail = r.output
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-15)
      .join('\n');
    if (outTail) console.log(`  --- ${r.client} output (tail; full: ${path.join(r.work, 'output.log')})\n${indent(outTail)}`);
    if (group.server) {
      const logTail = group.server.tail(r.logFrom, 25);
      console.log(
        `  --- s3mux log (tail since the scenario started; full: ${group.server.logFile})\n${logTail ? indent(logTail) : '    (empty)'}`,
      );
    }
    const store = group.run.running;
    const storeTail = store?.tail?.(10);
    if (storeTail) console.log(`  --- ${group.run.target.name} store log (tail; full: ${store?.logFile})\n${indent(storeTail)}`);
  };

  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { sc, group } = job;
      try {
        let server: ServerProcess;
        try {
          server = await group.acquire();
          await group
            .ensureAlive()
            .catch((err) => console.log(`     (s3mux ${group.label} could not be restarted: ${(err as Error).message.split('\n')[0]})`));
        } catch (err) {
          keep = true;
          const message = (err as Error).message;
          settle({ ...baseResult(sc, group), message: message.split('\n')[0] });
          if (!group.startFailureShown && message.includes('\n')) console.log(indent(message.split('\n').slice(1, 30).join('\n')));
          group.startFailureShown = true;
          continue;
        }
        const started = Date.now();
        const r = await runScenario(sc, group, server, ctx);
        group.run.ran(started);
        const stray = group.strayData();
        if (stray && r.status !== 'FAIL') {
          r.status = 'FAIL';
          r.message = `s3mux stored data in its --data-dir instead of on the ${group.run.target.name} backend (${stray}): was the routing table ignored?`;
        }
        const { output: _o, logFrom: _l, work: _w, ...plain } = r;
        settle(plain);
        if (r.status === 'FAIL') {
          keep = true;
          if (r.seconds > 0) reportFailure(r, group);
        }
      } finally {
        await group.release();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.jobs, jobs.length)) }, worker));

  for (const s of slots) if (s.result) record.results.push(s.result);
  const passed = record.results.filter((r) => r.status === 'ok').length;
  const failed = record.results.filter((r) => r.status === 'FAIL').length;
  const skipped = record.results.filter((r) => r.status === 'skip').length;
  record.seconds = Math.round((Date.now() - t0) / 1000);
  writeFileSync(LAST_RUN, JSON.stringify(record, null, 2));
  if (opts.report) {
    const written = writeReport(record, path.join(ROOT, 'test/e2e/compat.md'), path.join(ROOT, 'README.md'));
    console.log(`report written: ${written.map((f) => path.relative(ROOT, f)).join(', ')}`);
  }
  if (keep) console.log(`logs and data kept in ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
  // Per backend: results, the scenarios' summed time, and first start to last end (the
  // backends run interleaved, so the spans overlap).
  const width = Math.max(...runs.map((r) => r.target.name.length));
  for (const run of runs) {
    const mine = record.results.filter((r) => r.backend === run.target.name);
    if (mine.length === 0) continue;
    const n = (st: string) => mine.filter((r) => r.status === st).length;
    const span = run.span
      ? `; scenarios ${(run.span.busy / 1000).toFixed(0)} s, first start to last end ${((run.span.to - run.span.from) / 1000).toFixed(0)} s`
      : '';
    console.log(`     ${run.target.name.padEnd(width)}  ${n('ok')} passed, ${n('FAIL')} failed, ${n('skip')} skipped${span}`);
  }
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

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`e2e: ${(err as Error).message}`);
    process.exit(2);
  },
);

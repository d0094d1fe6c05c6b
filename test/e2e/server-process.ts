/**
 * `node dist/src/cli.js serve` as a child process for the end-to-end suite: on a free port of
 * 127.0.0.1, its output appended to a log file, every wait bounded. Used for the s3mux the
 * clients talk to and for the upstream s3mux of the `s3` backend target (see targets.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { freePort } from '../helpers/processes';

export const DIST = path.resolve(__dirname, '../..'); // dist/
export const ROOT = path.resolve(DIST, '..'); // repository root
export const CLI = path.join(DIST, 'src', 'cli.js');

export type Proto = 'http' | 'https';

export interface ServerOptions {
  proto: Proto;
  /** --data-dir (created); with `configFile`, where a table without backends would keep its data. */
  dataDir: string;
  logFile: string;
  accessKey: string;
  secretKey: string;
  tls?: { cert: string; key: string };
  /** A routing table: `serve --config FILE`. */
  configFile?: string;
  /** More environment for the server (the secrets a routing table names by reference). */
  env?: Record<string, string>;
}

export class ServerProcess {
  child!: ChildProcess;
  url = '';
  port = 0;
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private log?: WriteStream;
  private logged = 0;

  constructor(readonly opts: ServerOptions) {}

  get proto(): Proto {
    return this.opts.proto;
  }
  get logFile(): string {
    return this.opts.logFile;
  }

  /** Bytes written to the log so far (to show only what a scenario caused). */
  get logOffset(): number {
    return this.logged;
  }

  async start(): Promise<void> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.startOnce(await freePort());
        return;
      } catch (err) {
        lastError = err as Error;
        // A config or secret problem will not go away on another port.
        if (this.exited && !/EADDRINUSE/.test(lastError.message)) break;
      }
    }
    throw lastError ?? new Error('the server did not start');
  }

  private startOnce(port: number): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true });
    mkdirSync(path.dirname(this.opts.logFile), { recursive: true });
    this.log = createWriteStream(this.opts.logFile, { flags: 'a' });
    const args = [CLI, 'serve', '--address', `127.0.0.1:${port}`, '--data-dir', this.opts.dataDir];
    if (this.opts.configFile) args.push('--config', this.opts.configFile);
    if (this.opts.tls) args.push('--tls-cert', this.opts.tls.cert, '--tls-key', this.opts.tls.key);
    this.exited = undefined;
    this.child = spawn(process.execPath, ['--enable-source-maps', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...this.opts.env, S3MUX_ROOT_USER: this.opts.accessKey, S3MUX_ROOT_PASSWORD: this.opts.secretKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = this.log;
    const write = (chunk: Buffer) => {
      this.logged += chunk.length;
      log.write(chunk);
    };
    this.child.stderr!.on('data', write);
    return new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`s3mux did not print 'listening' within 30 s:\n${out}${this.tail(0, 20)}`));
      }, 30_000);
      this.child.stdout!.on('data', (chunk: Buffer) => {
        write(chunk);
        // Only the start-up lines are searched: every access line after them went into `out`
        // and the search over it, so the test process slowed as the server logged.
        if (this.url) return;
        out += chunk.toString();
        const m = /s3mux listening on (\S+)/.exec(out);
        if (m) {
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
          // Let the log catch up with what the child wrote before it went.
          setTimeout(() => {
            const tail = this.tail(0, 30);
            const why =
              tail
                .split('\n')
                .find((l) => /\b\w*Error\b|^s3mux: |\.(json|ya?ml):/.test(l))
                ?.trim() ?? '';
            reject(new Error(`s3mux exited (code ${code}, signal ${signal}) before listening: ${why}\n${tail}`));
          }, 100);
        }
      });
    });
  }

  get alive(): boolean {
    return this.child !== undefined && this.exited === undefined;
  }

  /** Last `lines` lines of the server log written after byte `from`. */
  tail(from: number, lines: number): string {
    let text = '';
    try {
      text = readFileSync(this.opts.logFile).subarray(from).toString('utf8');
    } catch {
      /* no log yet */
    }
    return collapse(text.split('\n').filter((l) => l.trim() !== ''))
      .slice(-lines)
      .join('\n');
  }

  async stop(): Promise<void> {
    if (this.alive) {
      const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((resolve) => log.end(() => resolve()));
    this.url = '';
  }

  /** For an exit handler: no waiting. */
  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}

/** Collapses runs of lines that differ only in their numbers into one line with a count. */
export function collapse(lines: string[]): string[] {
  const out: string[] = [];
  let prevShape = '';
  let count = 0;
  const flush = () => {
    if (count > 1) out[out.length - 1] += `  [x${count}, numbers vary]`;
  };
  for (const line of lines) {
    const shape = line.replace(/\d+/g, '#');
    if (shape === prevShape) {
      count++;
      continue;
    }
    flush();
    out.push(line);
    prevShape = shape;
    count = 1;
  }
  flush();
  return out;
}

/**
 * The process's logger: pino, JSON by default (one object a line, for log shippers), or
 * `pretty`: one readable line per entry, formatted here rather than with pino-pretty (a
 * worker-thread transport and a dependency tree for what a dozen lines do).
 */
import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type { Logger };

export interface Destination {
  write(line: string): unknown;
  /** Writes out what is held back (a destination that batches). */
  flush?(): void;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** `2026-12-05T06:00:00.000Z INFO  access  reqId=... status=200`: the message, then the fields. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, err, pid: _pid, hostname: _host, ...fields } = entry;
  const when = typeof time === 'number' ? new Date(time).toISOString() : typeof time === 'string' ? time : '';
  const parts = [
    when,
    (typeof level === 'string' ? level.toUpperCase() : (LEVEL_NAMES[level as number] ?? String(level))).padEnd(5),
    typeof msg === 'string' ? msg : JSON.stringify(msg ?? ''),
  ];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`);
  }
  const e = err as { message?: string; stack?: string } | undefined;
  if (e?.message !== undefined) parts.push(`err=${JSON.stringify(e.message)}`);
  let out = parts.join(' ');
  const stack = e?.stack;
  if (stack) out += `\n  ${stack.split('\n').join('\n  ')}`;
  return `${out}\n`;
}

let stdoutBatch: Destination | undefined;

/** How long an access-log line may wait for others before it is written. */
export const STDOUT_FLUSH_MS = 20;
/** Held-back text that is written at once, whatever the time. */
export const STDOUT_FLUSH_BYTES = 32 * 1024;

/**
 * Standard output, lines written together. Node writes to a pipe or file synchronously: one
 * write(2) per access-log line, which at one client is a system call, a wake-up of the process
 * reading the pipe (a log shipper, the bench) and a turn of the event loop per request (bench:
 * RESULTS.md, issue 15, eighth pass). Lines are held for at most STDOUT_FLUSH_MS (or until
 * STDOUT_FLUSH_BYTES are held) and written with one call; a warning or error line is written at
 * once with whatever is held before it, and what is held is written when the process exits
 * (process.exit, a signal's shutdown, an uncaught exception). What a SIGKILL, the OOM killer or
 * a native abort can lose is the last STDOUT_FLUSH_MS of access lines.
 */
function batchedStdout(): Destination {
  if (stdoutBatch) return stdoutBatch;
  const batch = batchedWriter((text) => process.stdout.write(text));
  process.on('exit', () => batch.flush());
  stdoutBatch = batch;
  return batch;
}

/** Lines handed to `out` together: after STDOUT_FLUSH_MS, once STDOUT_FLUSH_BYTES are held, or on flush(). */
export function batchedWriter(out: (text: string) => void): Destination & { flush(): void } {
  let pending: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0] : pending.join('');
    pending = [];
    bytes = 0;
    out(text);
  };
  return {
    write(line: string) {
      pending.push(line);
      bytes += line.length;
      if (bytes >= STDOUT_FLUSH_BYTES) flush();
      else if (!timer) timer = setTimeout(flush, STDOUT_FLUSH_MS).unref();
    },
    flush,
  };
}

/** A JSON line of pino's at warn or above (the level is its first field, by name). */
const URGENT = /^\{"level":"(?:warn|error|fatal)"/;

export function createLogger(opts: { level?: LogLevel; format?: LogFormat; destination?: Destination } = {}): Logger {
  const dest = opts.destination ?? batchedStdout();
  // Warnings and errors are not held back: they are what one reads after a crash.
  const stream = {
    write: (line: string) => {
      dest.write(opts.format === 'pretty' ? prettyLine(line) : line);
      if (dest.flush && URGENT.test(line)) dest.flush();
    },
  };
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** A logger writing each entry at `level` or above as a readable line to `log` (embedding, tests). */
export function lineLogger(log: (line: string) => void, level: LogLevel = 'warn'): Logger {
  return pino({ level }, { write: (line: string) => log(prettyLine(line).trimEnd()) });
}

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

/**
 * Standard output, the lines of one turn of the event loop written together. Node writes to a
 * pipe or file synchronously: one write(2) per access-log line on the event loop under load;
 * this writes all the lines the requests finished in one turn produced with one call, at the end
 * of that turn (setImmediate: no timer, no delay beyond the turn), and what is left at exit.
 */
function batchedStdout(): Destination {
  if (stdoutBatch) return stdoutBatch;
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0] : pending.join('');
    pending = [];
    process.stdout.write(text);
  };
  process.on('exit', flush);
  stdoutBatch = {
    write(line: string) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush).unref();
      }
    },
  };
  return stdoutBatch;
}

export function createLogger(opts: { level?: LogLevel; format?: LogFormat; destination?: Destination } = {}): Logger {
  const dest = opts.destination ?? batchedStdout();
  const stream = opts.format === 'pretty' ? { write: (line: string) => dest.write(prettyLine(line)) } : dest;
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

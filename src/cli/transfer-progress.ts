/**
 * How `s3mux cp`/`sync` show a transfer: on a terminal, one redrawn line (objects, bytes,
 * rate, ETA, errors) and a summary; otherwise one JSON object a line for every event, the
 * last being the summary.
 */
import type { ProgressSnapshot, TransferEvent, TransferSummary } from '../transfer';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${UNITS[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function progressLine(p: ProgressSnapshot, width = 24): string {
  const total = p.listed ? p.bytes : Math.max(p.bytes, 1);
  const frac = total > 0 ? Math.min(1, p.doneBytes / total) : 1;
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const of = p.listed ? '' : '+';
  const eta = p.etaSeconds === undefined ? '--' : formatDuration(p.etaSeconds);
  return `${bar} ${p.doneObjects}/${p.objects}${of} objects  ${formatBytes(p.doneBytes)}/${formatBytes(p.bytes)}${of}  ${formatBytes(p.rate)}/s  ETA ${eta}  ${p.failed} errors`;
}

export function summaryLines(s: TransferSummary): string[] {
  const verb = s.dryRun ? 'would copy' : 'copied';
  const lines = [
    `${verb} ${s.copied} objects (${formatBytes(s.copiedBytes)}), skipped ${s.skipped} equal, kept ${s.kept}, ${s.dryRun ? 'would delete' : 'deleted'} ${s.deleted}, failed ${s.failed}` +
      ` in ${formatDuration(s.elapsedMs / 1000)} (${formatBytes(s.rate)}/s)${s.aborted ? ' — interrupted' : ''}`,
  ];
  for (const e of s.errors.slice(0, 20)) lines.push(`  failed: ${e.key}: ${e.error}`);
  if (s.errors.length > 20) lines.push(`  ... and ${s.errors.length - 20} more`);
  return lines;
}

export interface ProgressView {
  onEvent(e: TransferEvent): void;
  finish(summary: TransferSummary): void;
}

/** A progress bar redrawn on `out` (a TTY); object lines only for failures and, in a dry run, what would happen. */
export function terminalView(out: NodeJS.WriteStream): ProgressView {
  let last = '';
  const clear = () => last && out.write('\r\x1b[K');
  return {
    onEvent(e) {
      if (e.type === 'progress') {
        last = progressLine(e.progress);
        out.write(`\r\x1b[K${last}`);
      } else if (e.type === 'object' && (e.action === 'failed' || e.dryRun)) {
        clear();
        out.write(
          `${e.dryRun ? `(dry run) ${e.action === 'copied' ? 'copy' : e.action}` : 'failed'}: ${e.key}${e.error ? `: ${e.error}` : ''}\n`,
        );
        if (last) out.write(last);
      }
    },
    finish(summary) {
      clear();
      if (last) out.write(`${last}\n`);
      out.write(summaryLines(summary).join('\n') + '\n');
    },
  };
}

/** One JSON object a line per event: `{"type":"object",...}`, `{"type":"progress",...}`, finally `{"type":"done",...}`. */
export function jsonView(out: NodeJS.WritableStream): ProgressView {
  return {
    onEvent(e) {
      if (e.type !== 'done') out.write(JSON.stringify(e.type === 'progress' ? { type: 'progress', ...e.progress } : e) + '\n');
    },
    finish(summary) {
      out.write(JSON.stringify({ type: 'done', ...summary }) + '\n');
    },
  };
}

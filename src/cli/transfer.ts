/** `s3mux cp SRC DST` and `s3mux sync SRC DST`: the transfer engine from the command line. */
import { isS3Error } from '../errors';
import { FileCheckpointStore, runTransfer, type Location, type TransferSummary } from '../transfer';
import { keyFilter } from '../transfer/patterns';
import { resolveEndpoints } from './transfer-endpoints';
import { parseTransferOptions, type TransferCommand } from './transfer-options';
import { jsonView, terminalView } from './transfer-progress';

/** A destination bucket (directory, container) that does not exist yet is made, as `rclone` does (not in a dry run). */
async function ensureBucket(loc: Location, dryRun: boolean): Promise<void> {
  try {
    await loc.backend.headBucket(loc.bucket);
  } catch (err) {
    if (!isS3Error(err, 'NoSuchBucket')) throw err;
    if (!dryRun) await loc.backend.createBucket(loc.bucket);
  }
}

export async function runTransferCommand(command: TransferCommand, args: string[]): Promise<number> {
  const opts = parseTransferOptions(command, args);
  const { source, destination, router } = resolveEndpoints(opts.source, opts.destination, opts.config, command);
  await ensureBucket(destination, opts.dryRun);
  const tty = process.stdout.isTTY && !opts.json;
  const view = tty ? terminalView(process.stdout) : jsonView(process.stdout);
  const ac = new AbortController();
  const stop = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let summary: TransferSummary;
  try {
    summary = await runTransfer({
      source,
      destination,
      filter: keyFilter(opts.patterns),
      overwrite: opts.overwrite,
      deleteExtraneous: opts.delete,
      dryRun: opts.dryRun,
      concurrency: opts.concurrency,
      rateLimit: opts.rate,
      retry: { attempts: opts.retries },
      multipartThreshold: opts.multipartThreshold,
      partSize: opts.partSize,
      checkpoint: opts.resume ? new FileCheckpointStore(opts.resume) : undefined,
      onEvent: (e) => view.onEvent(e),
      signal: ac.signal,
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await router.close().catch(() => {});
  }
  view.finish(summary);
  if (summary.aborted) return 130;
  return summary.failed > 0 ? 1 : 0;
}

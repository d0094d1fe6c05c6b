/**
 * Child-process entry for the fs reserved store's cross-process test: opens an FsBackend on
 * `root` and increments the counter document `name` of `bucket` `n` times by compare-and-swap
 * (read, add one, put ifMatch the etag read; again on PreconditionFailed). Prints
 * `DONE <retries>` and exits 0, or the error and exits 1.
 *
 *   node reserved-counter-main.js <root> <bucket> <name> <n>
 */
import { FsBackend } from '../../src/backends/fs/index';
import { readReservedBody } from '../../src/backends/reserved-store';
import { S3Error } from '../../src/errors';

async function main(): Promise<void> {
  const [root, bucket, name, n] = process.argv.slice(2);
  const backend = new FsBackend({ root });
  let retries = 0;
  for (let i = 0; i < Number(n); i++) {
    for (;;) {
      const doc = await backend.reserved.get(bucket, name);
      if (!doc) throw new Error('the counter document is missing');
      const value = Number((await readReservedBody(doc)).toString('utf8'));
      try {
        await backend.reserved.put(bucket, name, Buffer.from(String(value + 1)), { ifMatch: doc.entry.etag });
        break;
      } catch (err) {
        if (!(err instanceof S3Error && err.code === 'PreconditionFailed')) throw err;
        retries++;
      }
    }
  }
  await backend.close();
  process.stdout.write(`DONE ${retries}\n`);
}

main().catch((err: unknown) => {
  process.stdout.write(`FAILED ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});

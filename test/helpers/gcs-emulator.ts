/**
 * Google's Cloud Storage emulator (firebase-tools 15.34.2, pinned) as a child process for tests:
 * on 127.0.0.1, on a free port, with its blobs in a fresh temp dir that stop() removes. The CLI
 * route needs Java 21 and a downloaded rules jar, so gcs-emulator-main.ts runs the JavaScript
 * emulator in-process with the rules runtime stubbed out. Every wait is bounded.
 *
 * Client: new Storage({ apiEndpoint: emu.endpoint, projectId: emu.projectId, useAuthWithCustomEndpoint: false })
 * (no credentials needed).
 *
 * What it does NOT do like GCS (checked against it with @google-cloud/storage 7.22.0; the double in
 * test/helpers/gcs-double.ts covers all of these):
 * - Buckets: createBucket and bucket.delete -> 501. bucket.getMetadata/exists and getBuckets -> 404
 *   (GET /storage/v1/b[/x] falls into its download route), so bucket.exists() is false even for a
 *   bucket with objects. Any request under /b/<name>/ creates the bucket: there is no bucket 404.
 * - compose (bucket.combine) -> 501. copy/rewrite (file.copy, file.move) and PATCH (setMetadata)
 *   -> 501: those routes exist only at /b/..., not at /storage/v1/b/... where the SDK sends them.
 * - Resumable uploads finalize on the first PUT (Content-Ranges below have spaces around '/' only
 *   to keep this comment open): the SDK's default single PUT (`bytes 0-* / *`)
 *   works, chunked ones (chunkSize) fail with FILE_NO_UPLOAD. Worse, a status query
 *   (`Content-Range: bytes * / *`, what a client sends to resume) finalizes an open session as an
 *   EMPTY object, and the re-sent data then gets 400.
 * - Preconditions are ignored on upload, get and delete: ifGenerationMatch=0 overwrites, and a
 *   delete with a wrong ifGenerationMatch deletes.
 * - At most 130 MB per request (413 above).
 * - Range: `a-b`, `a-`, `-n` work (206); a start at or past the end gives 200 and the whole
 *   object (GCS: 416).
 * - Listing is in JS string (UTF-16) order, not GCS's UTF-8 byte order: 'a😀' comes before
 *   'a\uFFFF' (in bytes EF BF BF < F0 9F 98 80). startOffset, endOffset and includeTrailingDelimiter
 *   are ignored. prefix, delimiter, maxResults work, but maxResults counts items only and every page
 *   repeats all the prefixes. pageToken is the plain name of the next item; if that object is
 *   deleted between pages, the listing silently restarts from the beginning.
 * - An upload aborted midway (media POST or resumable PUT) leaves nothing: bodies are buffered whole.
 * - Object names: it stores what GCS refuses: '\r', '\n', NUL, names over 1024 bytes. '#', '?',
 *   '[', '*', '%', spaces work. A leading '/' is stripped from upload names ('/x' is stored as 'x').
 *   '.' and '..' upload (the name is a query parameter) but cannot be read back through the SDK:
 *   the client's URL normalization turns /o/. into /o/ (so with real GCS too; GCS refuses them).
 * - Errors other than 404 are bare statuses ('Bad Request', 'Not Implemented'), not GCS JSON; a
 *   404 on alt=media is plain text. No x-goog-stored-content-encoding header on media, so the SDK
 *   skips its CRC32C check of downloads.
 * - A media upload without ?name= throws inside the emulator after answering 400 (logged; it stays up).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { freePort, stopChild } from './processes';
import * as os from 'node:os';
import * as path from 'node:path';

export interface GcsEmulator {
  port: number;
  /** http://127.0.0.1:<port>, for Storage's apiEndpoint */
  endpoint: string;
  projectId: string;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL when it has not exited within `timeoutMs`; then removes its temp dir. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface GcsEmulatorOptions {
  /** How long to wait for it to listen; default 20 s. */
  startTimeoutMs?: number;
  /** Default 'demo-test' (a demo- project never reaches production services). */
  projectId?: string;
}

/** Resolves on the child's `READY` line; rejects on `FAILED`, exit or timeout. */
function waitUntilReady(child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onData = () => {
      const out = output();
      if (/^READY \d+$/m.test(out)) done();
      else if (/^FAILED /m.test(out)) done(new Error(`gcs emulator failed to start: ${out}`));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`gcs emulator exited early (code ${code}, signal ${signal}): ${output()}`));
    const timer = setTimeout(() => done(new Error(`gcs emulator did not start within ${timeoutMs} ms: ${output()}`)), timeoutMs);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
}

export async function startGcsEmulator(opts: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const main = path.join(__dirname, 'gcs-emulator-main.js');
  const projectId = opts.projectId ?? 'demo-test';
  let lastError: unknown;
  // A port picked free can be taken before the emulator binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    // Blobs go to $TMPDIR/firebase/storage/blobs; firebase-tools' configstore to $XDG_CONFIG_HOME.
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3mux-gcs-emulator-'));
    const child = spawn(process.execPath, [main], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        GCS_EMULATOR_PORT: String(port),
        GCS_EMULATOR_PROJECT: projectId,
        TMPDIR: tmpDir,
        GCS_EMULATOR_OWNS_TMPDIR: '1',
        XDG_CONFIG_HOME: tmpDir,
        STORAGE_EMULATOR_DEBUG: '',
      },
    });
    let output = '';
    const collect = (d: Buffer) => {
      if (output.length < 16_384) output += d.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const stop = async (timeoutMs = 5000): Promise<void> => {
      await stopChild(child, timeoutMs);
      child.stdin?.destroy();
      fs.rmSync(tmpDir, { recursive: true, force: true });
    };
    try {
      await waitUntilReady(child, () => output, opts.startTimeoutMs ?? 20_000);
    } catch (err) {
      lastError = err;
      await stop();
      continue;
    }
    return { port, endpoint: `http://127.0.0.1:${port}`, projectId, process: child, stop };
  }
  throw lastError;
}

/**
 * Child-process entry for test/helpers/gcs-emulator.ts: firebase-tools' Cloud Storage emulator,
 * in-process, with the Java rules runtime stubbed out (the GCS JSON API handlers use the admin
 * storage layer, which never evaluates rules). Uses firebase-tools internals, so firebase-tools
 * is pinned exactly in package.json.
 *
 * Environment: GCS_EMULATOR_PORT, GCS_EMULATOR_PROJECT; TMPDIR decides where blobs go
 * ($TMPDIR/firebase/storage/blobs); GCS_EMULATOR_OWNS_TMPDIR=1 removes TMPDIR on exit.
 * Prints one line `READY <port>` once its own server is listening, or `FAILED <message>` and exits 1.
 * Exits on SIGTERM/SIGINT and when its stdin closes (the parent is gone).
 */

import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';

const port = Number(process.env.GCS_EMULATOR_PORT);
const projectId = process.env.GCS_EMULATOR_PROJECT || 'demo-test';
const host = '127.0.0.1';

function fail(err: unknown): never {
  process.stdout.write(`FAILED ${String((err as Error)?.stack ?? err).replace(/\n/g, ' | ')}\n`);
  process.exit(1);
}

// Until READY, any error means "not started". Afterwards the emulator's own handler bugs (e.g. a
// media upload without ?name= throws after answering 400) must not kill it, as they don't the CLI.
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
function logOnly(err: unknown): void {
  process.stderr.write(`gcs emulator: ${String((err as Error)?.stack ?? err)}\n`);
}

async function main(): Promise<void> {
  if (!Number.isInteger(port) || port <= 0) fail(new Error(`bad GCS_EMULATOR_PORT ${process.env.GCS_EMULATOR_PORT}`));
  const utils = require('firebase-tools/lib/utils.js') as { createDestroyer: (s: http.Server) => () => Promise<void> };
  const { StorageEmulator } = require('firebase-tools/lib/emulator/storage/index.js');
  const { EmulatorRegistry } = require('firebase-tools/lib/emulator/registry.js');

  // start() does `server = app.listen(port, host); utils.createDestroyer(server)` and never listens
  // for 'error'. Catching the server here lets us tell "our server is listening" from "someone
  // else answers on that port" (a port race), which polling the port cannot.
  let server: http.Server | undefined;
  const originalDestroyer = utils.createDestroyer;
  utils.createDestroyer = (s: http.Server) => {
    server = s;
    return originalDestroyer(s);
  };

  const emu = new StorageEmulator({ projectId, host, port, rules: [], auto_download: false });
  // The rules runtime is a Java 21 jar downloaded on first use: neither is available here.
  emu._rulesRuntime.start = async () => undefined;
  emu._rulesRuntime.stop = async () => undefined;
  emu._rulesManager = { start: async () => undefined, stop: async () => undefined, getRuleset: () => undefined };

  // Registration is required: the handlers look their own host/port up in the registry.
  const started = EmulatorRegistry.start(emu) as Promise<void>;
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (!server) return;
      clearInterval(poll);
      if (server.listening) return resolve();
      server.once('listening', () => resolve());
      server.once('error', reject);
    }, 5);
    started.catch((err: unknown) => {
      clearInterval(poll);
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
  await started;

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    // emu.stop() deletes the blobs and closes open sockets; never wait more than 2 s for it. The
    // temp dir is ours alone (the parent made it), so it goes too, also when the parent died.
    const exit = () => {
      if (process.env.GCS_EMULATOR_OWNS_TMPDIR === '1') fs.rmSync(os.tmpdir(), { recursive: true, force: true });
      process.exit(0);
    };
    setTimeout(exit, 2000).unref();
    void Promise.resolve(emu.stop()).finally(exit);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // The parent going away (even by SIGKILL) closes our stdin: do not outlive it.
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();

  process.off('uncaughtException', fail);
  process.off('unhandledRejection', fail);
  process.on('uncaughtException', logOnly);
  process.on('unhandledRejection', logOnly);
  process.stdout.write(`READY ${port}\n`);
}

main().catch(fail);

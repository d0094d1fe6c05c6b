/**
 * Azurite's blob service as a child process, for tests: in memory, on 127.0.0.1, on a free
 * port. `--skipApiVersionCheck` is required (the SDK speaks a newer API version than
 * Azurite 3.35 knows). Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, stopChild } from './processes';
import * as path from 'node:path';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  port: number;
  /** The account's blob endpoint: http://127.0.0.1:<port>/devstoreaccount1 */
  endpoint: string;
  account: string;
  accountKey: string;
  connectionString: string;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL when it has not exited within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface AzuriteOptions {
  /** How long to wait for it to answer; default 20 s. */
  startTimeoutMs?: number;
  /** MB of blob data Azurite may hold in memory; default 512. */
  extentMemoryLimitMb?: number;
}

/** Resolves when something answers HTTP on the port (any status), rejects after `timeoutMs`. */
async function waitUntilAnswering(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`azurite exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer().catch(() => undefined);
      return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`azurite did not answer on ${url} within ${timeoutMs} ms: ${String(lastError)}`);
}

/** The well-known dev account only: a custom account list in the environment would replace it. */
function withoutCustomAccounts(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.AZURITE_ACCOUNTS;
  return out;
}

export async function startAzurite(opts: AzuriteOptions = {}): Promise<Azurite> {
  const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  let lastError: unknown;
  // A port picked free can be taken before azurite binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        main,
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--inMemoryPersistence',
        '--extentMemoryLimit',
        String(opts.extentMemoryLimitMb ?? 512),
        '--disableTelemetry',
        '--silent',
        '--skipApiVersionCheck',
        '--loose',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: withoutCustomAccounts(process.env) },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
    const stop = (timeoutMs = 5000): Promise<void> => stopChild(child, timeoutMs);
    try {
      await waitUntilAnswering(`${endpoint}?comp=list`, child, opts.startTimeoutMs ?? 20_000);
    } catch (err) {
      lastError = new Error(`${(err as Error).message}${stderr ? `\n${stderr}` : ''}`);
      await stop();
      continue;
    }
    return {
      port,
      endpoint,
      account: AZURITE_ACCOUNT,
      accountKey: AZURITE_KEY,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
      process: child,
      stop,
    };
  }
  throw lastError;
}

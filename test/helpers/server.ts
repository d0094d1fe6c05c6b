/** Starts s3mux in-process on a free port over a temporary data directory, for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import * as Minio from 'minio';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/app';
import { Router } from '../../src/router/router';
import { validateRoutingTable } from '../../src/router/config';
import { startProtocolStore } from './protocol-backends';

export const ACCESS_KEY = 'testaccesskey';
export const SECRET_KEY = 'testsecretkey/with+chars';

export interface TestServer extends RunningServer {
  /** A fresh folder holding only dataDir. */
  sandbox: string;
  dataDir: string;
  router: Router;
  s3: S3Client;
  /**
   * For presigned PUT URLs: the SDK's default checksum setting signs, at presign time, the CRC32
   * of an empty body into the URL (x-amz-checksum-crc32=AAAAAA==), which S3 then checks against
   * the bytes sent and refuses. AWS's advice is this setting: checksums only where required.
   */
  presigner: S3Client;
  minio: Minio.Client;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  router?: Router;
  domains?: string[];
  tls?: { cert: string; key: string };
  users?: ServerOptions['users'];
  keepAliveMs?: number;
  fsEncryptedAtRest?: boolean;
  trustForwarded?: boolean;
  /** How long a connection may wait on its client (tests shorten it). */
  idleTimeoutMs?: number;
  /** `--max-connections` (server/connection-cap.ts). */
  maxConnections?: number;
  /** `--region` (default us-east-1); the clients sign for it. */
  region?: string;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  // The data directory sits alone in a fresh folder, so tests can check nothing lands beside it.
  const sandbox = mkdtempSync(path.join(os.tmpdir(), 's3mux-test-'));
  const dataDir = path.join(sandbox, 'data');
  // S3MUX_TEST_BACKEND=memory runs the protocol suite on the memory backend instead of fs;
  // s3, s3rver, azure, gcs, gcs-double on a fresh store of that kind (helpers/protocol-backends.ts).
  const store = opts.router ? undefined : await startProtocolStore(path.join(sandbox, 'store'));
  const router =
    opts.router ??
    (store
      ? Router.fromTable(validateRoutingTable(store.table, { baseDir: dataDir }))
      : process.env.S3MUX_TEST_BACKEND === 'memory'
        ? Router.fromTable(
            validateRoutingTable({ backends: { mem: { type: 'memory', store: path.basename(dataDir) } } }, { baseDir: dataDir }),
          )
        : Router.defaultFor(dataDir));
  const running = await startServer({
    router,
    host: '127.0.0.1',
    port: 0,
    domains: opts.domains,
    tls: opts.tls,
    users: opts.users,
    keepAliveMs: opts.keepAliveMs,
    fsEncryptedAtRest: opts.fsEncryptedAtRest,
    trustForwarded: opts.trustForwarded,
    idleTimeoutMs: opts.idleTimeoutMs,
    maxConnections: opts.maxConnections,
    region: opts.region,
    identities: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }],
    log: (line) => console.error(line),
  });
  const s3 = new S3Client({
    endpoint: running.url,
    region: opts.region ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
  const presigner = new S3Client({
    endpoint: running.url,
    region: opts.region ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const minio = new Minio.Client({
    endPoint: '127.0.0.1',
    port: running.port,
    useSSL: false,
    accessKey: ACCESS_KEY,
    secretKey: SECRET_KEY,
    pathStyle: true,
  });
  return {
    ...running,
    sandbox,
    dataDir,
    router,
    s3,
    presigner,
    minio,
    async stop() {
      s3.destroy();
      presigner.destroy();
      await running.close();
      await router.close();
      await store?.stop();
      rmSync(sandbox, { recursive: true, force: true });
    },
  };
}

/** A raw HTTP request to the server (no signing), for protocol edge cases. */
export async function rawRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

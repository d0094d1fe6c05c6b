/**
 * The stores the protocol suite (test/protocol) runs on, unchanged, through s3mux's routing
 * table: S3MUX_TEST_BACKEND=<name> makes every test server that takes the default router
 * serve a table whose default backend is that store, started fresh for that server (so the
 * buckets of one test file never meet another's). fs (the default) and memory need no store.
 *
 * Each entry declares the store's real gaps once, with the reason: tests whose full title
 * contains a key are skipped there and reported with the reason (test/protocol/backend-gaps.ts,
 * `npm run test:protocol:backends -- --report`). Never declare a gap to hide an s3mux bug.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TARGETS } from '../e2e/targets';
import { startS3rver, S3RVER_ACCESS_KEY, S3RVER_SECRET_KEY } from './s3rver';
import { startGcsDouble } from './gcs-double';

export interface ProtocolStore {
  /** The routing table for the test server (secrets by reference, in `env`). */
  table: Record<string, unknown>;
  env?: Record<string, string>;
  stop(): Promise<void>;
}

export interface ProtocolBackend {
  name: string;
  /** What the data lands in, for the report. */
  store: string;
  /** Undefined for fs and memory (no store process). */
  start?(dir: string): Promise<ProtocolStore>;
  /** Test title fragment -> why the store cannot pass it. */
  gaps?: Record<string, string>;
}

/** Test files that build their own routing table (or child servers on an fs folder): fs only. */
export const OWN_ROUTER_FILES = ['policies.test.js', 'routing.test.js', 'multipart-replicas.test.js'];

function fromTarget(name: string): ProtocolBackend['start'] {
  const target = TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`no e2e target ${name}`);
  return async (dir) => {
    const children: Array<{ kill(): void }> = [];
    const running = await target.start({ dir, track: (c) => children.push(c) });
    return {
      table: running.table!,
      env: running.env,
      stop: async () => {
        await running.stop();
        for (const c of children) c.kill();
      },
    };
  };
}

/** Part checksums are kept only by stores with native multipart (s3). */
const NO_PART_CHECKSUMS = {
  'a part checksum other than the one the part was uploaded with': 'parts are staged without the checksums they were uploaded with, so Complete cannot compare them yet',
};

export const PROTOCOL_BACKENDS: ProtocolBackend[] = [
  { name: 'fs', store: 'a local folder (the embedded default)', gaps: NO_PART_CHECKSUMS },
  { name: 'memory', store: 'the memory backend', gaps: NO_PART_CHECKSUMS },
  {
    name: 's3',
    store: 'a second s3mux on fs, through the s3 backend',
    start: fromTarget('s3'),
    gaps: {},
  },
  {
    name: 's3rver',
    store: 's3rver 3.7.1 through the s3 backend',
    start: async (dir) => {
      const s = await startS3rver({ readyTimeoutMs: 30_000 });
      void dir;
      return {
        table: {
          backends: {
            up: {
              type: 's3', endpoint: s.endpoint, region: 'us-east-1', forcePathStyle: true, conditionalWrites: 'check',
              credentials: { accessKeyIdEnv: 'PROTOCOL_S3RVER_KEY', secretAccessKeyEnv: 'PROTOCOL_S3RVER_SECRET' },
            },
          },
          default: 'up',
        },
        env: { PROTOCOL_S3RVER_KEY: S3RVER_ACCESS_KEY, PROTOCOL_S3RVER_SECRET: S3RVER_SECRET_KEY },
        stop: () => s.stop(),
      };
    },
    gaps: {},
  },
  {
    name: 'azure',
    store: 'Azurite (blob service, in memory), shared key',
    start: fromTarget('azure'),
    gaps: NO_PART_CHECKSUMS,
  },
  {
    name: 'gcs',
    store: 'the firebase-tools Cloud Storage emulator (`emulator: true`)',
    start: fromTarget('gcs'),
    gaps: { ...NO_PART_CHECKSUMS },
  },
  {
    name: 'gcs-double',
    store: 'the GCS JSON API double (test/helpers/gcs-double.ts) for what the emulator lacks',
    start: async () => {
      const d = await startGcsDouble({ maxObjectBytes: 96 * 1024 * 1024 });
      return {
        table: { backends: { g: { type: 'gcs', endpoint: d.endpoint, projectId: d.projectId, credentials: { anonymous: true } } }, default: 'g' },
        stop: () => d.stop(),
      };
    },
    gaps: { ...NO_PART_CHECKSUMS },
  },
];

export function protocolBackend(name = process.env.S3MUX_TEST_BACKEND ?? 'fs'): ProtocolBackend {
  const b = PROTOCOL_BACKENDS.find((x) => x.name === name);
  if (!b) throw new Error(`S3MUX_TEST_BACKEND=${name}: not one of ${PROTOCOL_BACKENDS.map((x) => x.name).join(', ')}`);
  return b;
}

/** Starts the store of the selected backend (if it has one) in `dir`. */
export async function startProtocolStore(dir: string): Promise<ProtocolStore | undefined> {
  const b = protocolBackend();
  if (!b.start) return undefined;
  mkdirSync(path.join(dir), { recursive: true });
  const store = await b.start(dir);
  for (const [k, v] of Object.entries(store.env ?? {})) process.env[k] = v;
  return store;
}

/**
 * The backends the end-to-end scenarios run on: one entry each. The clients always talk to an
 * s3mux started by run.ts; a target says what store that s3mux serves, through which routing
 * table. Adding a backend is adding an entry here:
 *
 *   name       the label in the output and the report (`--backend NAME`)
 *   kind       the s3mux backend type the routing table uses (src/router/config.ts)
 *   store      what the data lands in, for the report
 *   protos     which protocols to run: HTTPS is a frontend property, covered on fs; every other
 *              target runs HTTP only (the CI time budget)
 *   available  why it cannot run in this build/on this machine, or undefined
 *   start      starts the store and returns the routing table for the front s3mux (every bucket
 *              the clients create lands on the table's `default` backend), the environment
 *              holding the secrets the table names (tables take secrets only by reference),
 *              and how to stop it
 *   skipOps    operation (an OP name of the clients, see report.ts OPERATIONS; `client:op` for
 *              one client's step only) -> why it cannot work on this store (a documented store gap). No client runs it there (they get
 *              E2E_SKIP_OPS and report "OP <name> skip"); the output and the report show it as
 *              not run on this backend, with the reason.
 *   skipScenarios  client (scenario name) -> why that client cannot run on this store at all:
 *              counted and reported as skipped with the reason.
 *   Never declare a gap to hide an s3mux bug: a gap is the store's, and says so.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { kitFor } from '../../src/backends/create';
import { startAzurite } from '../helpers/azurite';
import { startGcsEmulator } from '../helpers/gcs-emulator';
import { ociTableEntry, startOciDouble, testApiKey } from '../helpers/oci-double';
import { GithubDouble } from '../helpers/github-double';
import { ServerProcess, type Proto } from './server-process';

export interface TargetContext {
  /** A directory of the target's own under the run's temporary directory. */
  dir: string;
  /** Registers a store process, killed if the runner dies before stop() is called. */
  track(child: ChildProcess | { kill(): void }): void;
}

export interface RunningStore {
  /**
   * The routing table for the front s3mux (written to a file, `serve --config FILE`);
   * undefined: no table, `serve --data-dir` as a user would start it.
   */
  table?: Record<string, unknown>;
  /** Environment for the front s3mux: the secrets `table` names (…Env fields). */
  env?: Record<string, string>;
  /** The store's own log, for failure output (the last `lines` lines). */
  tail?(lines: number): string;
  /** Where its log is, for failure output. */
  logFile?: string;
  stop(): Promise<void>;
}

export interface BackendTarget {
  name: string;
  kind: string;
  store: string;
  protos: Proto[];
  available(): string | undefined;
  start(ctx: TargetContext): Promise<RunningStore>;
  skipOps?: Record<string, string>;
  skipScenarios?: Record<string, string>;
  /**
   * Why the store's ETags are not the content's MD5 (`<md5>-N` for multipart), when they are
   * not: the clients then get E2E_OPAQUE_ETAG=1 and check that ETags are present and agree
   * between calls instead of comparing them with an MD5 they compute.
   */
  opaqueEtag?: string;
}

/** The operations `client` does not run on `target`: its `op` and `client:op` gaps, op -> why. */
export function skipOpsFor(target: BackendTarget, client: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, why] of Object.entries(target.skipOps ?? {})) {
    const i = key.indexOf(':');
    if (i < 0) out[key] = why;
    else if (key.slice(0, i) === client) out[key.slice(i + 1)] = why;
  }
  return out;
}

/** The s3mux backend type is not registered in this build (src/backends/registry.ts). */
const built = (kind: string) => (): string | undefined =>
  kitFor(kind) ? undefined : `the ${kind} backend is not in this build (src/backends/registry.ts)`;

// Credentials of the upstream s3mux (s3 target): a different pair from the front's, with the
// characters that trip up escaping, so the s3 backend's own SigV4 signing is checked too.
const UPSTREAM_ACCESS_KEY = 'e2eUpstreamKey01';
const UPSTREAM_SECRET_KEY = 'e2e/Upstream+Secret/0123456789abcdefXYZ';

/** What a release asset cannot hold (src/backends/github/index.ts): refused by s3mux, so not run. */
const GITHUB_GAPS: Record<string, string> = {
  metadata: 'an asset holds no user metadata and no content header besides Content-Type (refused: NotImplemented)',
  'copy-replace-meta': 'REPLACE sets user metadata, which an asset cannot hold (refused: NotImplemented)',
  tagging: 'an asset holds no tags (refused: NotImplemented)',
  'storage-class': 'an asset holds one storage class, STANDARD (others refused: InvalidStorageClass)',
  'get-part': 'an asset keeps no part layout: a completed upload is one part (ETag -1), so partNumber=2 is InvalidPartNumber',
  'boto3:list-paged': 'a release holds at most 1000 assets; the step stores 1100 keys',
  'boto3:list-delimiter': 'a release holds at most 1000 assets; the step lists the 1100 keys of list-paged',
  'boto3:list-v1': 'a release holds at most 1000 assets; the step lists the 1100 keys of list-paged',
};
/** Clients that send user metadata with every upload, which a release asset cannot hold. */
const GITHUB_CLIENT_GAPS: Record<string, string> = {
  rclone: 'rclone sends X-Amz-Meta-Mtime with every upload; an asset holds no user metadata (refused: NotImplemented)',
  s3fs: 's3fs sends x-amz-meta-mode/-mtime/-uid/-gid with every file; an asset holds no user metadata (refused: NotImplemented)',
  s3cmd:
    's3cmd sends x-amz-meta-s3cmd-attrs with every upload (unless --no-preserve); an asset holds no user metadata (refused: NotImplemented)',
};

export const TARGETS: BackendTarget[] = [
  {
    name: 'fs',
    kind: 'fs',
    store: 'a local folder (`serve --data-dir`, no routing table: the embedded default)',
    protos: ['http', 'https'],
    available: built('fs'),
    start: async () => ({ stop: async () => undefined }),
  },
  {
    name: 'memory',
    kind: 'memory',
    store: 'the memory backend (`type: memory` as the default backend)',
    protos: ['http'],
    available: built('memory'),
    start: async () => ({
      table: { backends: { mem: { type: 'memory' } }, default: 'mem' },
      stop: async () => undefined,
    }),
  },
  {
    // Upstream: a second s3mux on the fs backend, not s3rver. s3rver 3.7.1 has no
    // AbortMultipartUpload, ListMultipartUploads, ListParts or UploadPartCopy (boto3's
    // list-parts and abort-multipart, aws-cli's copy of a 50 MiB object) and does not verify
    // SigV4, so the s3 backend's signing would go unchecked. test/backends/s3.test.ts runs the
    // backend's conformance suite on both.
    name: 's3',
    kind: 's3',
    store: 'a second s3mux on fs, reached through the s3 backend (SigV4 verified, full multipart set)',
    protos: ['http'],
    available: built('s3'),
    start: async (ctx) => {
      const upstream = new ServerProcess({
        proto: 'http',
        dataDir: path.join(ctx.dir, 'upstream-data'),
        logFile: path.join(ctx.dir, 'upstream.log'),
        accessKey: UPSTREAM_ACCESS_KEY,
        secretKey: UPSTREAM_SECRET_KEY,
        // It stands in for AWS S3, which encrypts every object: the SSE-S3 writes the s3 backend
        // forwards are honoured there (test/backends/s3.test.ts has a store that refuses them).
        env: { S3MUX_FS_ENCRYPTED_AT_REST: 'true' },
      });
      ctx.track(upstream);
      await upstream.start();
      return {
        table: {
          backends: {
            up: {
              type: 's3',
              endpoint: upstream.url,
              region: 'us-east-1',
              forcePathStyle: true,
              credentials: { accessKeyIdEnv: 'E2E_UPSTREAM_ACCESS_KEY', secretAccessKeyEnv: 'E2E_UPSTREAM_SECRET_KEY' },
            },
          },
          default: 'up',
        },
        env: { E2E_UPSTREAM_ACCESS_KEY: UPSTREAM_ACCESS_KEY, E2E_UPSTREAM_SECRET_KEY: UPSTREAM_SECRET_KEY },
        tail: (lines) => upstream.tail(0, lines),
        logFile: upstream.logFile,
        stop: () => upstream.stop(),
      };
    },
  },
  {
    name: 'azure',
    kind: 'azure',
    store: `Azurite ${packageVersion('azurite')} (blob service, in memory), shared key`,
    protos: ['http'],
    available: built('azure'),
    start: async (ctx) => {
      const azurite = await startAzurite({ extentMemoryLimitMb: 2048, startTimeoutMs: 30_000 });
      ctx.track(azurite.process);
      return {
        table: {
          backends: {
            az: { type: 'azure', account: azurite.account, endpoint: azurite.endpoint, credentials: { accountKeyEnv: 'E2E_AZURITE_KEY' } },
          },
          default: 'az',
        },
        env: { E2E_AZURITE_KEY: azurite.accountKey },
        stop: () => azurite.stop(),
      };
    },
  },
  {
    name: 'gcs',
    kind: 'gcs',
    store: `the Cloud Storage emulator of firebase-tools ${packageVersion('firebase-tools')} (\`emulator: true\`: s3mux makes up for its missing bucket API, compose and rewrite)`,
    protos: ['http'],
    available: built('gcs'),
    // test/helpers/gcs-emulator.ts lists what the emulator lacks. Without a bucket API every
    // bucket exists (s3mux's `emulator: true` makes CreateBucket succeed and DeleteBucket only
    // check emptiness), and there is no bucket list.
    skipOps: {
      'list-buckets': 'the emulator has no bucket API: buckets cannot be listed',
      rb: 'the emulator has no bucket API: a deleted bucket still exists (HeadBucket answers 200)',
      'err-NoSuchBucket': 'the emulator has no bucket API: every bucket name exists',
      tagging:
        "the emulator cannot patch an object's metadata, where tags live: PutObjectTagging is refused there (NotImplemented); tags written with the object are kept",
    },
    start: async (ctx) => {
      const emulator = await startGcsEmulator({ startTimeoutMs: 30_000 });
      ctx.track(emulator.process);
      return {
        table: {
          backends: {
            // emulator: s3mux works around what the emulator lacks (bucket API, compose,
            // rewrite, metadata patches) by streaming through itself; no credentials needed.
            gcs: {
              type: 'gcs',
              endpoint: emulator.endpoint,
              projectId: emulator.projectId,
              emulator: true,
              credentials: { anonymous: true },
            },
          },
          default: 'gcs',
        },
        stop: () => emulator.stop(),
      };
    },
  },
  {
    // No OCI emulator exists that can run here: the store is the local double of the OCI
    // REST API (test/helpers/oci-double.ts), in the runner's process, which verifies the
    // signature of every request s3mux sends with the test key's public half.
    name: 'oci',
    kind: 'oci',
    store: 'a local double of the OCI Object Storage REST API (request signatures verified), user principal API key',
    protos: ['http'],
    available: built('oci'),
    start: async () => {
      const key = testApiKey();
      const double = await startOciDouble({ maxObjectBytes: 512 * 1024 * 1024 });
      double.addKey(key.keyId, key.publicKeyPem);
      return {
        table: {
          backends: { oci: ociTableEntry(double, key, 'E2E_OCI_PRIVATE_KEY') },
          default: 'oci',
        },
        env: { E2E_OCI_PRIVATE_KEY: key.privateKeyPem },
        stop: () => double.stop(),
      };
    },
  },
  {
    // No GitHub can run here: the double of GitHub's REST API, uploads host and download host
    // (test/helpers/github-double.ts), in this process, with token auth. Buckets the clients
    // create are releases (readOnly: false); test/backends/github.test.ts runs the conformance
    // suite and what only GitHub does (redirects, rate limits, app auth).
    name: 'github',
    kind: 'github',
    store:
      "a local double of GitHub's REST API, uploads and download hosts; each bucket a release, each key an asset (token auth, readOnly: false)",
    protos: ['http'],
    available: built('github'),
    skipOps: GITHUB_GAPS,
    skipScenarios: GITHUB_CLIENT_GAPS,
    opaqueEtag: 'GitHub keeps no MD5 of an asset: ETags are <md5 of asset id, updated_at, size>-1, new for every version',
    start: async () => {
      const token = 'ghp_e2e0123456789abcdefghijklmnopqrstuv';
      // The clients' calls cost far more than GitHub's 5000 requests an hour (every S3 call is
      // one to a few API calls): the double's quota is lifted here; github.test.ts covers limits.
      const double = new GithubDouble({ tokens: [token], maxAssetBytes: 256 * 1024 * 1024, rateLimit: 10_000_000 });
      await double.start();
      return {
        table: {
          backends: {
            gh: {
              type: 'github',
              owner: double.owner,
              repo: double.repo,
              baseUrl: double.apiUrl,
              readOnly: false,
              credentials: { tokenEnv: 'E2E_GITHUB_TOKEN' },
            },
          },
          default: 'gh',
        },
        env: { E2E_GITHUB_TOKEN: token },
        stop: () => double.stop(),
      };
    },
  },
];

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return '(version unknown)';
  }
}

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
  /** Suite title fragment -> why the store cannot even set the suite up (its `before` is refused): the whole suite is skipped. */
  suiteGaps?: Record<string, string>;
}

/** Test files that build their own routing table (or child servers on an fs folder): fs only. */
export const OWN_ROUTER_FILES = [
  'policies.test.js',
  'routing.test.js',
  'multipart-replicas.test.js',
  'versioning-replicas.test.js',
  'access-control-replicas.test.js',
];

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

/** test/protocol/listing-checksums.test.ts: a listing names each object's checksum where the store lists it with the object. */
const LISTED_SINGLE = 'name the algorithm and FULL_OBJECT type of single-part objects';
const LISTED_MULTIPART = 'name the COMPOSITE or FULL_OBJECT checksum of multipart objects';
const LISTED_VERSIONS = 'ListObjectVersions names the checksum of each version';
/** Where the store keeps no checksum, the listings name none (the versions s3mux indexes keep theirs, but not the null version written before versioning, which the store lists). */
const listsNoChecksums = (reason: string) => ({
  [LISTED_SINGLE]: reason,
  [LISTED_VERSIONS]: `${reason}: the null version written before versioning is listed from the store`,
});

/** Where parts do not keep the checksums they were sent with, Complete cannot compare them. */
const partChecksumGap = (reason: string) => ({ 'a part checksum other than the one the part was uploaded with': reason });

/**
 * A multipart object's checksum (test/protocol/multipart-checksums.test.ts) where the store keeps
 * no part checksums (ListParts shows none; a full-object CRC needs the Complete to name them), or
 * where its own multipart assembles the object and s3mux cannot add the checksum to it.
 */
const partsKeepNoChecksums = (reason: string) => ({
  'COMPOSITE CRC32 and SHA256': reason,
  'FULL_OBJECT CRC32 and CRC64NVME': reason,
  'refuses a Complete\u2019s stated object checksum': reason,
  'refuses a Complete\u2019s part checksums': reason,
  'takes a part named with a checksum it was not uploaded with': reason,
});
const objectKeepsNoMultipartChecksum = (reason: string) => ({
  ...partsKeepNoChecksums(reason),
  'checks the object checksum a Complete states': reason,
  'UploadPartCopy into an upload with a checksum': reason,
  'of one part of a COMPOSITE object give that part': reason,
  // Without the object's checksum, its parts are answered as an upload's without checksums: a count.
  'pages the parts of a multipart object uploaded with checksums': reason,
  [LISTED_MULTIPART]: reason,
});

/** S3 dates a multipart object when its upload was created; a store that dates an object itself when it commits it cannot be told otherwise. */
const datedAtCompletion = (store: string) => ({
  'dates the object when its upload was created': `${store} dates an object when it is committed, and takes no other date: its Last-Modified is the Complete's time`,
});

/** The s3 backend keeps the object's part layout (ObjectMeta.partSizes) only where s3mux assembled it. */
const NO_PART_LAYOUT = {
  'pages the parts of a multipart object': "the s3 backend does not read an object's part sizes from the store (ObjectParts)",
  'counts the parts of a multipart object without checksums':
    "the s3 backend does not read an object's part sizes from the store (ObjectParts)",
  'counts the parts of a multipart object with a FULL_OBJECT checksum':
    "the s3 backend does not read an object's part sizes from the store (ObjectParts)",
};

/** The hostile suite's 60 s budget is set for a local folder; through a store each request is a round trip to it. */
const SLOW_STORE = {
  'hostile input sent at least 1000 requests, within the time budget':
    "each request is a round trip to a store on the same two cores: the 60 s budget is the fs backend's",
};

const GCS_PART_CHECKSUMS = partChecksumGap('the gcs backend keeps parts as objects without the checksums they were sent with yet');
const S3RVER_MULTIPART =
  's3rver 3.7.1 has no ListParts, AbortMultipartUpload, ListMultipartUploads or UploadPartCopy (405), and s3mux checks the parts of a Complete through ListParts';
const S3RVER_TAGS = 's3rver 3.7.1 ignores x-amz-tagging on PutObject';
const S3RVER_IN_PLACE =
  's3rver 3.7.1 writes an object into its file in place: a read racing a write of the same key (here the version index, under 40 concurrent writes) gets half a document';
const GITHUB_SAME_NAME = 'GitHub takes one upload of an asset name at a time (422 already_exists): concurrent writes of one key collide';
const S3RVER_FILES =
  "s3rver 3.7.1 keeps objects as files named by their keys: a key cannot also be a prefix ('a' and 'a/b'), and '.', '..', empty segments and a leading '/' are normalised";
const GITHUB_METADATA = 'a release asset holds no user metadata (x-amz-meta-*: refused with NotImplemented), also in a versioned bucket';
const GITHUB_NO_CHECKSUMS = 'an asset keeps no x-amz-checksum-* values (verified on upload, not kept)';
const GITHUB_TAGS = 'a release asset holds no object tags (refused: NotImplemented), of any version';
const GITHUB_ONE_CLASS = 'an asset holds one storage class (STANDARD)';
const GITHUB_ETAG =
  'GitHub keeps no MD5 of an asset: ETags are <md5 of asset id, updated_at, size>-1, and the test checks for the MD5 (or md5-of-md5s-N)';
const GITHUB_NAMES = 'an asset name holds at most 255 characters (keys GitHub would rename take 1.6 per byte) and ignores case';
const EMULATOR_NO_PATCH =
  "the emulator has no metadata patch: a checksum s3mux computes as the bytes stream (x-amz-checksum-algorithm alone) comes after the object's fields and is not added";
const EMULATOR_BUCKETS = 'the emulator has no bucket API: every bucket name exists, buckets cannot be listed or deleted';

export const PROTOCOL_BACKENDS: ProtocolBackend[] = [
  { name: 'fs', store: 'a local folder (the embedded default)' },
  { name: 'memory', store: 'the memory backend' },
  {
    name: 's3',
    store: 'a second s3mux on fs, through the s3 backend',
    start: fromTarget('s3'),
    gaps: {
      ...partChecksumGap(
        'the s3 backend does not pass part checksums to the store (a store refuses them on an upload created without that algorithm), and keeps none itself',
      ),
      ...NO_PART_LAYOUT,
      ...SLOW_STORE,
      ...objectKeepsNoMultipartChecksum(
        "the s3 backend's multipart is the store's own: the store assembles the object, s3mux cannot add a checksum to it, and keeps no part checksums",
      ),
      'gives the copy of a multipart object with a composite checksum':
        "the s3 backend's multipart is the store's own: the object it assembles has no checksum for the copy to recompute",
      'a body that stalls half-way with RequestTimeout':
        'the store is a second s3mux with the same 20 s body timeout: which of the two gives up on the stalled body first is a race (the front then answers ServiceUnavailable)',
      'a 20 MiB file streams through to the backend and round-trips':
        "a form's file has no announced length: the s3 backend streams it to the store as a multipart upload, so the ETag is the store's multipart ETag, not the MD5",
    },
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
              type: 's3',
              endpoint: s.endpoint,
              region: 'us-east-1',
              forcePathStyle: true,
              conditionalWrites: 'check',
              credentials: { accessKeyIdEnv: 'PROTOCOL_S3RVER_KEY', secretAccessKeyEnv: 'PROTOCOL_S3RVER_SECRET' },
            },
          },
          default: 'up',
        },
        env: { PROTOCOL_S3RVER_KEY: S3RVER_ACCESS_KEY, PROTOCOL_S3RVER_SECRET: S3RVER_SECRET_KEY },
        stop: () => s.stop(),
      };
    },
    gaps: {
      ...datedAtCompletion('s3rver 3.7.1'),
      'accepts a key of exactly 1024 bytes':
        's3rver 3.7.1 keeps objects as files named by their keys: a 1024-byte key is longer than a file name can be, and s3rver stops answering',
      'protocol: multipart uploads': S3RVER_MULTIPART,
      'protocol: multipart upload checksums': S3RVER_MULTIPART,
      'writes every date in whole seconds': `${S3RVER_MULTIPART} (the test lists an upload and its parts)`,
      'a presigned PutObject keeps its metadata and tags': S3RVER_TAGS,
      'CompleteMultipartUpload repeated': S3RVER_MULTIPART,
      'CompleteMultipartUpload makes a version; UploadPartCopy reads a given version': S3RVER_MULTIPART,
      'CreateMultipartUpload take the lock headers': S3RVER_MULTIPART,
      'UploadPart: a mismatching checksum is BadDigest': S3RVER_MULTIPART,
      'a part checksum other than the one the part was uploaded with': S3RVER_MULTIPART,
      'pages the parts of a multipart object': S3RVER_MULTIPART,
      'counts the parts of a multipart object without checksums': S3RVER_MULTIPART,
      'counts the parts of a multipart object with a FULL_OBJECT checksum': S3RVER_MULTIPART,
      'hostile input accepts the unmutated control requests': S3RVER_MULTIPART,
      'hostile input sent at least 1000 requests': `${S3RVER_MULTIPART} (the hostile run starts from its control requests)`,
      'x-amz-tagging: a tag without': S3RVER_TAGS,
      'an anonymous form (no policy, no signature) uploads where everyone may write': `${S3RVER_TAGS} (the form carries tags)`,
      'answers x-amz-expiration on CopyObject and CompleteMultipartUpload': S3RVER_MULTIPART,
      "CompleteMultipartUpload's Location and a POST form's are the URL the client used": S3RVER_MULTIPART,
      'answers a stalled UploadPart with RequestTimeout': `${S3RVER_MULTIPART} (the test lists the upload's parts)`,
      'keeps every one of 40 concurrent PUTs to one key as a version': S3RVER_IN_PLACE,
      'gets, puts and deletes tags': S3RVER_TAGS,
      'PutObjectTagging: a bucket policy tests the tag set of its body': `${S3RVER_TAGS} (the test reads back the tags PutObjectTagging set)`,
      'reads x-amz-tagging as S3 does': S3RVER_TAGS,
      'stores tagging given as XML': S3RVER_TAGS,
      'x-amz-tagging: a raw UTF-8 value is that text': S3RVER_TAGS,
      'its non-ASCII values are UTF-8 text': `${S3RVER_TAGS} (the test reads back the tags the presigned PUT sets)`,
      'CopyObject and CompleteMultipartUpload in a suspended bucket name no version': S3RVER_MULTIPART,
      'returns the stored checksum when checksum mode is enabled': 's3rver 3.7.1 keeps no x-amz-checksum-* values',
      'gives a copy the checksum x-amz-checksum-algorithm names': 's3rver 3.7.1 keeps no x-amz-checksum-* values',
      'keeps a trailing checksum of an upload that names a storage class': 's3rver 3.7.1 keeps no x-amz-checksum-* values',
      'gives a copy the class its request names': 's3rver 3.7.1 keeps no x-amz-checksum-* values (the copy asks for one)',
      'Content-MD5 and x-amz-checksum-* fields are checked against the file': 's3rver 3.7.1 keeps no x-amz-checksum-* values',
      'lists a key holding U+0001 as a character reference':
        's3rver 3.7.1 does not give back keys holding control characters intact in its listings',
      'answers ETag, Checksum, StorageClass and ObjectSize': 's3rver 3.7.1 keeps no x-amz-checksum-* values',
      ...listsNoChecksums('s3rver 3.7.1 keeps no x-amz-checksum-* values, and lists none'),
      [LISTED_MULTIPART]: S3RVER_MULTIPART,
      'groups by delimiter into CommonPrefixes': S3RVER_FILES,
      'pages through with continuation tokens and max-keys': S3RVER_FILES,
      'honours start-after (v2) and marker': S3RVER_FILES,
      'skips the common prefix a marker lies in':
        's3rver 3.7.1 lists the common prefix a marker lies in again, though it sorts before the marker (S3 leaves it out)',
      'stores and reads back every valid key': S3RVER_FILES,
      'keeps hostile keys inside the data directory': S3RVER_FILES,
      'copies with COPY and REPLACE directives and URL-encoded sources':
        's3rver 3.7.1 does not find a copy source whose key is URL-encoded (spaces, non-ASCII)',
    },
  },
  {
    name: 'azure',
    store: 'Azurite (blob service, in memory), shared key',
    start: fromTarget('azure'),
    gaps: {
      ...datedAtCompletion('Azure Blob Storage (Put Block List)'),
      ...partChecksumGap('the azure backend keeps parts as uncommitted blocks, which carry no checksums yet'),
      ...partsKeepNoChecksums('the azure backend keeps parts as uncommitted blocks, which carry no checksums yet'),
      ...SLOW_STORE,
    },
  },
  {
    name: 'gcs',
    store: 'the firebase-tools Cloud Storage emulator (`emulator: true`)',
    start: fromTarget('gcs'),
    gaps: {
      ...datedAtCompletion('Cloud Storage (compose)'),
      ...GCS_PART_CHECKSUMS,
      ...partsKeepNoChecksums('the gcs backend keeps parts as objects without the checksums they were sent with yet'),
      ...SLOW_STORE,
      'gives a copy the checksum x-amz-checksum-algorithm names': EMULATOR_NO_PATCH,
      'Content-MD5 and x-amz-checksum-* fields are checked against the file': EMULATOR_NO_PATCH,
      'creates, lists, heads and deletes buckets': EMULATOR_BUCKETS,
      'writes every date in whole seconds': `${EMULATOR_BUCKETS} (the test reads ListBuckets' dates)`,
      'answers BucketAlreadyOwnedByYou, InvalidBucketName, NoSuchBucket, BucketNotEmpty': EMULATOR_BUCKETS,
      'answers 409 BucketAlreadyOwnedByYou to creating a bucket its owner has, in a region other than us-east-1': EMULATOR_BUCKETS,
      'a bucket deleted and created again under its name': EMULATOR_BUCKETS,
      'buckets works with the minio client': EMULATOR_BUCKETS,
      'ListBuckets pages with max-buckets': EMULATOR_BUCKETS,
      'GET ?torrent in a missing bucket': EMULATOR_BUCKETS,
      'bucket tagging answers NoSuchBucket for a bucket that does not exist': EMULATOR_BUCKETS,
      'unoffered configurations answer NoSuchBucket for a bucket that does not exist': EMULATOR_BUCKETS,
      'refuses MFA delete, a status S3 does not define and a missing bucket': EMULATOR_BUCKETS,
      'caps max-keys at 1000, answers max-keys=0 empty, rejects bad values': EMULATOR_BUCKETS,
      'deletes with 204, also when the key is absent, and NoSuchKey afterwards': EMULATOR_BUCKETS,
      'a missing bucket is NoSuchBucket': EMULATOR_BUCKETS,
      'refuses a preflight no rule allows, and one missing its headers': `${EMULATOR_BUCKETS} (a preflight on a missing bucket says so)`,
      'for AbortMultipartUpload and ListParts in a bucket that does not exist': EMULATOR_BUCKETS,
      'a refused CreateBucket creates no bucket': EMULATOR_BUCKETS,
      // These check that a refused CreateBucket left no bucket (HeadBucket 404).
      "refuses a LocationConstraint naming another region than s3mux's": EMULATOR_BUCKETS,
      'refuses a LocationConstraint naming us-east-1': EMULATOR_BUCKETS,
      "takes CreateBucketConfiguration's Tags as the bucket's tag set": EMULATOR_BUCKETS,
      'answers every hostile request: URIs, keys, bucket names': `${EMULATOR_BUCKETS}; and its upload route normalises '.', '..' and empty path segments`,
      'gets, puts and deletes tags': 'the emulator has no metadata patch: tags can only be set when an object is written',
      'reads x-amz-tagging as S3 does': 'the emulator has no metadata patch: the test also sets tags with PutObjectTagging',
      'gives the copy of a multipart object with a composite checksum': EMULATOR_NO_PATCH,
      'keeps a trailing checksum of an upload that names a storage class': `${EMULATOR_NO_PATCH}; a trailing checksum arrives as late`,
      'gives a copy the class its request names, STANDARD when it names none, and keeps a computed checksum': EMULATOR_NO_PATCH,
      'refuses BucketNotEmpty while any version or delete marker is left': `${EMULATOR_BUCKETS} (the refusals hold; the test then checks the emptied bucket is gone)`,
      'stores and reads back every valid key': "the emulator's routes normalise '.', '..' and empty path segments and decode '%' twice",
    },
  },
  {
    name: 'oci',
    store: 'the OCI Object Storage REST API double (test/helpers/oci-double.ts), request signatures verified',
    start: fromTarget('oci'),
    gaps: {
      ...datedAtCompletion('OCI Object Storage (its own multipart)'),
      ...partChecksumGap('the oci backend keeps parts as OCI multipart parts, which carry no S3 checksums'),
      ...objectKeepsNoMultipartChecksum(
        "OCI's own multipart assembles the object and a commit cannot add metadata, and its parts carry no S3 checksums",
      ),
      'gives the copy of a multipart object with a composite checksum':
        "OCI's own multipart assembles the object and a commit cannot add metadata: it has no checksum for the copy to recompute",
      ...listsNoChecksums(
        "OCI's ListObjects gives no object metadata (opc-meta-*), where the oci backend keeps an object's checksum: naming it would take a HEAD per listed key",
      ),
      ...SLOW_STORE,
      'a 20 MiB file streams through to the backend and round-trips':
        "a form's file has no announced length and OCI's PutObject needs one: past the 8 MiB buffer the oci backend streams it as a multipart upload, so the ETag is OCI's multipart ETag, not the MD5",
    },
  },
  {
    name: 'github',
    store: "the GitHub REST API double (test/helpers/github-double.ts): releases as buckets, assets as keys, s3mux's state on a branch",
    start: fromTarget('github'),
    suiteGaps: {
      'protocol: listing': `${GITHUB_NAMES}: the suite's setup stores keys 'B' and 'b'`,
      'protocol: hostile input': `${GITHUB_TAGS}: the suite's setup stores a tagged object every mutation starts from`,
    },
    gaps: {
      ...datedAtCompletion('GitHub (an asset is dated when uploaded)'),
      ...partChecksumGap('the github backend keeps parts as release assets, which carry no checksums'),
      ...objectKeepsNoMultipartChecksum(
        'a release asset keeps no checksums, and the github backend has no reserved area to hold an upload\u2019s',
      ),
      ...SLOW_STORE,
      'deletes only when the conditions hold': GITHUB_ETAG,
      'a presigned PutObject keeps its metadata and tags': GITHUB_METADATA,
      'every PUT makes a version; GET, HEAD and attributes read any of them; the latest is at its name': GITHUB_METADATA,
      'returns non-ASCII user metadata RFC 2047 encoded, as S3 does': GITHUB_METADATA,
      'keeps user metadata named __proto__': GITHUB_METADATA,
      'uploads parts, lists them, completes with the md5-of-md5s ETag, keeps metadata': GITHUB_METADATA,
      'works with the minio client: put, get, stat, remove, presign': `${GITHUB_METADATA} (the test stores some)`,
      'copies with COPY and REPLACE directives and URL-encoded sources': GITHUB_METADATA,
      'changes metadata in place with REPLACE (as s3fs does)': GITHUB_METADATA,
      'V4: 204 by default, with ETag and Location; content headers and metadata are stored': GITHUB_METADATA,
      'exact match {field: value} holds': `${GITHUB_METADATA} (the form sends x-amz-meta-*)`,
      '["starts-with", "$f", ""] allows anything': `${GITHUB_METADATA} (the form sends x-amz-meta-*)`,
      'minio-js presignedPostPolicy: the form it builds uploads': `${GITHUB_METADATA} (the form sends x-amz-meta-*)`,
      'tags belong to a version': GITHUB_TAGS,
      'PutObjectTagging: a bucket policy tests the tag set of its body': GITHUB_TAGS,
      'x-amz-tagging: a tag without "=" has an empty value': GITHUB_TAGS,
      'gets, puts and deletes tags; x-amz-tagging on put': GITHUB_TAGS,
      'reads x-amz-tagging as S3 does': GITHUB_TAGS,
      'stores tagging given as XML': GITHUB_TAGS,
      'an anonymous form (no policy, no signature) uploads where everyone may write': `${GITHUB_TAGS} (the form carries tags)`,
      'keeps every one of 40 concurrent PUTs to one key as a version': GITHUB_SAME_NAME,
      'adds CORS headers to actual answers: presigned GET and PUT, and errors': GITHUB_ETAG,
      'answers 200 with the same ETag when the upload has just completed': GITHUB_ETAG,
      'answers ETag, Checksum, StorageClass and ObjectSize of a single-part object': GITHUB_ETAG,
      'works with @aws-sdk/lib-storage Upload (streamed, default checksums)': GITHUB_ETAG,
      'stores a streamed upload (aws-chunked with a CRC32 trailer) without its framing': GITHUB_ETAG,
      'follows S3 precedence for If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since': `${GITHUB_ETAG} (the test sends the MD5 as If-Match)`,
      'honours x-amz-copy-source-if-* conditions': `${GITHUB_ETAG} (the test sends the MD5 as the copy-source condition)`,
      'V2: success_action_status 201 answers the PostResponse document': GITHUB_ETAG,
      'success_action_redirect answers 303 to the URL with bucket, key and etag': GITHUB_ETAG,
      'a 20 MiB file streams through to the backend and round-trips': GITHUB_ETAG,
      'pages the parts of a multipart object': 'an asset keeps no part layout: GetObjectAttributes has no ObjectParts on github',
      'counts the parts of a multipart object without checksums':
        'an asset keeps no part layout: GetObjectAttributes has no ObjectParts on github',
      'counts the parts of a multipart object with a FULL_OBJECT checksum':
        'an asset keeps no part layout: GetObjectAttributes has no ObjectParts on github',
      'gives the copy of a multipart object with a composite checksum': GITHUB_NO_CHECKSUMS,
      'copies a multipart object as one part': GITHUB_ETAG,
      'a presigned URL may carry a signed x-amz-* header in its query': `${GITHUB_ONE_CLASS}: the test signs x-amz-storage-class STANDARD_IA`,
      'x-amz-* parameters are its headers: metadata and a copy source': GITHUB_METADATA,
      'x-amz-tagging: a raw UTF-8 value is that text': GITHUB_TAGS,
      'its non-ASCII values are UTF-8 text': GITHUB_METADATA,
      'stores a copy in the class it names, else STANDARD': GITHUB_ONE_CLASS,
      'tagging a delete marker, by its id or as the latest': `${GITHUB_TAGS}: NotImplemented comes before the marker is looked at`,
      'keeps a trailing checksum of an upload that names a storage class': `${GITHUB_NO_CHECKSUMS}; an asset holds one storage class (STANDARD)`,
      'gives a copy the class its request names': 'an asset holds one storage class (STANDARD)',
      'returns the stored checksum when checksum mode is enabled': GITHUB_NO_CHECKSUMS,
      ...listsNoChecksums(GITHUB_NO_CHECKSUMS),
      'gives a copy the checksum x-amz-checksum-algorithm names': GITHUB_NO_CHECKSUMS,
      'PutObject and CopyObject say the checksum type beside the checksum': GITHUB_NO_CHECKSUMS,
      'Content-MD5 and x-amz-checksum-* fields are checked against the file': GITHUB_NO_CHECKSUMS,
      'Content-Encoding: aws-chunked over a plain body is kept as sent, as any other value':
        'an asset holds no Content-Encoding (refused: NotImplemented)',
      'stores Content-Encoding without the aws-chunked word that named the framing':
        'an asset holds no Content-Encoding (refused: NotImplemented)',
      'SigV4: the signature over the UTF-8 text verifies, and the bytes are kept':
        'an asset holds no Content-Disposition (refused: NotImplemented); the SigV2 case, with a Content-Type only, runs',
      'round-trips content, headers and user metadata with an MD5 ETag':
        'an asset holds one storage class (STANDARD), no user metadata and no content headers besides Content-Type',
      'supports conditional writes: If-None-Match * and If-Match':
        'GitHub has no conditional replacement of an asset: If-Match on a write is refused (NotImplemented), If-None-Match * is kept',
      'accepts a key of exactly 1024 bytes': GITHUB_NAMES,
      'stores and reads back every valid key, each its own object': GITHUB_NAMES,
    },
  },
  {
    name: 'gcs-double',
    store: 'the GCS JSON API double (test/helpers/gcs-double.ts) for what the emulator lacks',
    start: async () => {
      const d = await startGcsDouble({ maxObjectBytes: 96 * 1024 * 1024 });
      return {
        table: {
          backends: { g: { type: 'gcs', endpoint: d.endpoint, projectId: d.projectId, credentials: { anonymous: true } } },
          default: 'g',
        },
        stop: () => d.stop(),
      };
    },
    gaps: {
      ...datedAtCompletion('Cloud Storage (compose)'),
      ...GCS_PART_CHECKSUMS,
      ...partsKeepNoChecksums('the gcs backend keeps parts as objects without the checksums they were sent with yet'),
      ...SLOW_STORE,
    },
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

/**
 * The GitHub release-assets backend, through @octokit/rest.
 *
 * - Buckets are releases, named by their tag (`github://owner/repo/releases/{tag}`); the
 *   bucket ALL_RELEASES (`github://owner/repo/releases`) is the whole repository, each
 *   release a prefix (`v1.0/asset.tar.gz`). Draft releases have no tag yet and are not seen.
 * - Keys are asset names (names.ts: keys GitHub would rename are stored escaped).
 * - Read-only unless `readOnly: false`: writes answer AccessDenied.
 * - Reads: HEAD from the asset's metadata; GET asks the asset API for
 *   `application/octet-stream`, follows its redirect to the download host (which gets no
 *   token) and streams, with Range. An asset's bytes never change: a replacement is a new
 *   asset, so metadata and bytes always belong together.
 * - ETags: `<md5 of "asset id/updated_at/size">-1`, stable for one asset version and new
 *   for every replacement. GitHub keeps no MD5, so it is not the content's MD5; the `-1`
 *   tells clients (rclone, s3cmd) not to check the bytes against it.
 * - Writes stream to the uploads host with Content-Length (a body of unknown length is
 *   first spooled to a temporary file, at most one asset's limit). A new key is uploaded
 *   under its own name; an existing one is replaced by uploading under a temporary name,
 *   deleting the old asset and renaming the new one: the old bytes stay readable until
 *   the new ones are complete, and only the key is briefly absent between delete and rename.
 * - What an asset cannot hold (user metadata, tags, content headers besides Content-Type,
 *   If-Match) is refused with NotImplemented; If-None-Match: * is GitHub's own refusal of a
 *   duplicate name, so it holds across replicas.
 * - Multipart: parts are staged as assets of the release under `_s3mux.u.` (parts.ts);
 *   Complete streams them through putObject.
 * - s3mux's own documents (bucket configuration, versions, object lock) are files on a state
 *   branch of the repository, written by compare-and-swap through the Contents API, with
 *   large bodies as `_s3mux.r.` assets (reserved.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import type { Octokit } from '@octokit/rest';
import { bodyFailure, S3Error } from '../../errors';
import { resolveSecret } from '../../auth/secrets';
import type { BackendContext } from '../kit';
import type { GithubSettings } from './settings';
import { unquoteEtag } from '../conditions';
import { isValidBucketName, validateBucketName } from '../keys';
import { compareKeys, listFromSource, seekWants, type ListSeek } from '../listing';
import { StagedMultipartStore } from '../multipart/staged';
import type {
  Backend,
  BackendCapabilities,
  BucketInfo,
  ByteRange,
  ListOptions,
  ListPage,
  ObjectAttributes,
  ObjectHandle,
  ObjectMeta,
  ObjectSummary,
  PutOptions,
  Tag,
} from '../types';
import { makeOctokit, RateGate, type GithubConnection } from './client';
import { httpStatus, isAlreadyExists, toS3ErrorFromGithub, type ErrorContext } from './errors';
import { ALL_RELEASES, EMPTY_BODY, foldName, isEmptyName, keyOf, nameOf, namesOf, RESERVED } from './names';
import type { GithubAsset, GithubRelease } from './model';
import { GithubPartStorage } from './parts';
import { GithubReservedStore } from './reserved';
import { spool } from './spool';

export { ALL_RELEASES } from './names';
export type { GithubAsset, GithubRelease } from './model';

/** GitHub: "each file included in a release must be under 2 GiB". */
export const MAX_ASSET_SIZE = 2 * 1024 ** 3 - 1;
/** Releases and assets per page (GitHub's maximum). */
const PAGE = 100;
/** An embedded asset list this long may be cut short: page through the assets API instead. */
const EMBEDDED_ASSETS_TRUSTED = 100;

export interface GithubBackendOptions extends GithubConnection {
  owner: string;
  repo: string;
  /** Default true: nothing is uploaded, renamed or deleted. */
  readOnly?: boolean;
  /** A write into a release that does not exist creates it (and its tag, from the default branch). Default false. */
  createRelease?: boolean;
  /** Largest asset accepted; default GitHub's 2 GiB - 1. */
  maxAssetSize?: number;
  /** Where bodies of unknown length are spooled; default the OS temp dir. */
  tmpDir?: string;
  /** The branch that holds s3mux's own documents (bucket configuration, versions); made from the default branch on first write. Default `s3mux-state`. */
  stateBranch?: string;
  /** A ready client (tests, embedding). */
  octokit?: Octokit;
}

/** The branch s3mux keeps its documents on when the settings name none. */
export const DEFAULT_STATE_BRANCH = 's3mux-state';

/** What S3 asks that an asset cannot hold: refused, never dropped. */
const UNHOLDABLE: [keyof ObjectAttributes, string][] = [
  ['contentEncoding', 'Content-Encoding'],
  ['contentDisposition', 'Content-Disposition'],
  ['contentLanguage', 'Content-Language'],
  ['cacheControl', 'Cache-Control'],
  ['expires', 'Expires'],
];

export function etagOf(asset: GithubAsset): string {
  return `${createHash('md5').update(`${asset.id}/${asset.updated_at}/${asset.size}`).digest('hex')}-1`;
}

export function metaOfAsset(key: string, asset: GithubAsset): ObjectMeta {
  return {
    key,
    size: isEmptyName(asset.name) ? 0 : asset.size,
    etag: etagOf(asset),
    lastModified: new Date(asset.updated_at),
    contentType: asset.content_type || undefined,
    userMetadata: {},
  };
}

/** A key's place: the release and the key inside it. */
interface Located {
  release: GithubRelease;
  /** The key inside the release (without the tag in ALL_RELEASES). */
  inner: string;
}

class GithubObjectHandle implements ObjectHandle {
  constructor(
    readonly meta: ObjectMeta,
    private readonly backend: GithubBackend,
    private readonly asset: GithubAsset,
    private readonly ctx: ErrorContext,
  ) {}

  read(range?: ByteRange): Readable {
    if (this.meta.size === 0 && !range) return Readable.from([]);
    return this.backend.download(this.asset, range, this.ctx);
  }

  async close(): Promise<void> {}
}

export class GithubBackend implements Backend {
  readonly kind = 'github';
  readonly capabilities: BackendCapabilities = { serverSideCopy: false };
  readonly multipart: StagedMultipartStore;
  readonly reserved: GithubReservedStore;
  readonly octokit: Octokit;
  readonly owner: string;
  readonly repo: string;
  readonly readOnly: boolean;
  private readonly createRelease: boolean;
  /** @internal */
  readonly maxAssetSize: number;
  private readonly tmpDir?: string;

  constructor(opts: GithubBackendOptions) {
    this.owner = opts.owner;
    this.repo = opts.repo;
    this.readOnly = opts.readOnly ?? true;
    this.createRelease = opts.createRelease ?? false;
    this.maxAssetSize = opts.maxAssetSize ?? MAX_ASSET_SIZE;
    this.tmpDir = opts.tmpDir;
    this.octokit = opts.octokit ?? makeOctokit(opts, new RateGate(opts.maxRateWaitMs ?? 1000));
    this.multipart = new StagedMultipartStore(this, new GithubPartStorage(this));
    this.reserved = new GithubReservedStore(this, opts.stateBranch ?? DEFAULT_STATE_BRANCH);
  }

  private get repoParams(): { owner: string; repo: string } {
    if (!this.owner || !this.repo)
      throw new S3Error(
        'NoSuchBucket',
        'This github backend names no repository (give owner and repo, or route a github://owner/repo/... target onto it).',
      );
    return { owner: this.owner, repo: this.repo };
  }

  /** @internal Runs an API call, mapping its errors. */
  async call<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toS3ErrorFromGithub(err, ctx);
    }
  }

  /** @internal */
  assertWritable(): void {
    if (this.readOnly) {
      throw new S3Error(
        'AccessDenied',
        `The GitHub backend for ${this.owner}/${this.repo} is read-only (set readOnly: false on the backend to allow writes).`,
      );
    }
  }

  // ---------------------------------------------------------------- releases

  /** The published release with this tag, or undefined. */
  async release(tag: string): Promise<GithubRelease | undefined> {
    try {
      const res = await this.octokit.request('GET /repos/{owner}/{repo}/releases/tags/{tag}', { ...this.repoParams, tag });
      return res.data;
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw toS3ErrorFromGithub(err, { bucket: tag });
    }
  }

  /** Every published release, in tag order (UTF-8). */
  async releases(): Promise<GithubRelease[]> {
    const all = await this.call({}, () =>
      this.octokit.paginate('GET /repos/{owner}/{repo}/releases', { ...this.repoParams, per_page: PAGE }),
    );
    return (all as unknown as GithubRelease[]).filter((r) => !r.draft && r.tag_name).sort((a, b) => compareKeys(a.tag_name, b.tag_name));
  }

  /** The bucket's release; NoSuchBucket when absent. Not for ALL_RELEASES. */
  async bucketRelease(bucket: string): Promise<GithubRelease> {
    if (typeof bucket !== 'string' || bucket === '' || bucket === ALL_RELEASES)
      throw new S3Error('NoSuchBucket', undefined, { BucketName: String(bucket) });
    const r = await this.release(bucket);
    if (!r) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket });
    return r;
  }

  /** Every asset of a release, any state, any name. */
  async assets(release: GithubRelease): Promise<GithubAsset[]> {
    if (release.assets && release.assets.length < EMBEDDED_ASSETS_TRUSTED) return release.assets;
    const all = await this.call({ bucket: release.tag_name }, () =>
      this.octokit.paginate('GET /repos/{owner}/{repo}/releases/{release_id}/assets', {
        ...this.repoParams,
        release_id: release.id,
        per_page: PAGE,
      }),
    );
    return all;
  }

  /** Fresh asset list (after a write, the embedded one is stale). */
  async freshAssets(release: GithubRelease): Promise<GithubAsset[]> {
    return this.assets({ ...release, assets: undefined });
  }

  private async newRelease(tag: string): Promise<GithubRelease> {
    try {
      const res = await this.octokit.request('POST /repos/{owner}/{repo}/releases', { ...this.repoParams, tag_name: tag, name: tag });
      return res.data;
    } catch (err) {
      // Made by someone else meanwhile.
      if (httpStatus(err) === 422) {
        const r = await this.release(tag);
        if (r) return r;
      }
      throw toS3ErrorFromGithub(err, { bucket: tag });
    }
  }

  // ---------------------------------------------------------------- locating keys

  /**
   * Where a key lives. In ALL_RELEASES the tag is the key up to a '/' (tags may hold '/'
   * themselves): the longest tag that names a release wins; for a write into no release,
   * with createRelease, the key up to its last '/'.
   */
  private async *candidates(bucket: string, key: string): AsyncGenerator<Located> {
    if (bucket !== ALL_RELEASES) {
      yield { release: await this.bucketRelease(bucket), inner: key };
      return;
    }
    for (let i = key.lastIndexOf('/'); i > 0; i = key.lastIndexOf('/', i - 1)) {
      const inner = key.slice(i + 1);
      if (inner === '') continue;
      const release = await this.release(key.slice(0, i));
      if (release) yield { release, inner };
    }
  }

  /** The uploaded asset holding a key, with its release. */
  private async find(bucket: string, key: string): Promise<{ located: Located; asset: GithubAsset } | undefined> {
    for await (const located of this.candidates(bucket, key)) {
      const names = namesOf(located.inner);
      const asset = (await this.assets(located.release)).find((a) => names.includes(a.name) && a.state === 'uploaded');
      if (asset) return { located, asset };
    }
    return undefined;
  }

  private async locateForWrite(bucket: string, key: string): Promise<Located> {
    for await (const located of this.candidates(bucket, key)) return located;
    const i = key.lastIndexOf('/');
    if (i <= 0 || i === key.length - 1) {
      throw new S3Error('InvalidArgument', 'In a route onto all releases, a key is <tag>/<asset name>.', { ArgumentName: 'key' });
    }
    const tag = key.slice(0, i);
    if (!this.createRelease) {
      throw new S3Error(
        'InvalidArgument',
        `No release has the tag '${tag}' (set createRelease: true on the backend to create it on first write).`,
        { ArgumentName: 'key' },
      );
    }
    return { release: await this.newRelease(tag), inner: key.slice(i + 1) };
  }

  // ---------------------------------------------------------------- buckets

  /** Releases whose tag is a name S3 clients can address as a bucket (`v1.0` is, `release/1` is not). */
  async listBuckets(): Promise<BucketInfo[]> {
    if (!this.owner || !this.repo) return [];
    return (await this.releases())
      .filter((r) => isValidBucketName(r.tag_name))
      .map((r) => ({ name: r.tag_name, creationDate: new Date(r.created_at) }));
  }

  async createBucket(bucket: string): Promise<void> {
    validateBucketName(bucket);
    this.assertWritable();
    if (await this.release(bucket)) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: bucket });
    await this.newRelease(bucket);
  }

  async deleteBucket(bucket: string): Promise<void> {
    this.assertWritable();
    const release = await this.bucketRelease(bucket);
    const assets = await this.freshAssets(release);
    if (assets.some((a) => keyOf(a.name) !== undefined)) throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket });
    // Only s3mux's own assets (open uploads, large documents) remain: they go with the release. The git tag stays.
    for (const a of assets) await this.deleteAsset(a.id, { bucket });
    // The release's documents too; a release made again has another id, so this is only tidying.
    if (!this.readOnly) await this.reserved.dropRelease(release).catch(() => undefined);
    await this.call({ bucket }, () =>
      this.octokit.request('DELETE /repos/{owner}/{repo}/releases/{release_id}', { ...this.repoParams, release_id: release.id }),
    );
  }

  async headBucket(bucket: string): Promise<BucketInfo> {
    if (bucket === ALL_RELEASES) {
      const res = await this.call({ bucket }, () => this.octokit.request('GET /repos/{owner}/{repo}', this.repoParams));
      return { name: bucket, creationDate: new Date((res.data as { created_at: string }).created_at) };
    }
    const r = await this.bucketRelease(bucket);
    return { name: bucket, creationDate: new Date(r.created_at) };
  }

  // ---------------------------------------------------------------- objects

  async headObject(bucket: string, key: string): Promise<ObjectMeta> {
    const found = await this.find(bucket, key);
    if (!found) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return metaOfAsset(key, found.asset);
  }

  async openObject(bucket: string, key: string): Promise<ObjectHandle> {
    const found = await this.find(bucket, key);
    if (!found) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return new GithubObjectHandle(metaOfAsset(key, found.asset), this, found.asset, { bucket, key, notFound: 'NoSuchKey' });
  }

  /**
   * @internal The asset's bytes: the asset API answers `application/octet-stream` with a
   * redirect to the download host, which fetch follows (without the token: another origin).
   */
  download(asset: GithubAsset, range: ByteRange | undefined, ctx: ErrorContext): Readable {
    const out = new PassThrough();
    (async () => {
      const res = await this.octokit.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
        ...this.repoParams,
        asset_id: asset.id,
        headers: { accept: 'application/octet-stream', ...(range ? { range: `bytes=${range.start}-${range.end}` } : {}) },
        request: { parseSuccessResponseBody: false },
      });
      if (range && (res.status as number) !== 206)
        throw new S3Error('InternalError', `GitHub's download host answered ${res.status} to a range request.`);
      const web = res.data as unknown as import('node:stream/web').ReadableStream<Uint8Array>;
      const src = Readable.fromWeb(web);
      out.on('close', () => src.destroy());
      src.on('error', (err) => out.destroy(toS3ErrorFromGithub(err, ctx)));
      src.pipe(out);
    })().catch((err: unknown) => out.destroy(toS3ErrorFromGithub(err, ctx)));
    return out;
  }

  /** Refuses what an asset cannot hold (Backend.checkAttributes: versioning asks before it keeps a version). */
  checkAttributes(attrs: ObjectAttributes): void {
    this.refuseUnholdable(attrs);
  }

  /** @internal Refuses what an asset cannot hold. */
  refuseUnholdable(attrs: ObjectAttributes, opts: PutOptions = {}): void {
    if (Object.keys(attrs.userMetadata ?? {}).length > 0) {
      throw new S3Error('NotImplemented', 'GitHub release assets cannot hold user metadata (x-amz-meta-*).');
    }
    if ((attrs.tags ?? []).length > 0) throw new S3Error('NotImplemented', 'GitHub release assets cannot hold object tags.');
    for (const [field, headerName] of UNHOLDABLE) {
      if (attrs[field] !== undefined)
        throw new S3Error('NotImplemented', `GitHub release assets cannot hold ${headerName}; only Content-Type is kept.`);
    }
    if (attrs.storageClass !== undefined && attrs.storageClass !== 'STANDARD') {
      throw new S3Error('InvalidStorageClass', 'GitHub release assets have one storage class, STANDARD.');
    }
    if (opts.conditions?.ifMatch !== undefined) {
      throw new S3Error(
        'NotImplemented',
        'GitHub cannot make a write conditional on the current asset (If-Match); If-None-Match: * is supported.',
      );
    }
    const none = opts.conditions?.ifNoneMatch;
    if (none !== undefined && unquoteEtag(none) !== '*') {
      throw new S3Error('NotImplemented', 'If-None-Match on a write takes only *.');
    }
  }

  async putObject(bucket: string, key: string, body: Readable, attrs: ObjectAttributes, opts: PutOptions = {}): Promise<ObjectMeta> {
    this.assertWritable();
    this.refuseUnholdable(attrs, opts);
    const located = await this.locateForWrite(bucket, key);
    const names = namesOf(located.inner);
    const how = {
      createOnly: opts.conditions?.ifNoneMatch !== undefined,
      bucket,
      key,
      replaceMatching: (a: GithubAsset) => names.includes(a.name),
    };
    if (opts.size === 0) {
      for await (const chunk of body)
        if ((chunk as Buffer).length > 0) throw new S3Error('InvalidRequest', 'The body is longer than its announced length.');
      return metaOfAsset(
        key,
        await this.store(located.release, nameOf(located.inner, true), Readable.from([EMPTY_BODY]), 1, attrs.contentType, how),
      );
    }
    // A body of unknown length is spooled first: it may turn out empty.
    const spooled = opts.size === undefined ? await spool(body, this.maxAssetSize, this.tmpDir) : undefined;
    try {
      const empty = spooled?.size === 0;
      const src = empty ? Readable.from([EMPTY_BODY]) : spooled ? spooled.open() : body;
      const size = empty ? 1 : spooled ? spooled.size : opts.size;
      return metaOfAsset(key, await this.store(located.release, nameOf(located.inner, empty), src, size, attrs.contentType, how));
    } finally {
      await spooled?.remove();
    }
  }

  /**
   * @internal Uploads `body` as the asset `name`: directly when the name is free, else under
   * a temporary name swapped in once complete. `createOnly`: PreconditionFailed if the name
   * is taken (GitHub refuses a duplicate name, so this holds across replicas).
   */
  async store(
    release: GithubRelease,
    name: string,
    body: Readable,
    size: number | undefined,
    contentType: string | undefined,
    how: { createOnly: boolean; bucket: string; key: string; replaceMatching?: (a: GithubAsset) => boolean },
  ): Promise<GithubAsset> {
    if (size !== undefined && size > this.maxAssetSize) {
      throw new S3Error('EntityTooLarge', `A GitHub release asset holds at most ${this.maxAssetSize} bytes.`, {
        MaxSizeAllowed: String(this.maxAssetSize),
      });
    }
    const ctx: ErrorContext = { bucket: how.bucket, key: how.key };
    const matching = how.replaceMatching ?? ((a: GithubAsset) => a.name === name);
    const spooled = size === undefined ? await spool(body, this.maxAssetSize, this.tmpDir) : undefined;
    try {
      const src = spooled ? spooled.open() : body;
      const length = spooled ? spooled.size : (size as number);
      // The release was read for this very write: its asset list is current.
      const assets = await this.assets(release);
      const conflict = assets.find((a) => !matching(a) && foldName(a.name) === foldName(name));
      if (conflict) {
        throw new S3Error('InvalidRequest', `GitHub asset names ignore case: '${name}' would collide with the asset '${conflict.name}'.`);
      }
      const existing = assets.filter(matching);
      if (existing.length > 0 && how.createOnly) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
      if (existing.length === 0) {
        try {
          return await this.upload(release, name, src, length, contentType, ctx);
        } catch (err) {
          if (!(err instanceof S3Error && err.code === 'OperationAborted' && (err as { alreadyExists?: boolean }).alreadyExists)) throw err;
          if (how.createOnly) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
          // Someone uploaded that name meanwhile; the body is spent unless spooled.
          throw new S3Error('OperationAborted', 'Another write to this key finished first; try again.');
        }
      }
      const temp = `${RESERVED}t.${randomBytes(12).toString('hex')}`;
      const uploaded = await this.upload(release, temp, src, length, contentType, ctx);
      try {
        for (const old of existing) await this.deleteAsset(old.id, ctx);
        return await this.rename(uploaded, name, release, matching, ctx);
      } catch (err) {
        await this.deleteAsset(uploaded.id, ctx).catch(() => undefined);
        throw err;
      }
    } finally {
      await spooled?.remove();
    }
  }

  /** @internal Renames an uploaded asset; if the name was taken meanwhile, the newer write (this one) wins. */
  async rename(
    asset: GithubAsset,
    name: string,
    release: GithubRelease,
    matching: (a: GithubAsset) => boolean,
    ctx: ErrorContext,
  ): Promise<GithubAsset> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.octokit.request('PATCH /repos/{owner}/{repo}/releases/assets/{asset_id}', {
          ...this.repoParams,
          asset_id: asset.id,
          name,
        });
        return res.data;
      } catch (err) {
        if (!isAlreadyExists(err) || attempt >= 2) throw toS3ErrorFromGithub(err, ctx);
        for (const a of (await this.freshAssets(release)).filter((x) => x.id !== asset.id && matching(x)))
          await this.deleteAsset(a.id, ctx);
      }
    }
  }

  /** One streamed upload to the release's upload_url; nothing stays behind if the body fails. */
  private async upload(
    release: GithubRelease,
    name: string,
    body: Readable,
    size: number,
    contentType: string | undefined,
    ctx: ErrorContext,
  ): Promise<GithubAsset> {
    let bodyError: unknown;
    // The latest chunk is held until the body has ended cleanly: a check that fails only at the
    // end (Content-MD5, a signed SHA-256, a trailing checksum) then fails the upload while GitHub
    // still waits for its last bytes, instead of after it has made the asset.
    async function* counted(): AsyncGenerator<Buffer> {
      let sent = 0;
      let held: Buffer | undefined;
      try {
        for await (const chunk of body) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
          sent += buf.length;
          if (sent > size) throw new S3Error('InvalidRequest', 'The body is longer than its announced length.');
          if (held) yield held;
          held = buf;
        }
      } catch (err) {
        bodyError = err;
        throw err;
      }
      if (sent !== size) {
        bodyError = new S3Error('IncompleteBody');
        throw bodyError;
      }
      if (held) yield held;
    }
    try {
      const res = await this.octokit.request({
        method: 'POST',
        url: release.upload_url,
        name,
        headers: { 'content-type': contentType || 'application/octet-stream', 'content-length': String(size) },
        data: size === 0 ? Buffer.alloc(0) : counted(),
      } as never);
      return res.data as GithubAsset;
    } catch (err) {
      await this.removeLeftover(release, name, ctx);
      if (bodyError !== undefined) throw bodyFailure(bodyError);
      if (isAlreadyExists(err)) {
        const e = new S3Error('OperationAborted', 'An asset of that name exists.');
        (e as { alreadyExists?: boolean }).alreadyExists = true;
        throw e;
      }
      throw toS3ErrorFromGithub(err, ctx);
    }
  }

  /** After a failed upload GitHub may keep an empty asset in state "starter": remove it. */
  private async removeLeftover(release: GithubRelease, name: string, ctx: ErrorContext): Promise<void> {
    try {
      for (const a of await this.freshAssets(release)) {
        if (a.name === name && a.state !== 'uploaded') await this.deleteAsset(a.id, ctx);
      }
    } catch {
      // best effort: a leftover is invisible to reads (only "uploaded" assets count)
    }
  }

  /** @internal Deletes an asset; one already gone is fine. */
  async deleteAsset(id: number, ctx: ErrorContext): Promise<void> {
    try {
      await this.octokit.request('DELETE /repos/{owner}/{repo}/releases/assets/{asset_id}', { ...this.repoParams, asset_id: id });
    } catch (err) {
      if (httpStatus(err) !== 404) throw toS3ErrorFromGithub(err, ctx);
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    this.assertWritable();
    if (bucket !== ALL_RELEASES) await this.bucketRelease(bucket);
    const found = await this.find(bucket, key);
    if (!found) return;
    // Both forms of the key (content and empty) go, should a crash have left the two.
    const names = namesOf(found.located.inner);
    for (const a of await this.assets(found.located.release)) if (names.includes(a.name)) await this.deleteAsset(a.id, { bucket, key });
  }

  async setTags(bucket: string, key: string, tags: Tag[]): Promise<void> {
    await this.headObject(bucket, key);
    if (tags.length > 0) throw new S3Error('NotImplemented', 'GitHub release assets cannot hold object tags.');
  }

  // ---------------------------------------------------------------- listing

  /** The visible entries of a release, keyed as in the bucket (with the tag in ALL_RELEASES), sorted. */
  private async entries(release: GithubRelease, keyPrefix: string): Promise<ObjectSummary[]> {
    const out: ObjectSummary[] = [];
    for (const a of await this.assets(release)) {
      if (a.state !== 'uploaded') continue;
      const inner = keyOf(a.name);
      if (inner === undefined) continue;
      const { key: _k, ...m } = metaOfAsset(inner, a);
      out.push({ key: keyPrefix + inner, size: m.size, etag: m.etag, lastModified: m.lastModified });
    }
    return out;
  }

  async listObjects(bucket: string, opts: ListOptions): Promise<ListPage> {
    let all: ObjectSummary[];
    if (bucket === ALL_RELEASES) {
      // A release can hold keys of this listing only if `tag/` and the prefix overlap.
      const wanted = (await this.releases()).filter((r) => {
        const p = `${r.tag_name}/`;
        return p.startsWith(opts.prefix) || opts.prefix.startsWith(p);
      });
      all = [];
      for (const r of wanted) all.push(...(await this.entries(r, `${r.tag_name}/`)));
    } else {
      all = await this.entries(await this.bucketRelease(bucket), '');
    }
    all.sort((a, b) => compareKeys(a.key, b.key));
    // Tags with '/' can give one key twice (tag a, asset b/c escaped, and tag a/b, asset c): keep the first.
    const unique = all.filter((e, i) => i === 0 || all[i - 1].key !== e.key);
    const source = async function* (seek: ListSeek): AsyncGenerator<ObjectSummary> {
      for (const e of unique) if (seekWants(e.key, seek)) yield e;
    };
    return listFromSource(source, opts);
  }
}

/** The backend for a routing table's settings; secrets are read here, once. */
export function githubBackendFromSpec(spec: GithubSettings, context: BackendContext): GithubBackend {
  const what = `github backend '${context.name}'`;
  const c = spec.credentials;
  return new GithubBackend({
    // A backend declared without a repository (only its routes name one) is still made as
    // the default: it then has no buckets.
    owner: spec.owner ?? '',
    repo: spec.repo ?? '',
    baseUrl: spec.baseUrl,
    readOnly: spec.readOnly,
    createRelease: spec.createRelease,
    stateBranch: spec.stateBranch,
    ...(c?.token ? { token: resolveSecret(c.token, `${what}: token`, context.env) } : {}),
    ...(c?.app?.privateKey
      ? {
          app: {
            appId: c.app.appId,
            installationId: c.app.installationId,
            privateKey: resolveSecret(c.app.privateKey, `${what}: app private key`, context.env),
          },
        }
      : {}),
  });
}

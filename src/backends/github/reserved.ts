/**
 * The github backend's reserved area (ReservedStore): s3mux's documents for a release (its
 * bucket configuration, object versions, lock state) on a branch of the repository.
 *
 * Release assets have no conditional write; GitHub's Contents API has: `PUT .../contents/{path}`
 * with `sha` (the blob sha of the file being replaced) answers 409 when that sha is stale, one
 * without `sha` answers 422 when the file exists, and `DELETE` needs the sha too. So:
 *
 * - Each document is one file on the state branch (default `s3mux-state`, made from the
 *   default branch on first write), at `.s3mux/<release id>/<name>@`: keyed by the release's
 *   id, so a bucket deleted and made again starts empty; `@` (never in a name) lets `a` and
 *   `a/b` both be documents. Its etag is the file's blob sha, the compare-and-swap token.
 * - The file is one header line (JSON: a nonce, so every write gets a new sha, the size, the
 *   time) and then the document's bytes when they are small (INLINE_MAX). A larger body is a
 *   release asset `_s3mux.r.<random>` (streamed, spooled to disk when its length is unknown),
 *   uploaded first; the file naming it is the commit point, a write that loses its
 *   compare-and-swap deletes its asset, and a replaced or deleted document's asset goes after
 *   the file no longer names it.
 * - GitHub: writes on one branch "in parallel ... will conflict" (409 `is at X but expected Y`).
 *   This process's writes go one at a time; a 409 or 422 is answered by reading the file again:
 *   if it still is what the write expected, the write is tried again, else the condition failed.
 * - Listing reads the release's folder with the trees API (three calls) and each document's
 *   header by its blob sha, kept in memory afterwards (a blob never changes).
 * - A route onto every release (ALL_RELEASES) has no area: nothing is found there, and writes
 *   answer NotImplemented.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Error } from '../../errors';
import { KeyedLock } from '../keyed-lock';
import {
  checkReservedConditions,
  checkReservedName,
  inReservedPage,
  reservedListMax,
  type ReservedConditions,
  type ReservedDocument,
  type ReservedEntry,
  type ReservedListOptions,
  type ReservedStore,
} from '../reserved-store';
import { httpStatus, toS3ErrorFromGithub } from './errors';
import type { Octokit } from '@octokit/rest';
import type { AssetStore } from './parts';
import type { ErrorContext } from './errors';
import type { GithubAsset, GithubRelease } from './model';
import { ALL_RELEASES, RESERVED } from './names';

/** Documents up to this size live in the file itself (base64 in the API, so well under its 1 MB). */
export const INLINE_MAX = 64 * 1024;
/** The folder on the state branch that holds every release's documents. */
export const STATE_ROOT = '.s3mux';
const ASSET_PREFIX = `${RESERVED}r.`;
const HEADER_CACHE = 10_000;
const MAX_ATTEMPTS = 12;

/** The first line of a document's file. */
interface Header {
  nonce: string;
  size: number;
  modified: string;
  /** The release asset holding the bytes (none: they follow the header). */
  asset?: number;
}

interface StoredFile {
  sha: string;
  header: Header;
  inline: Buffer;
}

function parseFile(raw: Buffer): { header: Header; inline: Buffer } {
  const nl = raw.indexOf(0x0a);
  const header = JSON.parse(raw.subarray(0, nl < 0 ? raw.length : nl).toString('utf8')) as Header;
  if (typeof header.size !== 'number' || typeof header.modified !== 'string')
    throw new S3Error('InternalError', 'A reserved document on the state branch has no valid header.');
  return { header, inline: nl < 0 ? Buffer.alloc(0) : raw.subarray(nl + 1) };
}

/** A body's first `limit` + 1 bytes, and the whole body again as a stream when it is longer. */
async function headOf(body: Readable, limit: number): Promise<{ small: Buffer } | { large: Readable }> {
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | Uint8Array>;
  const next = async (): Promise<Buffer | undefined> => {
    const r: IteratorResult<Buffer | Uint8Array> = await it.next();
    return r.done ? undefined : Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
  };
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const buf = await next();
    if (!buf) return { small: Buffer.concat(chunks) };
    chunks.push(buf);
    size += buf.length;
    if (size > limit) break;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* chunks;
    for (let buf = await next(); buf; buf = await next()) yield buf;
  }
  return { large: Readable.from(all(), { objectMode: false }) };
}

function isConflict(err: unknown): boolean {
  const s = httpStatus(err);
  return s === 409 || s === 422;
}

/** What the reserved store needs of the backend (GithubBackend provides it): its assets and its API client. */
export interface StateHost extends Pick<AssetStore, 'assertWritable' | 'bucketRelease' | 'download' | 'store' | 'deleteAsset'> {
  readonly owner: string;
  readonly repo: string;
  readonly octokit: Octokit;
  call<T>(ctx: ErrorContext, fn: () => Promise<T>): Promise<T>;
}

export class GithubReservedStore implements ReservedStore {
  /** This process's writes on the branch, one at a time (GitHub refuses overlapping ones). */
  private readonly writes = new KeyedLock();
  private readonly headers = new Map<string, Header>();
  private branchReady?: Promise<void>;

  constructor(
    private readonly gh: StateHost,
    readonly branch: string,
  ) {}

  private get repo(): { owner: string; repo: string } {
    return { owner: this.gh.owner, repo: this.gh.repo };
  }

  /** The bucket's release; undefined for a route onto every release, which has no area: reads find nothing there, writes are refused. */
  private async releaseOf(bucket: string, writing: boolean): Promise<GithubRelease | undefined> {
    if (bucket !== ALL_RELEASES) return this.gh.bucketRelease(bucket);
    if (!writing) return undefined;
    throw new S3Error(
      'NotImplemented',
      'A route onto every release has no reserved area on GitHub (versioning, object lock, bucket configuration): route one release (github://owner/repo/releases/{tag}).',
    );
  }

  private folder(release: GithubRelease): string {
    return `${STATE_ROOT}/${release.id}/`;
  }

  private path(release: GithubRelease, name: string): string {
    return `${this.folder(release)}${name}@`;
  }

  // ------------------------------------------------------------ the branch and its files

  /** Makes the state branch from the default branch's head, once per process. */
  private ensureBranch(): Promise<void> {
    this.branchReady ??= this.makeBranch().catch((err: unknown) => {
      this.branchReady = undefined;
      throw err;
    });
    return this.branchReady;
  }

  private async makeBranch(): Promise<void> {
    const o = this.gh.octokit;
    try {
      await o.request('GET /repos/{owner}/{repo}/git/ref/{ref}', { ...this.repo, ref: `heads/${this.branch}` });
      return;
    } catch (err) {
      if (httpStatus(err) !== 404) throw toS3ErrorFromGithub(err);
    }
    const ctx = {};
    const repo = await this.gh.call(ctx, () => o.request('GET /repos/{owner}/{repo}', this.repo));
    const main = (repo.data as { default_branch?: string }).default_branch;
    if (!main)
      throw new S3Error(
        'InternalError',
        `The repository ${this.gh.owner}/${this.gh.repo} has no default branch to start ${this.branch} from.`,
      );
    const head = await this.gh.call(ctx, () =>
      o.request('GET /repos/{owner}/{repo}/git/ref/{ref}', { ...this.repo, ref: `heads/${main}` }),
    );
    try {
      await o.request('POST /repos/{owner}/{repo}/git/refs', { ...this.repo, ref: `refs/heads/${this.branch}`, sha: head.data.object.sha });
    } catch (err) {
      // Made by another replica meanwhile.
      if (httpStatus(err) !== 422) throw toS3ErrorFromGithub(err);
    }
  }

  /** The file at `path` on the branch, or undefined (no file, or no branch yet). */
  private async readFile(path: string): Promise<StoredFile | undefined> {
    let data: { sha: string; content?: string; encoding?: string };
    try {
      const res = await this.gh.octokit.request(`GET /repos/{owner}/{repo}/contents/${path}`, { ...this.repo, ref: this.branch });
      data = res.data as typeof data;
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw toS3ErrorFromGithub(err);
    }
    if (data.encoding !== 'base64' || typeof data.content !== 'string')
      throw new S3Error('InternalError', `The state file ${path} is not a document s3mux wrote.`);
    const { header, inline } = parseFile(Buffer.from(data.content, 'base64'));
    this.remember(data.sha, header);
    return { sha: data.sha, header, inline };
  }

  private remember(sha: string, header: Header): void {
    this.headers.set(sha, header);
    if (this.headers.size > HEADER_CACHE) this.headers.delete(this.headers.keys().next().value!);
  }

  /** A document's header by its blob sha. */
  private async headerOf(sha: string): Promise<Header> {
    const known = this.headers.get(sha);
    if (known) return known;
    const res = await this.gh.call({}, () =>
      this.gh.octokit.request('GET /repos/{owner}/{repo}/git/blobs/{file_sha}', { ...this.repo, file_sha: sha }),
    );
    const { header } = parseFile(Buffer.from(res.data.content, 'base64'));
    this.remember(sha, header);
    return header;
  }

  /**
   * Runs a Contents API write until GitHub takes it or `decide` (given the file as it is now)
   * refuses it: a 409 or 422 may be another write on the branch, not on this file.
   */
  private async writeFile(
    path: string,
    decide: (current: StoredFile | undefined) => 'write' | 'done',
    send: (sha: string | undefined) => Promise<string | undefined>,
  ): Promise<{ sha?: string; before?: StoredFile }> {
    await this.ensureBranch();
    return this.writes.run('branch', async () => {
      for (let attempt = 1; ; attempt++) {
        const current = await this.readFile(path);
        if (decide(current) === 'done') return { before: current };
        try {
          return { sha: await send(current?.sha), before: current };
        } catch (err) {
          const missing = httpStatus(err) === 404;
          if (missing) this.branchReady = undefined;
          if ((!isConflict(err) && !missing) || attempt >= MAX_ATTEMPTS) throw toS3ErrorFromGithub(err);
          if (missing) await this.ensureBranch();
          await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random())));
        }
      }
    });
  }

  // ------------------------------------------------------------ ReservedStore

  async get(bucket: string, name: string): Promise<ReservedDocument | undefined> {
    checkReservedName(name);
    const release = await this.releaseOf(bucket, false);
    if (!release) return undefined;
    const file = await this.readFile(this.path(release, name));
    if (!file) return undefined;
    const entry = this.entryOf(name, file.sha, file.header);
    if (file.header.asset === undefined) return { entry, body: Readable.from(file.inline.length > 0 ? [file.inline] : []) };
    const asset = { id: file.header.asset } as GithubAsset;
    return { entry, body: this.gh.download(asset, undefined, { bucket, key: name, notFound: 'InternalError' }) };
  }

  private entryOf(name: string, sha: string, h: Header): ReservedEntry {
    return { name, size: h.size, etag: sha, lastModified: new Date(h.modified) };
  }

  async put(bucket: string, name: string, body: Buffer | Readable, conditions?: ReservedConditions): Promise<ReservedEntry> {
    checkReservedName(name);
    this.gh.assertWritable();
    const release = (await this.releaseOf(bucket, true))!;
    const path = this.path(release, name);
    const head = Buffer.isBuffer(body)
      ? body.length > INLINE_MAX
        ? { large: Readable.from([body]) }
        : { small: body }
      : await headOf(body, INLINE_MAX);
    const header: Header = { nonce: randomBytes(8).toString('hex'), size: 0, modified: '' };
    let staged: GithubAsset | undefined;
    if ('large' in head) {
      staged = await this.gh.store(
        release,
        `${ASSET_PREFIX}${randomBytes(12).toString('hex')}`,
        head.large,
        // A Buffer's length is known; a stream's is not (spooled to disk first).
        Buffer.isBuffer(body) ? body.length : undefined,
        'application/octet-stream',
        {
          createOnly: true,
          bucket,
          key: name,
        },
      );
      header.asset = staged.id;
      header.size = staged.size;
    } else {
      header.size = head.small.length;
    }
    try {
      header.modified = new Date().toISOString();
      const file = Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), 'small' in head ? head.small : Buffer.alloc(0)]);
      const { sha, before } = await this.writeFile(
        path,
        (current) => (checkReservedConditions(current?.sha, conditions), 'write'),
        async (sha) => {
          const res = await this.gh.octokit.request(`PUT /repos/{owner}/{repo}/contents/${path}`, {
            ...this.repo,
            branch: this.branch,
            message: `s3mux: ${release.tag_name} ${name}`,
            content: file.toString('base64'),
            ...(sha !== undefined ? { sha } : {}),
          });
          return (res.data as { content: { sha: string } }).content.sha;
        },
      );
      this.remember(sha!, header);
      if (before?.header.asset !== undefined) await this.gh.deleteAsset(before.header.asset, { bucket }).catch(() => undefined);
      return this.entryOf(name, sha!, header);
    } catch (err) {
      if (staged) await this.gh.deleteAsset(staged.id, { bucket }).catch(() => undefined);
      throw err;
    }
  }

  async delete(bucket: string, name: string, conditions?: Pick<ReservedConditions, 'ifMatch'>): Promise<void> {
    checkReservedName(name);
    this.gh.assertWritable();
    const release = (await this.releaseOf(bucket, true))!;
    const path = this.path(release, name);
    const { sha, before } = await this.writeFile(
      path,
      (current) => {
        if (conditions?.ifMatch !== undefined) checkReservedConditions(current?.sha, conditions);
        return current ? 'write' : 'done';
      },
      async (sha) => {
        await this.gh.octokit.request(`DELETE /repos/{owner}/{repo}/contents/${path}`, {
          ...this.repo,
          branch: this.branch,
          message: `s3mux: ${release.tag_name} ${name} removed`,
          sha: sha!,
        });
        return sha;
      },
    );
    if (sha !== undefined && before?.header.asset !== undefined)
      await this.gh.deleteAsset(before.header.asset, { bucket }).catch(() => undefined);
  }

  async list(bucket: string, prefix: string, opts?: ReservedListOptions): Promise<ReservedEntry[]> {
    checkReservedName(prefix, true);
    const max = reservedListMax(opts);
    const release = await this.releaseOf(bucket, false);
    if (!release) return [];
    const files = await this.folderFiles(release);
    const names = files
      .map((f) => ({ name: f.path.slice(0, -1), sha: f.sha }))
      .filter((f) => inReservedPage(f.name, prefix, opts))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .slice(0, max);
    const out: ReservedEntry[] = [];
    for (const f of names) out.push(this.entryOf(f.name, f.sha, await this.headerOf(f.sha)));
    return out;
  }

  /** Every document file of a release (paths relative to its folder), by the trees API. */
  private async folderFiles(release: GithubRelease): Promise<{ path: string; sha: string }[]> {
    type Tree = { tree: { path: string; type: string; sha: string }[]; truncated?: boolean };
    const tree = async (sha: string, recursive: boolean): Promise<Tree | undefined> => {
      try {
        const res = await this.gh.octokit.request('GET /repos/{owner}/{repo}/git/trees/{tree_sha}', {
          ...this.repo,
          tree_sha: sha,
          ...(recursive ? { recursive: '1' } : {}),
        });
        return res.data;
      } catch (err) {
        if (httpStatus(err) === 404) return undefined;
        throw toS3ErrorFromGithub(err);
      }
    };
    const child = (t: Tree | undefined, name: string) => t?.tree.find((e) => e.path === name && e.type === 'tree')?.sha;
    const rootSha = child(await tree(this.branch, false), STATE_ROOT);
    const releaseSha = rootSha && child(await tree(rootSha, false), String(release.id));
    const all = releaseSha ? await tree(releaseSha, true) : undefined;
    if (all?.truncated)
      throw new S3Error('InternalError', `The state of release ${release.tag_name} has more files than GitHub lists at once.`);
    return (all?.tree ?? []).filter((e) => e.type === 'blob' && e.path.endsWith('@'));
  }

  /** Removes a deleted release's documents (best effort: a new release has another id, so none of them is ever read again). */
  async dropRelease(release: GithubRelease): Promise<void> {
    for (const f of await this.folderFiles(release)) {
      const path = `${this.folder(release)}${f.path}`;
      await this.writeFile(
        path,
        (current) => (current ? 'write' : 'done'),
        async (sha) => {
          await this.gh.octokit.request(`DELETE /repos/{owner}/{repo}/contents/${path}`, {
            ...this.repo,
            branch: this.branch,
            message: `s3mux: release ${release.tag_name} deleted`,
            sha: sha!,
          });
          return sha;
        },
      );
    }
  }
}

/**
 * The git side of the GitHub double (github-double.ts): branches, the Contents API, the refs
 * API and the trees and blobs API, written from GitHub's REST documentation
 * (docs.github.com/rest/repos/contents, /rest/git/refs, /rest/git/trees, /rest/git/blobs).
 *
 * What it checks, as GitHub does:
 * - `PUT /repos/{o}/{r}/contents/{path}` takes `message`, base64 `content`, `branch` and, to
 *   replace a file, `sha` (the blob sha of the file being replaced): without it a file that
 *   exists is 422 `Invalid request.\n\n"sha" wasn't supplied.`; a stale one is 409
 *   `{path} does not match {sha}`. Created is 201, replaced 200, both `{ content, commit }`.
 *   (Undocumented, and answered here like a stale sha: a `sha` for a file that does not exist.)
 * - `DELETE .../contents/{path}` wants `message` and `sha` (422 without), 404 for a missing
 *   file, 409 for a stale sha; 200 `{ content: null, commit }`.
 * - Writes on one branch that overlap answer 409 `is at X but expected Y`: GitHub says of these
 *   two endpoints "if you use [them] in parallel, the concurrent requests will conflict".
 * - `GET .../contents/{path}?ref=` answers a file (base64 `content` up to 1 MB; `encoding:
 *   "none"` and no content above), a directory as an array, 404 for a missing path or ref; the
 *   raw media type (`application/vnd.github.raw+json`) answers the bytes.
 * - Refs: `GET .../git/ref/heads/{branch}` (404 when absent), `POST .../git/refs` (422
 *   "Reference already exists"). Trees: `GET .../git/trees/{sha or branch}` with `recursive`.
 *   Blobs: `GET .../git/blobs/{sha}`, base64.
 * Blob shas are git's (sha1 of `blob <size>\0<bytes>`); tree and commit shas are content
 * hashes of the double's own form.
 */
import * as crypto from 'node:crypto';
import type * as http from 'node:http';

type Files = Map<string, string>; // path → blob sha

interface Commit {
  sha: string;
  files: Files;
  parent?: string;
}

type Answer = (status: number, body: unknown, headers?: Record<string, string>) => void;

const sha1 = (data: Buffer | string) => crypto.createHash('sha1').update(data).digest('hex');

export function gitBlobSha(data: Buffer): string {
  return sha1(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]));
}

/** GitHub wraps base64 content at 60 characters. */
function wrapped(b64: string): string {
  return (b64.match(/.{1,60}/g) ?? []).join('\n') + (b64 ? '\n' : '');
}

const MB = 1024 * 1024;
const NOT_FOUND = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' };
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class GitDouble {
  readonly blobs = new Map<string, Buffer>();
  readonly branches = new Map<string, string>();
  readonly commits = new Map<string, Commit>();
  /** Tree sha → the commit and folder it was computed from (trees are served by sha). */
  private readonly trees = new Map<string, { commit: string; dir: string }>();
  /** Branches with a write under way (the next one that overlaps gets 409). */
  private readonly writing = new Set<string>();
  /** Contents API writes that were answered 409 because another was under way. */
  overlapConflicts = 0;

  constructor(
    private readonly base: () => string,
    readonly defaultBranch = 'main',
  ) {
    const readme = Buffer.from('# assets\n');
    const blob = this.putBlob(readme);
    this.branches.set(defaultBranch, this.newCommit(new Map([['README.md', blob]])).sha);
  }

  private putBlob(data: Buffer): string {
    const sha = gitBlobSha(data);
    this.blobs.set(sha, data);
    return sha;
  }

  private newCommit(files: Files, parent?: string): Commit {
    const body = [...files].sort().join('\n') + `\n${parent ?? ''}\n${crypto.randomBytes(8).toString('hex')}`;
    const c: Commit = { sha: sha1(body), files, parent };
    this.commits.set(c.sha, c);
    return c;
  }

  /** The files of a branch (test inspection). */
  filesOf(branch: string): Files | undefined {
    const head = this.branches.get(branch);
    return head === undefined ? undefined : this.commits.get(head)!.files;
  }

  /** Handles `rest` (the path after /repos/{o}/{r}); false when it is not a git route. */
  async route(
    method: string,
    rest: string,
    url: URL,
    req: http.IncomingMessage,
    read: () => Promise<Buffer | undefined>,
    answer: Answer,
  ): Promise<boolean> {
    let m: RegExpExecArray | null;
    if ((m = /^\/contents\/(.+)$/.exec(rest))) {
      const path = decodeURIComponent(m[1]);
      if (method === 'GET') return (this.getContents(path, url, req, answer), true);
      if (method === 'PUT' || method === 'DELETE') {
        const input = await this.json(read, answer);
        if (input) await this.write(method, path, input, answer);
        return true;
      }
      return false;
    }
    if ((m = /^\/git\/ref\/(.+)$/.exec(rest)) && method === 'GET') {
      const ref = decodeURIComponent(m[1]);
      const head = ref.startsWith('heads/') ? this.branches.get(ref.slice(6)) : undefined;
      if (head === undefined) return (answer(404, NOT_FOUND), true);
      return (answer(200, this.refJson(ref.slice(6), head)), true);
    }
    if (rest === '/git/refs' && method === 'POST') {
      const input = await this.json(read, answer);
      if (!input) return true;
      const ref = typeof input.ref === 'string' ? input.ref : '';
      const sha = typeof input.sha === 'string' ? input.sha : '';
      if (!/^refs\/heads\/[^\s]+$/.test(ref)) return (answer(422, { message: 'Reference name must start with refs/' }), true);
      if (!this.commits.has(sha)) return (answer(422, { message: 'Object does not exist' }), true);
      const branch = ref.slice('refs/heads/'.length);
      if (this.branches.has(branch)) return (answer(422, { message: 'Reference already exists' }), true);
      this.branches.set(branch, sha);
      return (answer(201, this.refJson(branch, sha)), true);
    }
    if ((m = /^\/git\/trees\/(.+)$/.exec(rest)) && method === 'GET') {
      const tree = this.tree(decodeURIComponent(m[1]), url.searchParams.has('recursive'));
      return (tree ? answer(200, tree) : answer(404, NOT_FOUND), true);
    }
    if ((m = /^\/git\/blobs\/([0-9a-f]{40})$/.exec(rest)) && method === 'GET') {
      const data = this.blobs.get(m[1]);
      if (!data) return (answer(404, NOT_FOUND), true);
      return (
        answer(200, {
          sha: m[1],
          node_id: `B_${m[1]}`,
          size: data.length,
          url: `${this.base()}/git/blobs/${m[1]}`,
          content: wrapped(data.toString('base64')),
          encoding: 'base64',
        }),
        true
      );
    }
    return false;
  }

  private async json(read: () => Promise<Buffer | undefined>, answer: Answer): Promise<Record<string, unknown> | undefined> {
    try {
      const v = JSON.parse((await read())?.toString('utf8') ?? '') as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // below
    }
    answer(400, { message: 'Problems parsing JSON' });
    return undefined;
  }

  private refJson(branch: string, sha: string): Record<string, unknown> {
    return {
      ref: `refs/heads/${branch}`,
      node_id: `REF_${branch}`,
      url: `${this.base()}/git/refs/heads/${branch}`,
      object: { type: 'commit', sha, url: `${this.base()}/git/commits/${sha}` },
    };
  }

  private fileJson(path: string, sha: string, data: Buffer, branch: string): Record<string, unknown> {
    return {
      type: 'file',
      name: path.split('/').pop(),
      path,
      sha,
      size: data.length,
      url: `${this.base()}/contents/${path}?ref=${branch}`,
      git_url: `${this.base()}/git/blobs/${sha}`,
      download_url: null,
      _links: { self: `${this.base()}/contents/${path}?ref=${branch}`, git: `${this.base()}/git/blobs/${sha}` },
    };
  }

  private getContents(path: string, url: URL, req: http.IncomingMessage, answer: Answer): void {
    const ref = url.searchParams.get('ref') ?? this.defaultBranch;
    const head = this.branches.get(ref) ?? (this.commits.has(ref) ? ref : undefined);
    if (head === undefined)
      return answer(404, { message: `No commit found for the ref ${ref}`, documentation_url: 'https://docs.github.com/rest' });
    const files = this.commits.get(head)!.files;
    const clean = path.replace(/\/+$/, '');
    const sha = files.get(clean);
    if (sha !== undefined) {
      const data = this.blobs.get(sha)!;
      if (/application\/vnd\.github(?:\.v3)?\.raw/.test(req.headers.accept ?? '')) return answer(200, data);
      const big = data.length > MB;
      return answer(200, {
        ...this.fileJson(clean, sha, data, ref),
        content: big ? '' : wrapped(data.toString('base64')),
        encoding: big ? 'none' : 'base64',
      });
    }
    const prefix = `${clean}/`;
    const children = new Map<string, Record<string, unknown>>();
    for (const [p, s] of files) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const i = rest.indexOf('/');
      if (i < 0) children.set(rest, this.fileJson(p, s, this.blobs.get(s)!, ref));
      else if (!children.has(rest.slice(0, i)))
        children.set(rest.slice(0, i), { type: 'dir', name: rest.slice(0, i), path: prefix + rest.slice(0, i), size: 0 });
    }
    if (children.size === 0) return answer(404, NOT_FOUND);
    answer(
      200,
      [...children.values()].sort((a, b) => (String(a.name) < String(b.name) ? -1 : 1)),
    );
  }

  private async write(method: 'PUT' | 'DELETE', path: string, input: Record<string, unknown>, answer: Answer): Promise<void> {
    if (typeof input.message !== 'string')
      return answer(422, { message: 'Invalid request.\n\n"message" wasn\'t supplied.', documentation_url: 'https://docs.github.com/rest' });
    const branch = typeof input.branch === 'string' ? input.branch : this.defaultBranch;
    if (!this.branches.has(branch))
      return answer(404, { message: `Branch ${branch} not found`, documentation_url: 'https://docs.github.com/rest' });
    let content: Buffer | undefined;
    if (method === 'PUT') {
      if (typeof input.content !== 'string' || !STRICT_BASE64.test(input.content))
        return answer(422, { message: 'content is not valid Base64', documentation_url: 'https://docs.github.com/rest' });
      content = Buffer.from(input.content, 'base64');
    }
    const sha = typeof input.sha === 'string' ? input.sha : undefined;
    if (method === 'DELETE' && sha === undefined)
      return answer(422, { message: 'Invalid request.\n\n"sha" wasn\'t supplied.', documentation_url: 'https://docs.github.com/rest' });
    // Two writes on one branch at once: the later one finds the branch moved (GitHub: "the concurrent requests will conflict").
    const base = this.branches.get(branch)!;
    if (this.writing.has(branch)) {
      this.overlapConflicts++;
      return answer(409, {
        message: `is at ${base} but expected ${sha1(base + 'stale')}`,
        documentation_url: 'https://docs.github.com/rest',
      });
    }
    this.writing.add(branch);
    try {
      await new Promise((r) => setTimeout(r, 2));
      const files = this.commits.get(base)!.files;
      const current = files.get(path);
      if (method === 'DELETE' && current === undefined) return answer(404, NOT_FOUND);
      if (current !== undefined && sha === undefined)
        return answer(422, { message: 'Invalid request.\n\n"sha" wasn\'t supplied.', documentation_url: 'https://docs.github.com/rest' });
      if (sha !== undefined && sha !== current)
        return answer(409, { message: `${path} does not match ${sha}`, documentation_url: 'https://docs.github.com/rest' });
      const next = new Map(files);
      if (content) next.set(path, this.putBlob(content));
      else next.delete(path);
      const commit = this.newCommit(next, base);
      this.branches.set(branch, commit.sha);
      const commitJson = { sha: commit.sha, message: input.message, parents: [{ sha: base }], tree: { sha: this.treeSha(commit.sha, '') } };
      if (!content) return answer(200, { content: null, commit: commitJson });
      return answer(current === undefined ? 201 : 200, {
        content: this.fileJson(path, gitBlobSha(content), content, branch),
        commit: commitJson,
      });
    } finally {
      this.writing.delete(branch);
    }
  }

  /** The entries directly in (or, recursive, under) `dir` of a commit. */
  private entries(commit: string, dir: string, recursive: boolean): Record<string, unknown>[] {
    const files = this.commits.get(commit)!.files;
    const prefix = dir === '' ? '' : `${dir}/`;
    const out = new Map<string, Record<string, unknown>>();
    for (const [p, s] of files) {
      if (!p.startsWith(prefix)) continue;
      const rel = p.slice(prefix.length);
      const parts = rel.split('/');
      for (let i = 1; i < parts.length && (recursive || i === 1); i++) {
        const sub = parts.slice(0, i).join('/');
        if (!out.has(sub)) out.set(sub, { path: sub, mode: '040000', type: 'tree', sha: this.treeSha(commit, prefix + sub) });
      }
      if (recursive || parts.length === 1)
        out.set(rel, {
          path: rel,
          mode: '100644',
          type: 'blob',
          sha: s,
          size: this.blobs.get(s)!.length,
          url: `${this.base()}/git/blobs/${s}`,
        });
    }
    return [...out.values()].sort((a, b) => (String(a.path) < String(b.path) ? -1 : 1));
  }

  private treeSha(commit: string, dir: string): string {
    const files = this.commits.get(commit)!.files;
    const prefix = dir === '' ? '' : `${dir}/`;
    const sha = sha1(
      [...files]
        .filter(([p]) => p.startsWith(prefix))
        .map(([p, s]) => `${p.slice(prefix.length)} ${s}`)
        .sort()
        .join('\n') + '\ntree',
    );
    if (!this.trees.has(sha)) this.trees.set(sha, { commit, dir });
    return sha;
  }

  private tree(shaOrRef: string, recursive: boolean): Record<string, unknown> | undefined {
    const head = this.branches.get(shaOrRef) ?? (this.commits.has(shaOrRef) ? shaOrRef : undefined);
    const at = head !== undefined ? { commit: head, dir: '' } : this.trees.get(shaOrRef);
    if (!at) return undefined;
    const sha = this.treeSha(at.commit, at.dir);
    return { sha, url: `${this.base()}/git/trees/${sha}`, tree: this.entries(at.commit, at.dir, recursive), truncated: false };
  }
}

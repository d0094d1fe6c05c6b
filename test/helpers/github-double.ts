/**
 * An in-memory double of GitHub's REST API for releases and release assets, written from
 * GitHub's REST documentation (docs.github.com/rest/releases), on three origins like GitHub's
 * own: the API (api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server), the
 * uploads host named by each release's `upload_url` template, and a download host the asset
 * API redirects to with a short-lived signed URL. All on 127.0.0.1 with free ports.
 *
 * What it checks, as GitHub does:
 * - Authorization: `token X` or `Bearer X` with a known token (401 "Bad credentials"
 *   otherwise); for `POST /app/installations/{id}/access_tokens`, a GitHub App JWT (RS256,
 *   `iss` = the app id, `iat`/`exp` at most 10 minutes apart, not expired) verified with the
 *   app key's public half, answered with an installation token that expires in an hour.
 * - Rate limits: every API answer carries x-ratelimit-limit/-remaining/-used/-reset/-resource;
 *   a spent quota is 403 "API rate limit exceeded" with remaining 0; `secondaryLimit()` makes
 *   the next answers 429 with Retry-After.
 * - Uploads: raw body with Content-Length (411 without), never empty (422 "size must be
 *   greater than or equal to 1", as users of the API report), `?name=` (and `label`); names are
 *   renamed the way GitHub documents ("special characters, non-alphanumeric characters, and
 *   leading or trailing periods": double: any character outside [A-Za-z0-9._+-] becomes '.', a
 *   leading '.' gets 'default' before it, trailing '.' are dropped); one release holds one
 *   asset per name, compared without case (422 already_exists). An upload cut short stores
 *   nothing.
 * - `GET .../releases/assets/{id}` with `Accept: application/octet-stream` is a 302 to the
 *   download host, which wants no Authorization (400 if one arrives, as the real one does),
 *   checks the signature and expiry, and serves Range as 206.
 * - A release holds at most 1000 assets (422 for the next upload).
 * - Lists page with `per_page` (max 100) and `page`, and a Link header with rel="next"/"last".
 * - The repository's git side (a default branch `main`, the Contents, refs, trees and blobs
 *   APIs) is github-git-double.ts.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitDouble } from './github-git-double';

export interface AssetRecord {
  id: number;
  name: string;
  label: string | null;
  contentType: string;
  data: Buffer;
  /** sha256 hex of data, computed once. */
  sha256: string;
  state: 'uploaded' | 'starter';
  createdAt: Date;
  updatedAt: Date;
  releaseId: number;
}

export interface ReleaseRecord {
  id: number;
  tag: string;
  name: string;
  draft: boolean;
  createdAt: Date;
  assets: AssetRecord[];
}

export interface GithubDoubleOptions {
  owner?: string;
  repo?: string;
  /** Tokens accepted (token X / Bearer X). */
  tokens?: string[];
  /** A GitHub App: its id, the PEM of its public key, and the installation that may act on the repo. */
  app?: { id: number; publicKeyPem: string; installationId: number };
  /** Path before the API routes: '' (api.github.com) or '/api/v3' (GitHub Enterprise Server). */
  apiPrefix?: string;
  /** Requests per window before 403; default 5000. */
  rateLimit?: number;
  /** Seconds until the quota resets, from the first request; default 3600. */
  rateWindowSeconds?: number;
  /** Largest upload accepted; default 64 MiB. */
  maxAssetBytes?: number;
}

export interface LoggedRequest {
  host: 'api' | 'uploads' | 'download';
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

/** GitHub: a release holds at most 1000 assets (double: the exact 422 message is not documented). */
const MAX_ASSETS = 1000;

const ISO = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

const NOT_FOUND = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' };

function b64url(s: string): Buffer {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** GitHub's renaming of asset names (double: see the header). */
export function githubAssetName(name: string): string {
  let n = name.replace(/[^A-Za-z0-9._+-]/g, '.');
  n = n.replace(/\.+$/, '');
  if (n.startsWith('.')) n = `default${n}`;
  return n;
}

export class GithubDouble {
  readonly owner: string;
  readonly repo: string;
  readonly requests: LoggedRequest[] = [];
  readonly releases: ReleaseRecord[] = [];
  /** Tokens in force (installation tokens are added as they are issued). */
  readonly tokens = new Map<string, number>();
  apiUrl = '';
  uploadsUrl = '';
  downloadUrl = '';
  rateLimit: number;
  rateRemaining: number;
  rateReset = 0;
  /** The repository's git side: branches, the Contents, refs, trees and blobs APIs (github-git-double.ts). */
  readonly git = new GitDouble(() => `${this.apiUrl}/repos/${this.owner}/${this.repo}`);
  /** Installation tokens issued, in order. */
  readonly installationTokens: string[] = [];
  /** The JWT claims of each app authentication that was accepted. */
  readonly appJwts: Record<string, unknown>[] = [];

  private readonly opts: GithubDoubleOptions;
  private readonly servers: http.Server[] = [];
  private nextId = 1000;
  private readonly signingKey = crypto.randomBytes(32);
  private secondary?: { until: number; retryAfter: number };

  constructor(opts: GithubDoubleOptions = {}) {
    this.opts = opts;
    this.owner = opts.owner ?? 'octo';
    this.repo = opts.repo ?? 'assets';
    for (const t of opts.tokens ?? []) this.tokens.set(t, Infinity);
    this.rateLimit = opts.rateLimit ?? 5000;
    this.rateRemaining = this.rateLimit;
  }

  async start(): Promise<void> {
    const listen = (handler: http.RequestListener) =>
      new Promise<string>((resolve) => {
        const s = http.createServer((req, res) => {
          handler(req, res);
        });
        this.servers.push(s);
        s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`));
      });
    const api = await listen((q, s) => this.safe(q, s, () => this.api(q, s)));
    this.apiUrl = api + (this.opts.apiPrefix ?? '');
    this.uploadsUrl = await listen((q, s) => this.safe(q, s, () => this.uploads(q, s)));
    this.downloadUrl = await listen((q, s) => this.safe(q, s, () => this.download(q, s)));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.closeAllConnections();
            s.close(() => r());
          }),
      ),
    );
  }

  /** Makes the next API answers, for `seconds`, a secondary rate limit (429 + Retry-After). */
  secondaryLimit(seconds: number): void {
    this.secondary = { until: Date.now() + seconds * 1000, retryAfter: seconds };
  }

  /** Adds a release with assets directly (test setup). */
  addRelease(tag: string, assets: Record<string, Buffer | string> = {}, opts: { draft?: boolean } = {}): ReleaseRecord {
    const r: ReleaseRecord = { id: this.nextId++, tag, name: tag, draft: opts.draft ?? false, createdAt: new Date(), assets: [] };
    for (const [name, data] of Object.entries(assets)) r.assets.push(this.newAsset(r, name, Buffer.from(data), 'application/octet-stream'));
    this.releases.push(r);
    return r;
  }

  private newAsset(r: ReleaseRecord, name: string, data: Buffer, contentType: string, label: string | null = null): AssetRecord {
    const now = new Date();
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    return {
      id: this.nextId++,
      name,
      label,
      contentType,
      data,
      sha256,
      state: 'uploaded',
      createdAt: now,
      updatedAt: now,
      releaseId: r.id,
    };
  }

  // ------------------------------------------------------------ JSON shapes

  private assetJson(a: AssetRecord): Record<string, unknown> {
    const r = this.releases.find((x) => x.id === a.releaseId);
    return {
      url: `${this.apiUrl}/repos/${this.owner}/${this.repo}/releases/assets/${a.id}`,
      id: a.id,
      node_id: `RA_${a.id}`,
      name: a.name,
      label: a.label,
      uploader: { login: 'octocat', id: 1 },
      content_type: a.contentType,
      state: a.state,
      size: a.data.length,
      digest: `sha256:${a.sha256}`,
      download_count: 0,
      created_at: ISO(a.createdAt),
      updated_at: ISO(a.updatedAt),
      browser_download_url: `${this.apiUrl}/${this.owner}/${this.repo}/releases/download/${encodeURIComponent(r?.tag ?? '')}/${encodeURIComponent(a.name)}`,
    };
  }

  private releaseJson(r: ReleaseRecord): Record<string, unknown> {
    const base = `${this.apiUrl}/repos/${this.owner}/${this.repo}/releases/${r.id}`;
    return {
      url: base,
      assets_url: `${base}/assets`,
      upload_url: `${this.uploadsUrl}/repos/${this.owner}/${this.repo}/releases/${r.id}/assets{?name,label}`,
      id: r.id,
      node_id: `RE_${r.id}`,
      tag_name: r.tag,
      target_commitish: 'main',
      name: r.name,
      draft: r.draft,
      prerelease: false,
      created_at: ISO(r.createdAt),
      published_at: r.draft ? null : ISO(r.createdAt),
      assets: r.assets.map((a) => this.assetJson(a)),
    };
  }

  // ------------------------------------------------------------ plumbing

  private safe(req: http.IncomingMessage, res: http.ServerResponse, fn: () => Promise<void> | void): void {
    Promise.resolve()
      .then(fn)
      .catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { message: String((err as Error)?.message ?? err) });
        else res.destroy();
      });
  }

  private log(host: LoggedRequest['host'], req: http.IncomingMessage): URL {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ host, method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers });
    return url;
  }

  private rateHeaders(): Record<string, string> {
    if (this.rateReset === 0 || Date.now() / 1000 >= this.rateReset) {
      this.rateReset = Math.ceil(Date.now() / 1000) + (this.opts.rateWindowSeconds ?? 3600);
      this.rateRemaining = this.rateLimit;
    }
    return {
      'x-ratelimit-limit': String(this.rateLimit),
      'x-ratelimit-remaining': String(this.rateRemaining),
      'x-ratelimit-used': String(this.rateLimit - this.rateRemaining),
      'x-ratelimit-reset': String(this.rateReset),
      'x-ratelimit-resource': 'core',
    };
  }

  /** Who is calling: a token in force, or why not. */
  private bearer(req: http.IncomingMessage): string | undefined {
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return m?.[1];
  }

  private authorized(req: http.IncomingMessage): boolean {
    const t = this.bearer(req);
    if (t === undefined) return false;
    const exp = this.tokens.get(t);
    return exp !== undefined && exp > Date.now();
  }

  /** Counts a request against the quota; answers 403/429 when it is spent. True when answered. */
  private limited(res: http.ServerResponse): boolean {
    if (this.secondary && Date.now() < this.secondary.until) {
      json(
        res,
        429,
        { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
        { 'retry-after': String(this.secondary.retryAfter), ...this.rateHeaders() },
      );
      return true;
    }
    const h = this.rateHeaders();
    if (this.rateRemaining <= 0) {
      json(
        res,
        403,
        {
          message: 'API rate limit exceeded for user ID 1.',
          documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
        },
        h,
      );
      return true;
    }
    this.rateRemaining--;
    return false;
  }

  private async body(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    let complete = false;
    req.on('end', () => (complete = true));
    try {
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > limit) return undefined;
        chunks.push(c as Buffer);
      }
    } catch {
      return undefined;
    }
    return complete && !req.aborted ? Buffer.concat(chunks) : undefined;
  }

  private page<T>(res: http.ServerResponse, url: URL, items: T[], base: string, headers: Record<string, string>): void {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const links: string[] = [];
    const link = (p: number, rel: string) => `<${base}?per_page=${perPage}&page=${p}>; rel="${rel}"`;
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
    json(res, 200, items.slice((page - 1) * perPage, page * perPage), { ...headers, ...(links.length ? { link: links.join(', ') } : {}) });
  }

  private findAsset(id: number): AssetRecord | undefined {
    for (const r of this.releases) for (const a of r.assets) if (a.id === id) return a;
    return undefined;
  }

  // ------------------------------------------------------------ the app JWT

  private verifyAppJwt(req: http.IncomingMessage): Record<string, unknown> | undefined {
    const app = this.opts.app;
    const m = /^bearer\s+([\w-]+)\.([\w-]+)\.([\w-]+)$/i.exec(req.headers.authorization ?? '');
    if (!app || !m) return undefined;
    const [, h, p, sig] = m;
    let header: { alg?: string };
    let claims: { iss?: unknown; iat?: number; exp?: number };
    try {
      header = JSON.parse(b64url(h).toString('utf8')) as typeof header;
      claims = JSON.parse(b64url(p).toString('utf8')) as typeof claims;
    } catch {
      return undefined;
    }
    if (header.alg !== 'RS256') return undefined;
    const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), app.publicKeyPem, b64url(sig));
    const now = Math.floor(Date.now() / 1000);
    if (!ok || String(claims.iss) !== String(app.id)) return undefined;
    if (
      typeof claims.iat !== 'number' ||
      typeof claims.exp !== 'number' ||
      claims.exp <= now ||
      claims.iat > now + 60 ||
      claims.exp - claims.iat > 600
    )
      return undefined;
    return claims;
  }

  // ------------------------------------------------------------ the API host

  private async api(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = this.log('api', req);
    const prefix = this.opts.apiPrefix ?? '';
    if (!url.pathname.startsWith(`${prefix}/`)) return json(res, 404, NOT_FOUND);
    const p = url.pathname.slice(prefix.length);
    const method = req.method ?? 'GET';

    const tokenRoute = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(p);
    if (tokenRoute && method === 'POST') {
      const claims = this.verifyAppJwt(req);
      if (!claims)
        return json(res, 401, { message: 'A JSON web token could not be decoded', documentation_url: 'https://docs.github.com/rest' });
      if (Number(tokenRoute[1]) !== this.opts.app?.installationId) return json(res, 404, NOT_FOUND);
      this.appJwts.push(claims);
      const token = `ghs_${crypto.randomBytes(18).toString('hex')}`;
      const expires = new Date(Date.now() + 3600_000);
      this.tokens.set(token, expires.getTime());
      this.installationTokens.push(token);
      return json(res, 201, { token, expires_at: ISO(expires), permissions: { contents: 'write' }, repository_selection: 'selected' });
    }

    if (!this.authorized(req)) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    if (this.limited(res)) return;
    const h = this.rateHeaders();

    const repoBase = `/repos/${this.owner}/${this.repo}`;
    // browser_download_url (on github.com for real; here on the API origin)
    const dl = new RegExp(`^/${this.owner}/${this.repo}/releases/download/([^/]+)/([^/]+)$`).exec(p);
    if (dl && method === 'GET') {
      const r = this.releases.find((x) => !x.draft && x.tag === decodeURIComponent(dl[1]));
      const a = r?.assets.find((x) => x.name === decodeURIComponent(dl[2]) && x.state === 'uploaded');
      if (!a) return json(res, 404, NOT_FOUND);
      res.writeHead(302, { location: this.signedUrl(a) });
      return void res.end();
    }
    if (!p.startsWith(repoBase)) return json(res, 404, NOT_FOUND, h);
    const rest = p.slice(repoBase.length);
    let m: RegExpExecArray | null;

    if (rest === '' && method === 'GET') {
      return json(
        res,
        200,
        {
          id: 1,
          name: this.repo,
          full_name: `${this.owner}/${this.repo}`,
          created_at: '2020-01-01T00:00:00Z',
          default_branch: this.git.defaultBranch,
        },
        h,
      );
    }
    if (rest === '/releases' && method === 'GET') {
      const list = [...this.releases].reverse().map((r) => this.releaseJson(r));
      return this.page(res, url, list, `${this.apiUrl}${repoBase}/releases`, h);
    }
    if (rest === '/releases' && method === 'POST') {
      const body = await this.body(req, 1 << 20);
      let input: { tag_name?: string; name?: string; draft?: boolean };
      try {
        input = JSON.parse(body?.toString('utf8') ?? '') as typeof input;
      } catch {
        return json(res, 400, { message: 'Problems parsing JSON' }, h);
      }
      if (!input.tag_name)
        return json(
          res,
          422,
          { message: 'Validation Failed', errors: [{ resource: 'Release', code: 'missing_field', field: 'tag_name' }] },
          h,
        );
      if (this.releases.some((r) => r.tag === input.tag_name && !r.draft)) {
        return json(
          res,
          422,
          { message: 'Validation Failed', errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }] },
          h,
        );
      }
      const r = this.addRelease(input.tag_name, {}, { draft: input.draft });
      r.name = input.name ?? input.tag_name;
      return json(res, 201, this.releaseJson(r), h);
    }
    if ((m = /^\/releases\/tags\/(.+)$/.exec(rest)) && method === 'GET') {
      const tag = decodeURIComponent(m[1]);
      const r = this.releases.find((x) => x.tag === tag && !x.draft);
      return r ? json(res, 200, this.releaseJson(r), h) : json(res, 404, NOT_FOUND, h);
    }
    if ((m = /^\/releases\/(\d+)$/.exec(rest))) {
      const r = this.releases.find((x) => x.id === Number(m![1]));
      if (!r) return json(res, 404, NOT_FOUND, h);
      if (method === 'GET') return json(res, 200, this.releaseJson(r), h);
      if (method === 'DELETE') {
        this.releases.splice(this.releases.indexOf(r), 1);
        return json(res, 204, undefined, h);
      }
    }
    if ((m = /^\/releases\/(\d+)\/assets$/.exec(rest)) && method === 'GET') {
      const r = this.releases.find((x) => x.id === Number(m![1]));
      if (!r) return json(res, 404, NOT_FOUND, h);
      return this.page(
        res,
        url,
        r.assets.map((a) => this.assetJson(a)),
        `${this.apiUrl}${repoBase}/releases/${r.id}/assets`,
        h,
      );
    }
    if ((m = /^\/releases\/assets\/(\d+)$/.exec(rest))) {
      const a = this.findAsset(Number(m[1]));
      if (!a) return json(res, 404, NOT_FOUND, h);
      if (method === 'GET') {
        if ((req.headers.accept ?? '').includes('application/octet-stream')) {
          res.writeHead(302, { location: this.signedUrl(a), ...h });
          return void res.end();
        }
        return json(res, 200, this.assetJson(a), h);
      }
      if (method === 'PATCH') {
        const body = await this.body(req, 1 << 20);
        let input: { name?: string; label?: string };
        try {
          input = JSON.parse(body?.toString('utf8') ?? '') as typeof input;
        } catch {
          return json(res, 400, { message: 'Problems parsing JSON' }, h);
        }
        if (input.name !== undefined) {
          const name = githubAssetName(input.name);
          const r = this.releases.find((x) => x.id === a.releaseId)!;
          if (r.assets.some((x) => x !== a && x.name.toLowerCase() === name.toLowerCase())) {
            return json(
              res,
              422,
              { message: 'Validation Failed', errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }] },
              h,
            );
          }
          a.name = name;
        }
        if (input.label !== undefined) a.label = input.label;
        a.updatedAt = new Date();
        return json(res, 200, this.assetJson(a), h);
      }
      if (method === 'DELETE') {
        const r = this.releases.find((x) => x.id === a.releaseId)!;
        r.assets.splice(r.assets.indexOf(a), 1);
        return json(res, 204, undefined, h);
      }
    }
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (!Buffer.isBuffer(body)) return json(res, status, body, { ...h, ...headers });
      res.writeHead(status, { 'content-type': 'application/vnd.github.raw', 'content-length': String(body.length), ...h, ...headers });
      res.end(body);
    };
    if (await this.git.route(method, rest, url, req, () => this.body(req, 256 * 1024 * 1024), answer)) return;
    return json(res, 404, NOT_FOUND, h);
  }

  // ------------------------------------------------------------ the uploads host

  private async uploads(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = this.log('uploads', req);
    const m = new RegExp(`^/repos/${this.owner}/${this.repo}/releases/(\\d+)/assets$`).exec(url.pathname);
    if (!m || req.method !== 'POST') return json(res, 404, NOT_FOUND);
    if (!this.authorized(req)) return json(res, 401, { message: 'Bad credentials' });
    if (this.limited(res)) return;
    const h = this.rateHeaders();
    const r = this.releases.find((x) => x.id === Number(m[1]));
    if (!r) return json(res, 404, NOT_FOUND, h);
    const name = url.searchParams.get('name');
    if (!name)
      return json(
        res,
        422,
        { message: 'Validation Failed', errors: [{ resource: 'ReleaseAsset', code: 'missing_field', field: 'name' }] },
        h,
      );
    if (req.headers['content-length'] === undefined) return json(res, 411, { message: 'Length Required' }, h);
    const body = await this.body(req, this.opts.maxAssetBytes ?? 64 * 1024 * 1024);
    if (body === undefined) {
      if (!res.destroyed) json(res, 400, { message: 'Bad Content-Length' }, h);
      return;
    }
    if (body.length !== Number(req.headers['content-length'])) return json(res, 400, { message: 'Bad Content-Length' }, h);
    if (body.length === 0) {
      return json(
        res,
        422,
        {
          message: 'Validation Failed',
          errors: [{ resource: 'ReleaseAsset', code: 'custom', field: 'size', message: 'size must be greater than or equal to 1' }],
        },
        h,
      );
    }
    if (r.assets.length >= MAX_ASSETS) {
      return json(
        res,
        422,
        {
          message: 'Validation Failed',
          errors: [{ resource: 'ReleaseAsset', code: 'custom', field: 'base', message: `a release holds at most ${MAX_ASSETS} assets` }],
        },
        h,
      );
    }
    const stored = githubAssetName(name);
    if (r.assets.some((x) => x.name.toLowerCase() === stored.toLowerCase())) {
      return json(
        res,
        422,
        { message: 'Validation Failed', errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }] },
        h,
      );
    }
    const a = this.newAsset(r, stored, body, req.headers['content-type'] ?? 'application/octet-stream', url.searchParams.get('label'));
    r.assets.push(a);
    return json(res, 201, this.assetJson(a), h);
  }

  // ------------------------------------------------------------ the download host

  private signedUrl(a: AssetRecord): string {
    const exp = Date.now() + 300_000;
    const sig = crypto.createHmac('sha256', this.signingKey).update(`${a.id}:${exp}`).digest('hex');
    return `${this.downloadUrl}/dl/${a.id}?exp=${exp}&sig=${sig}`;
  }

  private download(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = this.log('download', req);
    const m = /^\/dl\/(\d+)$/.exec(url.pathname);
    if (!m || req.method !== 'GET') return json(res, 404, NOT_FOUND);
    if (req.headers.authorization !== undefined) return json(res, 400, { message: 'Only one auth mechanism allowed' });
    const exp = Number(url.searchParams.get('exp'));
    const want = crypto.createHmac('sha256', this.signingKey).update(`${m[1]}:${exp}`).digest('hex');
    if (url.searchParams.get('sig') !== want || !(exp > Date.now()))
      return json(res, 403, { message: 'Request has expired or is not signed' });
    const a = this.findAsset(Number(m[1]));
    if (!a) return json(res, 404, NOT_FOUND);
    const size = a.data.length;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (req.headers.range !== undefined && range) {
      let start: number;
      let end: number;
      if (range[1] === '') {
        start = Math.max(0, size - Number(range[2]));
        end = size - 1;
      } else {
        start = Number(range[1]);
        end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
      }
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        return void res.end();
      }
      res.writeHead(206, {
        'content-type': a.contentType,
        'content-length': String(end - start + 1),
        'content-range': `bytes ${start}-${end}/${size}`,
        'accept-ranges': 'bytes',
      });
      return void res.end(a.data.subarray(start, end + 1));
    }
    res.writeHead(200, { 'content-type': a.contentType, 'content-length': String(size), 'accept-ranges': 'bytes' });
    res.end(a.data);
  }
}

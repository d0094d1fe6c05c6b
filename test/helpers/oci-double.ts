/**
 * An in-memory double of the OCI Object Storage REST API (version 20160918; node:http on
 * 127.0.0.1, a free port), written from OCI's API reference, for the adapter's tests: no OCI
 * emulator can be installed here (../../../shared/notes/backend-emulators.md, section 4).
 *
 * Every request must carry a valid OCI request signature (draft-cavage-http-signatures-08, as
 * "Request Signatures" in OCI's documentation describes it): `Authorization: Signature
 * version="1",keyId=...,algorithm="rsa-sha256",headers=...,signature=...`, verified with the
 * public key registered for the keyId (`<tenancy>/<user>/<fingerprint>`, or `ST$<token>` for
 * session tokens). The signed headers must include date or x-date (within 5 minutes),
 * (request-target) and host; a POST or PUT with a JSON body must also sign content-length,
 * content-type and x-content-sha256 (the body's SHA-256, checked); PutObject and UploadPart
 * ("Special Instructions for Object Storage PUT") need only the first three. Anything else is
 * 401 NotAuthenticated.
 *
 * What it serves: GetNamespace, buckets (list, create with storageTier, get, head, delete),
 * objects (put with if-match / if-none-match, get with Range and if-match, head, delete, list
 * with prefix/start/end/startAfter/limit/delimiter/fields in UTF-8 byte order), CopyObject as
 * an asynchronous work request (GET /workRequests/{id}, /errors), multipart uploads
 * (create, upload part, list parts, commit with partsToCommit and if-match / if-none-match,
 * abort, list uploads), and the storage tiers: UpdateObjectStorageTier (POST
 * .../actions/updateObjectStorageTier {objectName, storageTier}: Standard <-> InfrequentAccess,
 * either -> Archive, never out of Archive; 200) and RestoreObjects (POST .../actions/restoreObjects
 * {objectName, hours 1..240, default 24}; 202 for an archived object, 200 when it is restored
 * already; the object answers HEAD with `archival-state: Archived | Restoring | Restored` and,
 * once restored, `time-of-archival`, and GET only once restored). Errors are JSON { code,
 * message } with OCI's codes.
 *
 * double: choices the reference leaves open.
 * - A copy keeps the source's MD5 (or multipart MD5); it takes `copySteps` polls to complete.
 * - A request body that ends before Content-Length stores nothing (the old object or part stays).
 * - Pages: opc-next-page is the index of the next item.
 * - A tier change keeps the object's ETag and Last-Modified; a restore takes `restoreSteps`
 *   reads (HEAD or GET) of the object to complete; restoring an object being restored is 409
 *   RestoreInProgress; restoring one that is not archived is 400 InvalidParameter.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OciDoubleOptions {
  namespace?: string;
  /** Largest request body accepted; default 64 MiB. */
  maxObjectBytes?: number;
  /** Polls a copy work request stays IN_PROGRESS (default 2). */
  copySteps?: number;
  /** Reads of an object that see its restore in progress before it is restored (default 1). */
  restoreSteps?: number;
}

export interface LoggedRequest {
  method: string;
  /** The raw (percent-encoded) path. */
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** The signed header list, as the Authorization header named it. */
  signedHeaders: string[];
}

export interface FailRule {
  status: number;
  code: string;
  method?: string;
  path?: RegExp;
  times: number;
  headers?: Record<string, string>;
}

interface StoredObject {
  data: Buffer;
  etag: string;
  md5?: string;
  multipartMd5?: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  storageTier: string;
  timeCreated: Date;
  timeModified: Date;
  /** An Archive object's restore: reads left before it completes, and until when it stays readable. */
  restore?: { steps: number; hours: number; until?: Date };
}

interface Part {
  data: Buffer;
  md5: string;
  etag: string;
}

interface Upload {
  object: string;
  uploadId: string;
  timeCreated: Date;
  storageTier: string;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  parts: Map<number, Part>;
}

interface Bucket {
  name: string;
  compartmentId: string;
  storageTier: string;
  timeCreated: Date;
  etag: string;
  objects: Map<string, StoredObject>;
  uploads: Map<string, Upload>;
}

interface WorkRequest {
  id: string;
  status: 'ACCEPTED' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  polls: number;
  run: () => void;
  errors: { code: string; message: string; timestamp: string }[];
}

const CONTENT_HEADERS = ['content-type', 'content-language', 'content-encoding', 'content-disposition', 'cache-control'];
const TIERS = new Set(['Standard', 'InfrequentAccess', 'Archive']);

class OciError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message?: string,
  ) {
    super(message ?? code);
  }
}

/** UTF-8 byte order (S3's), not JavaScript's UTF-16 order. */
function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const md5b64 = (d: Buffer) => crypto.createHash('md5').update(d).digest('base64');

export class OciDouble {
  readonly namespace: string;
  readonly requests: LoggedRequest[] = [];
  readonly buckets = new Map<string, Bucket>();
  /** keyId → public key. */
  private readonly keys = new Map<string, crypto.KeyObject>();
  private readonly work = new Map<string, WorkRequest>();
  private readonly faults: FailRule[] = [];
  private server!: http.Server;
  endpoint = '';

  constructor(private readonly opts: OciDoubleOptions = {}) {
    this.namespace = opts.namespace ?? 'testns';
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = err instanceof OciError ? err : new OciError(500, 'InternalServerError', String((err as Error)?.message ?? err));
        if (!res.headersSent) {
          res.writeHead(e.status, { 'content-type': 'application/json', 'opc-request-id': crypto.randomUUID() });
          res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ code: e.code, message: e.message }));
        } else res.destroy();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Accepts signatures by `keyId` verified with this public key (PEM or KeyObject). */
  addKey(keyId: string, publicKey: string | crypto.KeyObject): void {
    this.keys.set(keyId, typeof publicKey === 'string' ? crypto.createPublicKey(publicKey) : publicKey);
  }

  /** The next `times` requests matching answer `status` with OCI error `code`. */
  fail(rule: Partial<FailRule> & { status: number; code: string }): void {
    this.faults.push({ times: 1, ...rule });
  }

  peek(bucket: string, name: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.objects.get(name);
  }

  /** The names of the objects in `bucket`, s3mux's own included. */
  names(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.objects.keys() ?? [])];
  }

  // ---------------------------------------------------------------- plumbing

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    const logged: LoggedRequest = { method, path: url.pathname, query, headers: req.headers, signedHeaders: [] };
    this.requests.push(logged);
    const body = await this.readBody(req);
    this.verifySignature(req, body, logged);
    const fault = this.faults.find((f) => f.times > 0 && (!f.method || f.method === method) && (!f.path || f.path.test(url.pathname)));
    if (fault) {
      fault.times--;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.headers ?? {}) });
      res.end(JSON.stringify({ code: fault.code, message: 'injected by the test' }));
      return;
    }
    if (body === undefined) return; // the client went away: nothing happens
    const seg = url.pathname
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s));
    const ctx = { req, res, method, query, body, seg };
    if (seg[0] === 'workRequests') return this.workRequest(ctx);
    if (seg[0] !== 'n') throw new OciError(404, 'NotFound');
    if (seg.length === 1) return this.json(res, 200, this.namespace);
    if (seg[1] !== this.namespace) throw new OciError(404, 'NamespaceNotFound', `Namespace ${seg[1]} not found`);
    if (seg.length === 3 && seg[2] === 'b') return this.bucketsRoute(ctx);
    if (seg[2] !== 'b' || seg.length < 4) throw new OciError(404, 'NotFound');
    const bucket = seg[3];
    if (seg.length === 4) return this.bucketRoute(ctx, bucket);
    const b = this.bucket(bucket);
    if (seg[4] === 'o' && seg.length === 5) return this.listObjects(ctx, b);
    if (seg[4] === 'o') return this.objectRoute(ctx, b, seg.slice(5).join('/'));
    if (seg[4] === 'actions' && seg[5] === 'copyObject' && method === 'POST') return this.copyObject(ctx, b);
    if (seg[4] === 'actions' && seg[5] === 'updateObjectStorageTier' && method === 'POST') return this.updateTier(ctx, b);
    if (seg[4] === 'actions' && seg[5] === 'restoreObjects' && method === 'POST') return this.restoreObjects(ctx, b);
    if (seg[4] === 'u' && seg.length === 5) return this.uploadsRoute(ctx, b);
    if (seg[4] === 'u') return this.uploadRoute(ctx, b, seg.slice(5).join('/'));
    throw new OciError(404, 'NotFound');
  }

  /** The whole body, or undefined when the client went away before Content-Length bytes. */
  private readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
    const max = this.opts.maxObjectBytes ?? 64 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) {
          reject(new OciError(413, 'RequestEntityTooLarge'));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('aborted', () => resolve(undefined));
      req.on('error', () => resolve(undefined));
    });
  }

  private verifySignature(req: http.IncomingMessage, body: Buffer | undefined, logged: LoggedRequest): void {
    const auth = req.headers.authorization ?? '';
    const m = /^Signature (.*)$/.exec(auth);
    if (!m) throw new OciError(401, 'NotAuthenticated', 'The required information to complete authentication was not provided.');
    const params: Record<string, string> = {};
    for (const p of m[1].matchAll(/(\w+)="([^"]*)"/g)) params[p[1]] = p[2];
    if (params.version !== '1' || params.algorithm !== 'rsa-sha256')
      throw new OciError(401, 'NotAuthenticated', 'Unsupported signature version or algorithm.');
    const key = this.keys.get(params.keyId ?? '');
    if (!key) throw new OciError(401, 'NotAuthenticated', `Unknown keyId ${params.keyId}`);
    const signed = (params.headers ?? '').split(' ').map((h) => h.toLowerCase());
    logged.signedHeaders = signed;
    const method = (req.method ?? 'GET').toUpperCase();
    const required = ['(request-target)', 'host'];
    if (!signed.includes('date') && !signed.includes('x-date'))
      throw new OciError(401, 'NotAuthenticated', 'date or x-date must be signed');
    const objectBody = method === 'PUT' && /\/(o|u)\/[^/]+$/.test(new URL(req.url ?? '/', 'http://x').pathname);
    if ((method === 'POST' || method === 'PUT') && !objectBody) required.push('content-length', 'content-type', 'x-content-sha256');
    for (const h of required) if (!signed.includes(h)) throw new OciError(401, 'NotAuthenticated', `${h} must be signed`);
    const date = new Date(String(req.headers['x-date'] ?? req.headers.date ?? ''));
    if (!(Math.abs(Date.now() - date.getTime()) < 5 * 60_000))
      throw new OciError(401, 'NotAuthenticated', 'The request date is too far from the server time.');
    if (signed.includes('x-content-sha256') && body !== undefined) {
      const sha = crypto.createHash('sha256').update(body).digest('base64');
      if (sha !== req.headers['x-content-sha256']) throw new OciError(401, 'NotAuthenticated', 'x-content-sha256 does not match the body.');
    }
    const lines = signed.map((h) => {
      if (h === '(request-target)') return `(request-target): ${method.toLowerCase()} ${req.url}`;
      const v = req.headers[h];
      if (v === undefined) throw new OciError(401, 'NotAuthenticated', `signed header ${h} is missing`);
      return `${h}: ${Array.isArray(v) ? v.join(', ') : v}`;
    });
    const ok = crypto.verify('sha256', Buffer.from(lines.join('\n')), key, Buffer.from(params.signature ?? '', 'base64'));
    if (!ok) throw new OciError(401, 'NotAuthenticated', 'The signature does not verify.');
  }

  private json(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(value);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      'opc-request-id': crypto.randomUUID(),
      ...headers,
    });
    res.end(text);
  }

  private empty(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'opc-request-id': crypto.randomUUID(), ...headers });
    res.end();
  }

  private parse<T>(body: Buffer): T {
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new OciError(400, 'InvalidParameter', 'The request body is not JSON.');
    }
  }

  private bucket(name: string): Bucket {
    const b = this.buckets.get(name);
    if (!b)
      throw new OciError(
        404,
        'BucketNotFound',
        `Either the bucket named '${name}' does not exist in the namespace '${this.namespace}' or you are not authorized to access it`,
      );
    return b;
  }

  private page<T>(items: T[], query: Record<string, string>): { items: T[]; next?: string } {
    const start = Number(query.page ?? 0);
    const limit = Math.min(Number(query.limit ?? 1000), 1000);
    const out = items.slice(start, start + limit);
    return { items: out, next: start + limit < items.length ? String(start + limit) : undefined };
  }

  // ---------------------------------------------------------------- buckets

  private bucketsRoute(ctx: Ctx): void {
    if (ctx.method === 'GET') {
      if (!ctx.query.compartmentId) throw new OciError(400, 'MissingParameter', 'compartmentId is required');
      const all = [...this.buckets.values()]
        .filter((b) => b.compartmentId === ctx.query.compartmentId)
        .sort((x, y) => utf8Compare(x.name, y.name));
      const p = this.page(all, ctx.query);
      return this.json(
        ctx.res,
        200,
        p.items.map((b) => this.bucketJson(b)),
        p.next ? { 'opc-next-page': p.next } : {},
      );
    }
    if (ctx.method === 'POST') {
      const d = this.parse<{ name?: string; compartmentId?: string; storageTier?: string }>(ctx.body);
      if (!d.name || !d.compartmentId) throw new OciError(400, 'MissingParameter', 'name and compartmentId are required');
      if (!/^[A-Za-z0-9._-]{1,256}$/.test(d.name)) throw new OciError(400, 'InvalidBucketName');
      if (d.storageTier !== undefined && d.storageTier !== 'Standard' && d.storageTier !== 'Archive')
        throw new OciError(400, 'InvalidParameter', 'storageTier');
      if (this.buckets.has(d.name))
        throw new OciError(
          409,
          'BucketAlreadyExists',
          `Either the bucket '${d.name}' in namespace '${this.namespace}' already exists or you are not authorized to create it`,
        );
      const b: Bucket = {
        name: d.name,
        compartmentId: d.compartmentId,
        storageTier: d.storageTier ?? 'Standard',
        timeCreated: new Date(),
        etag: crypto.randomUUID(),
        objects: new Map(),
        uploads: new Map(),
      };
      this.buckets.set(b.name, b);
      return this.json(ctx.res, 200, this.bucketJson(b), { etag: b.etag, location: `/n/${this.namespace}/b/${b.name}` });
    }
    throw new OciError(405, 'MethodNotAllowed');
  }

  private bucketJson(b: Bucket) {
    return {
      namespace: this.namespace,
      name: b.name,
      compartmentId: b.compartmentId,
      timeCreated: b.timeCreated.toISOString(),
      etag: b.etag,
      storageTier: b.storageTier,
    };
  }

  private bucketRoute(ctx: Ctx, name: string): void {
    const b = this.bucket(name);
    if (ctx.method === 'GET') return this.json(ctx.res, 200, this.bucketJson(b), { etag: b.etag });
    if (ctx.method === 'HEAD') return this.empty(ctx.res, 200, { etag: b.etag });
    if (ctx.method === 'DELETE') {
      if (b.objects.size > 0) throw new OciError(409, 'BucketNotEmpty', `Bucket named '${name}' is not empty. Delete all objects first.`);
      if (b.uploads.size > 0)
        throw new OciError(
          409,
          'BucketNotEmpty',
          `Bucket named '${name}' has pending multipart uploads. Stop all multipart uploads first.`,
        );
      this.buckets.delete(name);
      return this.empty(ctx.res, 204);
    }
    throw new OciError(405, 'MethodNotAllowed');
  }

  // ---------------------------------------------------------------- objects

  private listObjects(ctx: Ctx, b: Bucket): void {
    if (ctx.method !== 'GET') throw new OciError(405, 'MethodNotAllowed');
    const q = ctx.query;
    const prefix = q.prefix ?? '';
    const limit = Math.min(Math.max(Number(q.limit ?? 1000), 1), 1000);
    if (q.delimiter !== undefined && q.delimiter !== '/') throw new OciError(400, 'InvalidParameter', "Only '/' is a supported delimiter");
    const fields = new Set((q.fields ?? 'name').toLowerCase().split(','));
    const names = [...b.objects.keys()]
      .filter((n) => n.startsWith(prefix))
      .filter((n) => q.start === undefined || utf8Compare(n, q.start) >= 0)
      .filter((n) => q.startAfter === undefined || utf8Compare(n, q.startAfter) > 0)
      .filter((n) => q.end === undefined || utf8Compare(n, q.end) < 0)
      .sort(utf8Compare);
    const objects: Record<string, unknown>[] = [];
    const prefixes = new Set<string>();
    let next: string | undefined;
    for (const n of names) {
      if (objects.length + prefixes.size >= limit) {
        next = n;
        break;
      }
      if (q.delimiter) {
        const i = n.indexOf('/', prefix.length);
        if (i >= 0) {
          prefixes.add(n.slice(0, i + 1));
          continue;
        }
      }
      const o = b.objects.get(n)!;
      const s: Record<string, unknown> = { name: n };
      if (fields.has('size')) s.size = o.data.length;
      if (fields.has('etag')) s.etag = o.etag;
      if (fields.has('md5')) s.md5 = o.multipartMd5 ?? o.md5;
      if (fields.has('timecreated')) s.timeCreated = o.timeCreated.toISOString();
      if (fields.has('timemodified')) s.timeModified = o.timeModified.toISOString();
      if (fields.has('storagetier')) s.storageTier = o.storageTier;
      objects.push(s);
    }
    return this.json(ctx.res, 200, {
      objects,
      ...(q.delimiter ? { prefixes: [...prefixes] } : {}),
      ...(next !== undefined ? { nextStartWith: next } : {}),
    });
  }

  /** An Archive object's state as HEAD and GET report it; a read moves a restore on by one step. */
  private archivalState(o: StoredObject): 'Archived' | 'Restoring' | 'Restored' | undefined {
    if (o.storageTier !== 'Archive') return undefined;
    const r = o.restore;
    if (!r) return 'Archived';
    if (r.steps > 0) {
      r.steps--;
      return 'Restoring';
    }
    r.until ??= new Date(Date.now() + r.hours * 3600_000);
    if (r.until && r.until.getTime() <= Date.now()) {
      o.restore = undefined;
      return 'Archived';
    }
    return 'Restored';
  }

  private objectHeaders(o: StoredObject): Record<string, string> {
    const state = this.archivalState(o);
    const h: Record<string, string> = {
      etag: o.etag,
      'last-modified': o.timeModified.toUTCString(),
      'accept-ranges': 'bytes',
      'storage-tier': o.storageTier,
      ...(state ? { 'archival-state': state } : {}),
      ...(state === 'Restored' && o.restore?.until ? { 'time-of-archival': o.restore.until.toUTCString() } : {}),
      ...o.headers,
    };
    if (o.multipartMd5) h['opc-multipart-md5'] = o.multipartMd5;
    else if (o.md5) h['content-md5'] = o.md5;
    for (const [k, v] of Object.entries(o.metadata)) h[`opc-meta-${k}`] = v;
    return h;
  }

  /** The if-match / if-none-match of a write, on the current object. */
  private checkWrite(ctx: Ctx, cur: StoredObject | undefined): void {
    const im = ctx.req.headers['if-match'];
    const inm = ctx.req.headers['if-none-match'];
    if (typeof im === 'string' && (!cur || cur.etag !== im))
      throw new OciError(412, 'IfMatchFailed', 'The If-Match header does not match the current ETag.');
    if (typeof inm === 'string') {
      if (inm !== '*') throw new OciError(400, 'InvalidHeader', "The only valid If-None-Match value is '*'.");
      if (cur) throw new OciError(412, 'IfNoneMatchFailed', 'The object exists.');
    }
  }

  private metaFromHeaders(h: http.IncomingHttpHeaders): { headers: Record<string, string>; metadata: Record<string, string> } {
    const headers: Record<string, string> = {};
    const metadata: Record<string, string> = {};
    for (const n of CONTENT_HEADERS) if (typeof h[n] === 'string') headers[n] = h[n];
    for (const [k, v] of Object.entries(h))
      if (k.startsWith('opc-meta-') && typeof v === 'string') metadata[k.slice('opc-meta-'.length)] = v;
    return { headers, metadata };
  }

  private objectRoute(ctx: Ctx, b: Bucket, name: string): void {
    const cur = b.objects.get(name);
    if (ctx.method === 'PUT') {
      if (ctx.req.headers['content-length'] === undefined) throw new OciError(411, 'LengthRequired');
      if (/[\r\n\0]/.test(name) || name === '' || Buffer.byteLength(name) > 1024)
        throw new OciError(400, 'InvalidParameter', 'Invalid object name');
      this.checkWrite(ctx, cur);
      const md5 = md5b64(ctx.body);
      const given = ctx.req.headers['content-md5'];
      if (typeof given === 'string' && given !== md5)
        throw new OciError(
          400,
          'UnmatchedContentMd5',
          `The computed MD5 of the request body (${md5}) does not match the Content-MD5 header (${given})`,
        );
      const tier = (ctx.req.headers['storage-tier'] as string | undefined) ?? (b.storageTier === 'Archive' ? 'Archive' : 'Standard');
      if (!TIERS.has(tier)) throw new OciError(400, 'InvalidParameter', 'storage-tier');
      const now = new Date();
      const o: StoredObject = {
        data: ctx.body,
        etag: crypto.randomUUID(),
        md5,
        ...this.metaFromHeaders(ctx.req.headers),
        storageTier: tier,
        timeCreated: now,
        timeModified: now,
      };
      b.objects.set(name, o);
      return this.empty(ctx.res, 200, { etag: o.etag, 'opc-content-md5': md5, 'last-modified': now.toUTCString() });
    }
    if (ctx.method === 'DELETE') {
      if (!cur) throw new OciError(404, 'ObjectNotFound', `The object '${name}' was not found in the bucket '${b.name}'`);
      // DeleteObject's if-match: only that version is deleted.
      const dim = ctx.req.headers['if-match'];
      if (typeof dim === 'string' && dim !== cur.etag)
        throw new OciError(412, 'IfMatchFailed', 'The If-Match header does not match the current ETag.');
      b.objects.delete(name);
      return this.empty(ctx.res, 204);
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new OciError(405, 'MethodNotAllowed');
    if (!cur) throw new OciError(404, 'ObjectNotFound', `The object '${name}' was not found in the bucket '${b.name}'`);
    const im = ctx.req.headers['if-match'];
    if (typeof im === 'string' && im !== cur.etag)
      throw new OciError(412, 'IfMatchFailed', 'The If-Match header does not match the current ETag.');
    const headers = this.objectHeaders(cur);
    if (ctx.method === 'HEAD') return this.empty(ctx.res, 200, { ...headers, 'content-length': String(cur.data.length) });
    if (headers['archival-state'] !== undefined && headers['archival-state'] !== 'Restored')
      throw new OciError(409, 'NotRestored', 'The object is archived; restore it first.');
    const range = ctx.req.headers.range;
    if (typeof range === 'string') {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (!m) throw new OciError(400, 'InvalidRange');
      const size = cur.data.length;
      let start = m[1] === '' ? size - Number(m[2]) : Number(m[1]);
      const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (start < 0) start = 0;
      if (start >= size || start > end) throw new OciError(416, 'InvalidRange', 'The requested range is not satisfiable.');
      const part = cur.data.subarray(start, end + 1);
      ctx.res.writeHead(206, { ...headers, 'content-length': String(part.length), 'content-range': `bytes ${start}-${end}/${size}` });
      ctx.res.end(part);
      return;
    }
    ctx.res.writeHead(200, { ...headers, 'content-length': String(cur.data.length) });
    ctx.res.end(cur.data);
  }

  // ---------------------------------------------------------------- copy (asynchronous)

  private copyObject(ctx: Ctx, b: Bucket): void {
    const d = this.parse<{
      sourceObjectName?: string;
      sourceObjectIfMatchETag?: string;
      destinationRegion?: string;
      destinationNamespace?: string;
      destinationBucket?: string;
      destinationObjectName?: string;
      destinationObjectIfMatchETag?: string;
      destinationObjectIfNoneMatchETag?: string;
      destinationObjectMetadata?: Record<string, string>;
      destinationObjectStorageTier?: string;
    }>(ctx.body);
    if (!d.sourceObjectName || !d.destinationRegion || !d.destinationNamespace || !d.destinationBucket || !d.destinationObjectName) {
      throw new OciError(
        400,
        'MissingParameter',
        'sourceObjectName, destinationRegion, destinationNamespace, destinationBucket and destinationObjectName are required',
      );
    }
    if (!b.objects.has(d.sourceObjectName)) throw new OciError(404, 'ObjectNotFound', `The object '${d.sourceObjectName}' was not found`);
    for (const k of Object.keys(d.destinationObjectMetadata ?? {}))
      if (!k.startsWith('opc-meta-')) throw new OciError(400, 'InvalidParameter', 'metadata keys must start with opc-meta-');
    const id = `ocid1.objectstorageworkrequest.oc1..${crypto.randomBytes(12).toString('hex')}`;
    const wr: WorkRequest = {
      id,
      status: 'ACCEPTED',
      polls: 0,
      errors: [],
      run: () => {
        const fail = (code: string, message: string) => {
          wr.status = 'FAILED';
          wr.errors.push({ code, message, timestamp: new Date().toISOString() });
        };
        const src = b.objects.get(d.sourceObjectName!);
        if (!src) return fail('ObjectNotFound', 'The source object no longer exists.');
        if (d.sourceObjectIfMatchETag && src.etag !== d.sourceObjectIfMatchETag) return fail('IfMatchFailed', 'The source object changed.');
        const db = this.buckets.get(d.destinationBucket!);
        if (!db || d.destinationNamespace !== this.namespace) return fail('BucketNotFound', 'The destination bucket does not exist.');
        const cur = db.objects.get(d.destinationObjectName!);
        if (d.destinationObjectIfMatchETag && cur?.etag !== d.destinationObjectIfMatchETag)
          return fail('IfMatchFailed', 'The destination object changed.');
        if (d.destinationObjectIfNoneMatchETag === '*' && cur) return fail('IfNoneMatchFailed', 'The destination object exists.');
        const md =
          d.destinationObjectMetadata && Object.keys(d.destinationObjectMetadata).length > 0
            ? Object.fromEntries(Object.entries(d.destinationObjectMetadata).map(([k, v]) => [k.slice('opc-meta-'.length), v]))
            : { ...src.metadata };
        const now = new Date();
        db.objects.set(d.destinationObjectName!, {
          ...src,
          headers: { ...src.headers },
          metadata: md,
          etag: crypto.randomUUID(),
          timeCreated: now,
          timeModified: now,
          storageTier: d.destinationObjectStorageTier ?? src.storageTier,
          restore: undefined,
        });
        wr.status = 'COMPLETED';
      },
    };
    this.work.set(id, wr);
    return this.empty(ctx.res, 202, { 'opc-work-request-id': id });
  }

  /** UpdateObjectStorageTier: the tier changes in place (bytes, ETag and Last-Modified stay). */
  private updateTier(ctx: Ctx, b: Bucket): void {
    const d = this.parse<{ objectName?: string; storageTier?: string; versionId?: string }>(ctx.body);
    if (!d.objectName) throw new OciError(400, 'InvalidParameter', 'objectName is required');
    if (!d.storageTier || !TIERS.has(d.storageTier)) throw new OciError(400, 'InvalidParameter', 'storageTier');
    const o = b.objects.get(d.objectName);
    if (!o) throw new OciError(404, 'ObjectNotFound', `The object '${d.objectName}' was not found in the bucket '${b.name}'`);
    if (o.storageTier === 'Archive' && d.storageTier !== 'Archive')
      throw new OciError(400, 'InvalidParameter', 'An object in the Archive tier cannot be moved to another tier; restore and copy it.');
    if (o.storageTier !== d.storageTier) {
      o.storageTier = d.storageTier;
      o.restore = undefined;
    }
    return this.empty(ctx.res, 200);
  }

  /** RestoreObjects: an archived object becomes readable for `hours` once its restore completes. */
  private restoreObjects(ctx: Ctx, b: Bucket): void {
    const d = this.parse<{ objectName?: string; hours?: number; versionId?: string }>(ctx.body);
    if (!d.objectName) throw new OciError(400, 'InvalidParameter', 'objectName is required');
    const hours = d.hours ?? 24;
    if (!Number.isInteger(hours) || hours < 1 || hours > 240) throw new OciError(400, 'InvalidParameter', 'hours must be 1 to 240');
    const o = b.objects.get(d.objectName);
    if (!o) throw new OciError(404, 'ObjectNotFound', `The object '${d.objectName}' was not found in the bucket '${b.name}'`);
    if (o.storageTier !== 'Archive') throw new OciError(400, 'InvalidParameter', 'The object is not in the Archive tier.');
    if (o.restore && o.restore.steps > 0) throw new OciError(409, 'RestoreInProgress', 'The object is being restored.');
    if (o.restore?.until && o.restore.until.getTime() > Date.now()) {
      o.restore.until = new Date(Date.now() + hours * 3600_000);
      return this.empty(ctx.res, 200);
    }
    o.restore = { steps: Math.max(1, this.opts.restoreSteps ?? 1), hours };
    return this.empty(ctx.res, 202);
  }

  private workRequest(ctx: Ctx): void {
    const wr = this.work.get(ctx.seg[1] ?? '');
    if (!wr || ctx.method !== 'GET') throw new OciError(404, 'NotFound', 'No such work request');
    if (ctx.seg[2] === 'errors') return this.json(ctx.res, 200, wr.errors);
    if (wr.status === 'ACCEPTED' || wr.status === 'IN_PROGRESS') {
      wr.polls++;
      if (wr.polls > (this.opts.copySteps ?? 2)) wr.run();
      else wr.status = 'IN_PROGRESS';
    }
    return this.json(ctx.res, 200, {
      id: wr.id,
      operationType: 'COPY_OBJECT',
      status: wr.status,
      percentComplete: wr.status === 'COMPLETED' ? 100 : 0,
      timeAccepted: new Date().toISOString(),
    });
  }

  // ---------------------------------------------------------------- multipart

  private uploadsRoute(ctx: Ctx, b: Bucket): void {
    if (ctx.method === 'GET') {
      const all = [...b.uploads.values()].sort((x, y) => utf8Compare(x.object, y.object));
      const p = this.page(all, ctx.query);
      return this.json(
        ctx.res,
        200,
        p.items.map((u) => this.uploadJson(b, u)),
        p.next ? { 'opc-next-page': p.next } : {},
      );
    }
    if (ctx.method !== 'POST') throw new OciError(405, 'MethodNotAllowed');
    const d = this.parse<{
      object?: string;
      contentType?: string;
      contentLanguage?: string;
      contentEncoding?: string;
      contentDisposition?: string;
      cacheControl?: string;
      storageTier?: string;
      metadata?: Record<string, string>;
    }>(ctx.body);
    if (!d.object) throw new OciError(400, 'MissingParameter', 'object is required');
    if (d.storageTier !== undefined && !TIERS.has(d.storageTier)) throw new OciError(400, 'InvalidParameter', 'storageTier');
    const headers: Record<string, string> = {};
    const fields: [string, string | undefined][] = [
      ['content-type', d.contentType],
      ['content-language', d.contentLanguage],
      ['content-encoding', d.contentEncoding],
      ['content-disposition', d.contentDisposition],
      ['cache-control', d.cacheControl],
    ];
    for (const [h, v] of fields) if (v !== undefined) headers[h] = v;
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata ?? {})) {
      if (!k.startsWith('opc-meta-')) throw new OciError(400, 'InvalidParameter', 'metadata keys must start with opc-meta-');
      metadata[k.slice('opc-meta-'.length)] = v;
    }
    const u: Upload = {
      object: d.object,
      uploadId: crypto.randomUUID(),
      timeCreated: new Date(),
      storageTier: d.storageTier ?? 'Standard',
      headers,
      metadata,
      parts: new Map(),
    };
    b.uploads.set(u.uploadId, u);
    return this.json(ctx.res, 200, this.uploadJson(b, u), {
      location: `/n/${this.namespace}/b/${b.name}/u/${encodeURIComponent(u.object)}?uploadId=${u.uploadId}`,
    });
  }

  private uploadJson(b: Bucket, u: Upload) {
    return {
      namespace: this.namespace,
      bucket: b.name,
      object: u.object,
      uploadId: u.uploadId,
      timeCreated: u.timeCreated.toISOString(),
      storageTier: u.storageTier,
    };
  }

  private uploadRoute(ctx: Ctx, b: Bucket, name: string): void {
    const u = b.uploads.get(ctx.query.uploadId ?? '');
    if (!u || u.object !== name)
      throw new OciError(404, 'NoSuchUpload', `The upload ID ${ctx.query.uploadId} is not found for the object ${name}`);
    if (ctx.method === 'PUT') {
      if (ctx.req.headers['content-length'] === undefined) throw new OciError(411, 'LengthRequired');
      const n = Number(ctx.query.uploadPartNum);
      if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new OciError(400, 'InvalidParameter', 'uploadPartNum must be 1..10000');
      const md5 = md5b64(ctx.body);
      const p: Part = { data: ctx.body, md5, etag: crypto.randomUUID() };
      u.parts.set(n, p);
      return this.empty(ctx.res, 200, { etag: p.etag, 'opc-content-md5': md5 });
    }
    if (ctx.method === 'GET') {
      const all = [...u.parts.entries()]
        .sort((x, y) => x[0] - y[0])
        .map(([partNumber, p]) => ({ partNumber, etag: p.etag, md5: p.md5, size: p.data.length }));
      const p = this.page(all, ctx.query);
      return this.json(ctx.res, 200, p.items, p.next ? { 'opc-next-page': p.next } : {});
    }
    if (ctx.method === 'DELETE') {
      b.uploads.delete(u.uploadId);
      return this.empty(ctx.res, 204);
    }
    if (ctx.method !== 'POST') throw new OciError(405, 'MethodNotAllowed');
    const d = this.parse<{ partsToCommit?: { partNum: number; etag: string }[]; partsToExclude?: number[] }>(ctx.body);
    const commit = d.partsToCommit ?? [];
    if (commit.length === 0) throw new OciError(400, 'InvalidParameter', 'partsToCommit is required');
    const chosen: Part[] = [];
    let last = 0;
    for (const c of commit) {
      const p = u.parts.get(c.partNum);
      if (!p || p.etag !== c.etag) throw new OciError(400, 'InvalidPart', `Part ${c.partNum} with that ETag was not uploaded`);
      if (c.partNum <= last) throw new OciError(400, 'InvalidParameter', 'partsToCommit must be in ascending order');
      last = c.partNum;
      chosen.push(p);
    }
    this.checkWrite(ctx, b.objects.get(name));
    const digest = crypto.createHash('md5');
    for (const p of chosen) digest.update(Buffer.from(p.md5, 'base64'));
    const multipartMd5 = `${digest.digest('base64')}-${chosen.length}`;
    const now = new Date();
    const o: StoredObject = {
      data: Buffer.concat(chosen.map((p) => p.data)),
      etag: crypto.randomUUID(),
      multipartMd5,
      headers: u.headers,
      metadata: u.metadata,
      storageTier: u.storageTier,
      timeCreated: now,
      timeModified: now,
    };
    b.objects.set(name, o);
    b.uploads.delete(u.uploadId);
    return this.empty(ctx.res, 200, { etag: o.etag, 'opc-multipart-md5': multipartMd5, 'last-modified': now.toUTCString() });
  }
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  method: string;
  query: Record<string, string>;
  body: Buffer;
  seg: string[];
}

/** A fresh RSA key pair and the keyId OCI would use for it (`tenancy/user/fingerprint`). */
export function testApiKey(
  tenancy = 'ocid1.tenancy.oc1..test',
  user = 'ocid1.user.oc1..test',
): { privateKeyPem: string; publicKeyPem: string; tenancy: string; user: string; fingerprint: string; keyId: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const fingerprint = crypto.createHash('md5').update(der).digest('hex').match(/../g)!.join(':');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKeyPem,
    tenancy,
    user,
    fingerprint,
    keyId: `${tenancy}/${user}/${fingerprint}`,
  };
}

/** A routing table's backend entry onto `double`, signing with `key` whose private half is in env `privateKeyEnv`. */
export function ociTableEntry(double: OciDouble, key: ReturnType<typeof testApiKey>, privateKeyEnv: string): Record<string, unknown> {
  return {
    type: 'oci',
    endpoint: double.endpoint,
    namespace: double.namespace,
    region: 'us-ashburn-1',
    credentials: { userPrincipal: { tenancy: key.tenancy, user: key.user, fingerprint: key.fingerprint, privateKeyEnv } },
  };
}

export async function startOciDouble(opts: OciDoubleOptions = {}): Promise<OciDouble> {
  return new OciDouble(opts).start();
}

/**
 * Signed S3 requests over Node's own http, without the SDK's per-request overhead (which
 * dominates for small objects). Signed with the SDK's SigV4 signer (test/helpers/sign).
 *
 * PUT bodies carry their real sha256 in x-amz-content-sha256 (what aws-cli and boto3 send
 * over plain http), so the server verifies the payload as it streams; the digest is
 * computed once per object size, not per request. GET bodies are streamed and hashed, never
 * buffered, and checked against the expected length and digest.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Readable } from 'node:stream';
import { signer } from '../test/helpers/sign';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export class RequestFailed extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path} -> HTTP ${status}${body ? `: ${body.replace(/\s+/g, ' ').slice(0, 400)}` : ''}`);
  }
}

export interface ListPage {
  keys: number;
  prefixes: number;
  truncated: boolean;
  nextToken?: string;
}

/** RFC 3986 escaping, as SigV4 canonicalises query strings. */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface GetResult {
  bytes: number;
  sha256: string;
  etag?: string;
}

export class RawS3 {
  private readonly sig;
  readonly agent: http.Agent;

  constructor(
    private readonly host: string,
    private readonly port: number,
    creds: Credentials,
    maxSockets: number,
    private readonly idleTimeoutMs = 60_000,
  ) {
    this.sig = signer(creds.accessKeyId, creds.secretAccessKey);
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  close(): void {
    this.agent.destroy();
  }

  private async signedHeaders(
    method: string,
    path: string,
    payloadHash: string,
    contentLength?: number,
    query: Record<string, string> = {},
  ): Promise<Record<string, string>> {
    const headers: Record<string, string> = { host: `${this.host}:${this.port}`, 'x-amz-content-sha256': payloadHash };
    if (contentLength !== undefined) headers['content-length'] = String(contentLength);
    const signed = await this.sig.sign({ method, protocol: 'http:', hostname: this.host, port: this.port, path, query, headers });
    return signed.headers;
  }

  /**
   * One request; the response body goes to `sink` chunk by chunk (or is collected, up to a
   * few KiB, for an error message). Resolves with the status and headers once it has ended.
   */
  private request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
    sink?: (chunk: Buffer) => void,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        req.destroy();
        if (body && !Buffer.isBuffer(body)) body.destroy();
        reject(err);
      };
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        let text = '';
        res.on('data', (chunk: Buffer) => {
          if (ok && sink) sink(chunk);
          else if (text.length < 4096) text += chunk.toString('utf8');
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          resolve({ status, headers: res.headers, text });
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error(`${method} ${path}: response cut short`));
        });
      });
      req.setTimeout(this.idleTimeoutMs, () => fail(new Error(`${method} ${path}: no progress for ${this.idleTimeoutMs / 1000} s`)));
      req.on('error', fail);
      if (body === undefined || Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        body.on('error', fail);
        body.pipe(req);
      }
    });
  }

  async createBucket(bucket: string): Promise<void> {
    const path = `/${bucket}`;
    const r = await this.request('PUT', path, await this.signedHeaders('PUT', path, EMPTY_SHA256, 0), undefined);
    if (r.status !== 200) throw new RequestFailed('PUT', path, r.status, r.text);
  }

  /** PUT an object; `body` is the bytes or a fresh stream of them, `sha256` their digest (hex). */
  async put(bucket: string, key: string, body: Buffer | Readable, size: number, sha256: string): Promise<string | undefined> {
    const path = `/${bucket}/${encodeURIComponent(key)}`;
    const headers = await this.signedHeaders('PUT', path, sha256, size);
    const r = await this.request('PUT', path, headers, body);
    if (r.status !== 200) throw new RequestFailed('PUT', path, r.status, r.text);
    return r.headers.etag;
  }

  /** GET an object, hashing it as it streams. */
  async get(bucket: string, key: string): Promise<GetResult> {
    const path = `/${bucket}/${encodeURIComponent(key)}`;
    const hash = createHash('sha256');
    let bytes = 0;
    const r = await this.request('GET', path, await this.signedHeaders('GET', path, EMPTY_SHA256), undefined, (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    if (r.status !== 200) throw new RequestFailed('GET', path, r.status, r.text);
    return { bytes, sha256: hash.digest('hex'), etag: r.headers.etag };
  }

  /** HEAD an object: its size. */
  async head(bucket: string, key: string): Promise<number> {
    const path = `/${bucket}/${encodeURIComponent(key)}`;
    const r = await this.request('HEAD', path, await this.signedHeaders('HEAD', path, EMPTY_SHA256), undefined);
    if (r.status !== 200) throw new RequestFailed('HEAD', path, r.status, r.text);
    return Number(r.headers['content-length']);
  }

  /**
   * One ListObjectsV2 page. Counts the entries and reads the next token from the XML without
   * parsing it (a few indexOf calls, so the client costs the same against every server).
   */
  async listPage(bucket: string, opts: { prefix?: string; delimiter?: string; maxKeys?: number; token?: string }): Promise<ListPage> {
    const query: Record<string, string> = { 'list-type': '2' };
    if (opts.prefix !== undefined) query.prefix = opts.prefix;
    if (opts.delimiter !== undefined) query.delimiter = opts.delimiter;
    if (opts.maxKeys !== undefined) query['max-keys'] = String(opts.maxKeys);
    if (opts.token !== undefined) query['continuation-token'] = opts.token;
    const qs = Object.keys(query)
      .sort()
      .map((k) => `${escapeUri(k)}=${escapeUri(query[k])}`)
      .join('&');
    const base = `/${bucket}`;
    const path = `${base}?${qs}`;
    const chunks: Buffer[] = [];
    const r = await this.request('GET', path, await this.signedHeaders('GET', base, EMPTY_SHA256, undefined, query), undefined, (c) =>
      chunks.push(c),
    );
    if (r.status !== 200) throw new RequestFailed('GET', path, r.status, r.text);
    const xml = Buffer.concat(chunks).toString('utf8');
    const count = (tag: string) => {
      let n = 0;
      for (let i = xml.indexOf(tag); i >= 0; i = xml.indexOf(tag, i + tag.length)) n++;
      return n;
    };
    const token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
    return {
      keys: count('<Contents>'),
      prefixes: count('<CommonPrefixes>'),
      truncated: xml.includes('<IsTruncated>true</IsTruncated>'),
      nextToken: token
        ?.replace(/&amp;/g, '&')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#(\d+);/g, (_, d: string) => String.fromCharCode(Number(d))),
    };
  }

  async delete(bucket: string, key: string): Promise<void> {
    const path = `/${bucket}/${encodeURIComponent(key)}`;
    const r = await this.request('DELETE', path, await this.signedHeaders('DELETE', path, EMPTY_SHA256), undefined);
    if (r.status !== 204 && r.status !== 200) throw new RequestFailed('DELETE', path, r.status, r.text);
  }
}

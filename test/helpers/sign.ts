/** Signs raw requests with the AWS SDK's own SigV4 signer, for protocol tests that need exact bytes. */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';

class Sha256 {
  private h;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = this.fresh();
  }
  private fresh() {
    const s = this.secret;
    if (s === undefined) return createHash('sha256');
    return createHmac(
      'sha256',
      typeof s === 'string' ? s : Buffer.from(s instanceof ArrayBuffer ? s : s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength)),
    );
  }
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.fresh();
  }
}

/**
 * Sha256 for a request whose header values are byte strings (one char per byte, as Node sends
 * and reads them): the signer hands the canonical request over UTF-8 encoded, and its bytes on
 * the wire are those chars as latin1, which is what S3 (and s3mux) hash. HMACs are unchanged
 * (their input, the string to sign, is ASCII). Only for signers given the payload hash in
 * x-amz-content-sha256, so that the unkeyed hash never sees a body.
 */
class WireBytesSha256 extends Sha256 {
  private chunks: Buffer[] = [];
  constructor(private readonly key?: string | ArrayBuffer | ArrayBufferView) {
    super(key);
  }
  override update(data: Uint8Array): void {
    if (this.key !== undefined) super.update(data);
    else this.chunks.push(Buffer.from(data));
  }
  override async digest(): Promise<Uint8Array> {
    if (this.key === undefined) super.update(Buffer.from(Buffer.concat(this.chunks).toString('utf8'), 'latin1'));
    return super.digest();
  }
  override reset(): void {
    this.chunks = [];
    super.reset();
  }
}

export function signer(accessKeyId: string, secretAccessKey: string, region = 'us-east-1', wireBytes = false): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region,
    credentials: { accessKeyId, secretAccessKey },
    sha256: wireBytes ? WireBytesSha256 : Sha256,
    uriEscapePath: false,
    applyChecksum: true,
  });
}

export interface SignedFetch {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: Buffer;
}

/** http(s).request with exact path and headers (fetch would normalise both). */
export function exactRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer | string): Promise<SignedFetch> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      { host: u.hostname, port: u.port, method, path: url.slice(u.origin.length), headers, rejectUnauthorized: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: buf.toString('utf8'), body: buf });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends one signed request. `path` is sent exactly as given (already percent-encoded), and
 * is what gets signed.
 */
export async function signedFetch(
  baseUrl: string,
  creds: { accessKeyId: string; secretAccessKey: string },
  method: string,
  path: string,
  opts: { query?: Record<string, string>; headers?: Record<string, string>; body?: string | Buffer; unsignedPayload?: boolean } = {},
): Promise<SignedFetch> {
  const url = new URL(baseUrl);
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const payloadHash = opts.unsignedPayload
    ? 'UNSIGNED-PAYLOAD'
    : createHash('sha256')
        .update(body ?? Buffer.alloc(0))
        .digest('hex');
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': payloadHash, ...(opts.headers ?? {}) };
  // Header values are byte strings (exactRequest sends them as latin1): signed as those bytes.
  const signed = await signer(creds.accessKeyId, creds.secretAccessKey, 'us-east-1', true).sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: opts.query ?? {},
    headers,
    body,
  });
  const qs = Object.entries(opts.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return exactRequest(`${url.origin}${path}${qs ? '?' + qs : ''}`, method, signed.headers, body);
}

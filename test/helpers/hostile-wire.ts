/**
 * Raw-socket plumbing for the hostile-input test: exact request bytes out, one HTTP
 * response parsed back, a timeout on every socket, a bounded worker pool and a seeded PRNG.
 */
import net from 'node:net';

export interface RawResponse {
  /** 0 when no status line arrived. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The server closed (or reset) the connection before a complete response. */
  incomplete: boolean;
  timedOut: boolean;
  socketError?: string;
}

export interface SendOptions {
  /** Half-close (FIN) after writing: "the client sent everything it will send". */
  halfClose?: boolean;
  /** Close the socket this many ms after writing, without waiting for an answer. */
  abortAfterMs?: number;
  timeoutMs?: number;
}

/** Parses "HTTP/1.1 200 OK\r\nheaders\r\n\r\nbody"; undefined while incomplete. */
function parse(buf: Buffer, ended: boolean): RawResponse | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(head[0]);
  const status = m ? Number(m[1]) : 0;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const c = line.indexOf(':');
    if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  if (status === 100) {
    // An interim answer: the real one follows.
    return parse(buf.subarray(end + 4), ended);
  }
  const rest = buf.subarray(end + 4);
  const cl = headers['content-length'];
  if (cl !== undefined) {
    const n = Number(cl);
    if (rest.length < n) return ended ? { status, headers, body: rest, incomplete: true, timedOut: false } : undefined;
    return { status, headers, body: rest.subarray(0, n), incomplete: false, timedOut: false };
  }
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    // De-chunk; complete at the 0-size chunk.
    const parts: Buffer[] = [];
    let i = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', i);
      if (nl < 0) break;
      const size = parseInt(rest.subarray(i, nl).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) return { status, headers, body: Buffer.concat(parts), incomplete: false, timedOut: false };
      if (rest.length < nl + 2 + size + 2) break;
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      i = nl + 2 + size + 2;
    }
    return ended ? { status, headers, body: Buffer.concat(parts), incomplete: true, timedOut: false } : undefined;
  }
  // No framing: the body runs to the end of the connection (or there is none, e.g. Node's own 400).
  return ended ? { status, headers, body: rest, incomplete: false, timedOut: false } : undefined;
}

/** Writes `bytes` on a fresh connection and reads one response. Never rejects. */
export function exchange(port: number, bytes: Buffer, opts: SendOptions = {}): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    let socketError: string | undefined;
    const sock = net.connect({ port, host: '127.0.0.1' });
    const finish = (r: RawResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...r, socketError: r.socketError ?? socketError });
    };
    const timer = setTimeout(() => {
      const r = parse(Buffer.concat(chunks), true);
      finish(r ? { ...r, timedOut: true } : { status: 0, headers: {}, body: Buffer.concat(chunks), incomplete: true, timedOut: true });
    }, timeoutMs);
    sock.setNoDelay(true);
    sock.on('connect', () => {
      // Large bodies are written in one go; an early answer with Connection: close may
      // cut the write short (EPIPE/ECONNRESET), which is fine: the answer is what counts.
      sock.write(bytes, () => {
        if (opts.halfClose) sock.end();
      });
      if (opts.abortAfterMs !== undefined) setTimeout(() => sock.destroy(), opts.abortAfterMs);
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      const r = parse(Buffer.concat(chunks), false);
      if (r) finish(r);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      socketError = e.code ?? e.message;
    });
    sock.on('close', () => {
      const r = parse(Buffer.concat(chunks), true);
      finish(r ?? { status: 0, headers: {}, body: Buffer.concat(chunks), incomplete: true, timedOut: false });
    });
  });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** mulberry32: small, fast, and the same sequence everywhere for one seed. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  string(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
}

/** Replaces the hex digit at `pos` with a different one. */
export function flipHex(s: string, pos: number): string {
  const c = s[pos];
  const r = c === '0' ? '1' : '0';
  return s.slice(0, pos) + r + s.slice(pos + 1);
}

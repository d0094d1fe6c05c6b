/**
 * What the route-form tests share: seeding a store, clients that write, overwrite and delete
 * while keeping an exact model of what they last wrote, and the key-by-key, byte-by-byte
 * comparison of a store with that model.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Backend } from '../../src/backends/types';
import { isS3Error } from '../../src/errors';

/** key -> body, or null once deleted. */
export type Model = Map<string, Buffer | null>;

export function body(size: number): Buffer {
  return randomBytes(size);
}

export async function seed(backend: Backend, bucket: string, prefix: string, count: number, sizeOf: (i: number) => number): Promise<Model> {
  await backend.createBucket(bucket).catch(() => undefined);
  const model: Model = new Map();
  for (let i = 0; i < count; i++) {
    const key = `obj/${String(i).padStart(3, '0')}`;
    const data = body(sizeOf(i));
    await backend.putObject(bucket, prefix + key, Readable.from([data]), {
      userMetadata: { seq: String(i) },
      contentType: 'application/x-test',
      tags: [{ key: 'seeded', value: 'yes' }],
    });
    model.set(key, data);
  }
  return model;
}

export async function readAll(backend: Backend, bucket: string, key: string): Promise<Buffer | null> {
  try {
    const h = await backend.openObject(bucket, key);
    try {
      const chunks: Buffer[] = [];
      for await (const c of h.read()) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    } finally {
      await h.close();
    }
  } catch (err) {
    if (isS3Error(err, 'NoSuchKey')) return null;
    throw err;
  }
}

export async function listKeys(backend: Backend, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await backend.listObjects(bucket, { prefix, startAfter: after, maxKeys: 1000 });
    keys.push(...page.objects.map((o) => o.key.slice(prefix.length)));
    if (!page.isTruncated) return keys;
    after = page.nextStartAfter ?? page.objects.at(-1)?.key;
  }
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** The store holds exactly the model's live keys, each byte for byte. */
export async function expectStoreEquals(backend: Backend, bucket: string, prefix: string, model: Model, what: string): Promise<void> {
  const live = [...model].filter(([, v]) => v !== null).map(([k]) => k);
  const keys = (await listKeys(backend, bucket, prefix)).filter((k) => !k.startsWith('.s3mux'));
  expect(keys.sort(), `${what}: the keys`).to.deep.equal(live.sort());
  for (const k of live) {
    const got = await readAll(backend, bucket, prefix + k);
    expect(got && md5(got), `${what}: ${k}`).to.equal(md5(model.get(k)!));
  }
}

export interface TrafficOptions {
  /** Keys this client owns (no other client writes them, so the model is exact). */
  keys: string[];
  ops: number;
  /** Pause between operations. */
  pauseMs?: number;
  sizeOf?: () => number;
  /** Called before each operation; resolves when the operation may go (a pause for a kill). */
  gate?: () => Promise<void>;
}

/**
 * One client writing, overwriting and deleting its keys through s3mux. Every operation must
 * succeed (a failure fails the test); the model records what it last wrote.
 */
export async function traffic(client: S3Client | (() => S3Client), bucket: string, model: Model, opts: TrafficOptions): Promise<number> {
  const c = () => (typeof client === 'function' ? client() : client);
  let done = 0;
  for (let i = 0; i < opts.ops; i++) {
    await opts.gate?.();
    const key = opts.keys[Math.floor(Math.random() * opts.keys.length)];
    if (Math.random() < 0.3) {
      await c().send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      model.set(key, null);
    } else {
      const data = body(opts.sizeOf?.() ?? 1024 + Math.floor(Math.random() * 8192));
      await c().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
      model.set(key, data);
    }
    done++;
    if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
  return done;
}

/** Through s3mux: every key of the model reads as the model says. */
export async function expectServedEquals(client: S3Client, bucket: string, model: Model, what: string): Promise<void> {
  for (const [k, v] of model) {
    try {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
      const got = Buffer.from(await r.Body!.transformToByteArray());
      expect(v && md5(got), `${what}: ${k}`).to.equal(v === null ? null : md5(v));
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchKey') throw err;
      expect(v, `${what}: ${k} is absent`).to.equal(null);
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true, at most `timeoutMs`. */
export async function until(fn: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(200);
  }
  expect.fail(`timed out waiting for ${what}`);
}

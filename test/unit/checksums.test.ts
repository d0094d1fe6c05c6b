import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import {
  checksumBase64,
  createHasher,
  parseChecksumAlgorithm,
  VerifyingStream,
  DigestAlgorithm,
  VerifyOptions,
} from '../../src/s3/checksums';
import { S3Error } from '../../src/errors';
import { expectFailure } from '../helpers/s3-error';

const hex = (alg: DigestAlgorithm, data: string | Buffer) => Buffer.from(checksumBase64(alg, data), 'base64').toString('hex');

/** Bit-at-a-time reflected CRC: slow, obviously right, independent of the tables. */
function referenceCrc(width: number, normalPoly: bigint, data: Uint8Array): bigint {
  const w = BigInt(width);
  const mask = (1n << w) - 1n;
  let poly = 0n;
  for (let i = 0n; i < w; i++) if ((normalPoly >> i) & 1n) poly |= 1n << (w - 1n - i);
  let crc = mask;
  for (const b of data) {
    crc ^= BigInt(b);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ mask;
}

const REFERENCE: Record<'crc32' | 'crc32c' | 'crc64nvme', (d: Uint8Array) => string> = {
  crc32: (d) => referenceCrc(32, 0x04c11db7n, d).toString(16).padStart(8, '0'),
  crc32c: (d) => referenceCrc(32, 0x1edc6f41n, d).toString(16).padStart(8, '0'),
  crc64nvme: (d) => referenceCrc(64, 0xad93d23594c93659n, d).toString(16).padStart(16, '0'),
};

describe('checksums: algorithms', () => {
  it('CRC check values of "123456789" (the catalogue of parametrised CRCs)', () => {
    expect(hex('crc32', '123456789')).to.equal('cbf43926');
    expect(hex('crc32c', '123456789')).to.equal('e3069283');
    expect(hex('crc64nvme', '123456789')).to.equal('ae8b14860a799888');
  });

  it('digests of the empty string', () => {
    expect(checksumBase64('crc32', '')).to.equal('AAAAAA==');
    expect(checksumBase64('crc32c', '')).to.equal('AAAAAA==');
    expect(checksumBase64('crc64nvme', '')).to.equal('AAAAAAAAAAA=');
    expect(hex('md5', '')).to.equal('d41d8cd98f00b204e9800998ecf8427e');
    expect(hex('sha1', '')).to.equal('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    expect(hex('sha256', '')).to.equal('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('values published by AWS', () => {
    // sigv4-streaming-trailers example: 66560 bytes of 'a', x-amz-checksum-crc32c:sOO8/Q==
    expect(checksumBase64('crc32c', Buffer.alloc(66560, 'a'))).to.equal('sOO8/Q==');
    // What @aws-sdk/client-s3 sends as x-amz-checksum-crc32 for these bodies.
    expect(checksumBase64('crc32', 'hello')).to.equal('NhCmhg==');
    expect(checksumBase64('crc32', 'hello world')).to.equal('DUoRhQ==');
  });

  it('agree with a bitwise reference and with the AWS SDK, for any length, alignment and split', async () => {
    const data = randomBytes(2100);
    for (const len of [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 1000, 2048]) {
      for (const offset of [0, 1, 2, 3, 5]) {
        const slice = data.subarray(offset, offset + len);
        for (const alg of ['crc32', 'crc32c', 'crc64nvme'] as const) {
          const want = REFERENCE[alg](slice);
          expect(hex(alg, slice), `${alg} len ${len} offset ${offset}`).to.equal(want);
          // The same bytes fed in uneven pieces.
          const h = createHasher(alg);
          for (let i = 0; i < slice.length;) {
            const n = 1 + ((i * 7) % 13);
            h.update(slice.subarray(i, i + n));
            i += n;
          }
          expect(h.digest().toString('hex'), `${alg} split len ${len}`).to.equal(want);
        }
      }
    }
    const big = randomBytes(1 << 20);
    const sdk64 = new Crc64NvmeJs();
    sdk64.update(big);
    expect(checksumBase64('crc64nvme', big)).to.equal(Buffer.from(await sdk64.digest()).toString('base64'));
    const sdk32c = new Crc32cJs();
    sdk32c.update(big);
    expect(checksumBase64('crc32c', big)).to.equal(Buffer.from(await sdk32c.digest()).toString('base64'));
  });

  it('falls back to a table CRC32 where zlib.crc32 is missing (Node < 20.15)', () => {
    const zlib = require('node:zlib') as { crc32?: unknown };
    const saved = zlib.crc32;
    zlib.crc32 = undefined;
    try {
      expect(createHasher('crc32').constructor.name).to.equal('Crc32Table');
      expect(hex('crc32', '123456789')).to.equal('cbf43926');
      const d = randomBytes(999);
      expect(hex('crc32', d)).to.equal(REFERENCE.crc32(d));
    } finally {
      zlib.crc32 = saved;
    }
  });

  it('throughput (informational, not asserted)', function () {
    // Measured on the development machine (Node 20, x86-64, 64 MiB in 1 MiB updates):
    //   crc32 (zlib) ~3900 MB/s, crc32c ~970 MB/s, crc64nvme ~670 MB/s,
    //   md5 ~640 MB/s, sha1 ~1500 MB/s, sha256 ~1400 MB/s.
    // A bytewise table loop ran crc32c at ~170 MB/s; BigInt CRC-64 at a few MB/s.
    const buf = randomBytes(8 << 20);
    for (const alg of ['crc32c', 'crc64nvme'] as const) {
      const h = createHasher(alg);
      const t = process.hrtime.bigint();
      for (let o = 0; o < buf.length; o += 1 << 20) h.update(buf.subarray(o, o + (1 << 20)));
      h.digest();
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      this.test!.title += ` ${alg}=${Math.round(8 / seconds)}MB/s`;
    }
  });

  it('parses algorithm names as S3 sends them; unknown → InvalidRequest', () => {
    expect(parseChecksumAlgorithm('CRC32')).to.equal('crc32');
    expect(parseChecksumAlgorithm('crc64nvme')).to.equal('crc64nvme');
    expect(parseChecksumAlgorithm('x-amz-checksum-sha256')).to.equal('sha256');
    for (const bad of ['md5', 'crc16', '', 'sha512']) {
      expect(() => parseChecksumAlgorithm(bad))
        .to.throw(S3Error)
        .with.property('code', 'InvalidRequest');
    }
  });
});

// ---------------------------------------------------------------------------------------

/** Run data through a VerifyingStream in random-size pieces; resolve with the output or reject with its error. */
async function through(v: VerifyingStream, data: Buffer, before?: () => void): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length;) {
    const n = 1 + Math.floor(Math.random() * 5000);
    pieces.push(data.subarray(i, i + n));
    i += n;
  }
  const out: Buffer[] = [];
  const src = Readable.from(
    (async function* () {
      yield* pieces;
      before?.();
    })(),
  );
  await pipeline(
    src,
    v,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('checksums: VerifyingStream', () => {
  const data = randomBytes(100_000);
  const b64 = (alg: DigestAlgorithm, d: Buffer = data) => checksumBase64(alg, d);
  const sha256Hex = Buffer.from(b64('sha256'), 'base64').toString('hex');
  const make = (o: VerifyOptions) => new VerifyingStream(o);

  it('passes bytes through unchanged and reports every digest it computed', async () => {
    const v = make({ md5: b64('md5'), sha256Hex, checksums: { crc32c: b64('crc32c') }, computeAlso: ['crc64nvme', 'sha1'] });
    const out = await through(v, data);
    expect(out.equals(data)).to.equal(true);
    expect(v.bytes).to.equal(data.length);
    expect(v.digests()).to.deep.equal({
      md5: b64('md5'),
      sha256: b64('sha256'),
      crc32c: b64('crc32c'),
      crc64nvme: b64('crc64nvme'),
      sha1: b64('sha1'),
    });
  });

  it('works with an empty body', async () => {
    const empty = Buffer.alloc(0);
    const v = make({ md5: b64('md5', empty), checksums: { crc32: 'AAAAAA==' } });
    expect((await through(v, empty)).length).to.equal(0);
  });

  it('Content-MD5 mismatch → BadDigest', async () => {
    await expectFailure(through(make({ md5: b64('md5', Buffer.from('x')) }), data), 'BadDigest', /Content-MD5/);
  });

  it('malformed Content-MD5 → InvalidDigest, at construction', () => {
    for (const bad of ['abc', b64('sha1'), 'not base64!!', '']) {
      expect(() => make({ md5: bad }))
        .to.throw(S3Error)
        .with.property('code', 'InvalidDigest');
    }
  });

  it('x-amz-content-sha256 mismatch → XAmzContentSHA256Mismatch; markers are not checked', async () => {
    const err = await expectFailure(through(make({ sha256Hex: 'a'.repeat(64) }), data), 'XAmzContentSHA256Mismatch');
    expect(err.extra.S3ComputedContentSHA256).to.equal(sha256Hex);
    await through(make({ sha256Hex: sha256Hex.toUpperCase() }), data);
    await through(make({ sha256Hex: 'UNSIGNED-PAYLOAD' }), data);
    await through(make({ sha256Hex: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' }), data);
  });

  for (const [alg, name] of [
    ['crc32', 'CRC32'],
    ['crc32c', 'CRC32C'],
    ['crc64nvme', 'CRC64NVME'],
    ['sha1', 'SHA1'],
    ['sha256', 'SHA256'],
  ] as const) {
    it(`x-amz-checksum-${alg}: match passes, mismatch → BadDigest`, async () => {
      await through(make({ checksums: { [alg]: b64(alg) } }), data);
      await expectFailure(
        through(make({ checksums: { [alg]: b64(alg, data.subarray(1)) } }), data),
        'BadDigest',
        new RegExp(`^The ${name} you specified did not match the calculated checksum\\.$`),
      );
    });
  }

  it('a checksum value that is not base64 of the right size → InvalidRequest', () => {
    expect(() => make({ checksums: { crc32: b64('crc64nvme') } }))
      .to.throw(S3Error)
      .with.property('code', 'InvalidRequest');
    expect(() => make({ checksums: { sha256: 'zz' } }))
      .to.throw(S3Error)
      .with.property('code', 'InvalidRequest');
  });

  it('only one x-amz-checksum-* → else InvalidRequest', () => {
    expect(() => make({ checksums: { crc32: b64('crc32'), crc32c: b64('crc32c') } }))
      .to.throw(S3Error)
      .with.property('code', 'InvalidRequest');
  });

  it('unknown algorithm name → InvalidRequest', () => {
    const v = make({});
    expect(() => v.setExpected('crc16', 'AAA='))
      .to.throw(S3Error)
      .with.property('code', 'InvalidRequest');
    expect(() => make({ computeAlso: ['whirlpool' as DigestAlgorithm] }))
      .to.throw(S3Error)
      .with.property('code', 'InvalidRequest');
  });

  it('a trailer checksum set before the end is checked (match and mismatch)', async () => {
    const ok = make({ computeAlso: ['crc32'] });
    await through(ok, data, () => ok.setExpected('x-amz-checksum-crc32', b64('crc32')));
    const bad = make({ computeAlso: ['crc32'] });
    await expectFailure(
      through(bad, data, () => bad.setExpected('crc32', b64('crc32', Buffer.from('other')))),
      'BadDigest',
      /CRC32/,
    );
  });

  it('a trailer checksum that was not computed from the start → InvalidRequest', async () => {
    const v = make({});
    await expectFailure(
      through(v, data, () => v.setExpected('crc32', b64('crc32'))),
      'InvalidRequest',
    );
  });

  it('digests() before the end is a programming error', () => {
    expect(() => make({}).digests()).to.throw(Error);
  });
});

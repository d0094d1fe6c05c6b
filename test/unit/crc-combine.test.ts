import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { expect } from 'chai';
import { combineCrc, type CrcAlgorithm } from '../../src/s3/crc-combine';
import { createHasher } from '../../src/s3/checksums';

const crc = (alg: CrcAlgorithm, data: Buffer) => {
  const h = createHasher(alg);
  h.update(data);
  return h.digest();
};

describe('combineCrc: the CRC of A ‖ B from the CRCs of A and B', () => {
  it('matches the CRC of the joined bytes for CRC32, CRC32C and CRC64NVME, any lengths (empty included)', () => {
    for (const alg of ['crc32', 'crc32c', 'crc64nvme'] as const) {
      for (const [la, lb] of [
        [0, 0],
        [0, 9],
        [9, 0],
        [1, 1],
        [4096, 5 * 1024 * 1024 + 3],
        [123457, 77],
      ]) {
        const a = randomBytes(la);
        const b = randomBytes(lb);
        expect(combineCrc(alg, crc(alg, a), crc(alg, b), b.length).toString('hex'), `${alg} ${la}+${lb}`).to.equal(
          crc(alg, Buffer.concat([a, b])).toString('hex'),
        );
      }
    }
  });

  it('agrees with zlib over a chain of parts (CRC32, computed apart from s3mux)', () => {
    const parts = [randomBytes(5000), randomBytes(1), randomBytes(70000), randomBytes(333)];
    const z = (b: Buffer) => Buffer.from((zlib.crc32(b) >>> 0).toString(16).padStart(8, '0'), 'hex');
    let acc: Buffer = z(parts[0]);
    for (const p of parts.slice(1)) acc = combineCrc('crc32', acc, z(p), p.length);
    expect(acc.toString('hex')).to.equal(z(Buffer.concat(parts)).toString('hex'));
  });
});

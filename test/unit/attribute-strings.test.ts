import { expect } from 'chai';
import { extraFields, readExtraField } from '../../src/backends/attribute-strings';
import type { ObjectAttributes } from '../../src/backends/types';

function roundTrip(attrs: ObjectAttributes): ObjectAttributes {
  const back: ObjectAttributes = { userMetadata: {} };
  for (const [field, value] of extraFields(attrs)) expect(readExtraField(field, value, back, {})).to.equal(true);
  return back;
}

describe('attribute strings (a cloud store metadata)', () => {
  it('keeps a composite object part checksums in order', () => {
    const partChecksums = ['AAAAAA==', 'q83vEg==', 'EjRWeA=='];
    const back = roundTrip({ userMetadata: {}, partSizes: [5, 5, 1], checksums: { crc32: 'Zm9vYg==-3' }, partChecksums });
    expect(back.partChecksums).to.deep.equal(partChecksums);
    expect(back.partSizes).to.deep.equal([5, 5, 1]);
  });

  it('leaves out part checksums too long for metadata, and writes none for none', () => {
    const many = Array.from({ length: 300 }, () => 'AAAAAA==');
    expect(roundTrip({ userMetadata: {}, partChecksums: many }).partChecksums).to.equal(undefined);
    expect(roundTrip({ userMetadata: {}, partChecksums: [] }).partChecksums).to.equal(undefined);
  });
});

/**
 * toXml is written by hand for speed (issue 15); it must build byte for byte what
 * fast-xml-parser's XMLBuilder built with the options s3mux used before, for every shape of
 * answer the handlers produce (nested objects, repeated elements, attributes, text nodes,
 * numbers, booleans, dates (in whole seconds), empty values, the five entities and the characters XML 1.0
 * cannot hold raw).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { XMLBuilder } from 'fast-xml-parser';
import { toXml, type XmlObject, type XmlValue } from '../../src/s3/xml';

const reference = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  processEntities: true,
});

// eslint-disable-next-line no-control-regex
const RAW_UNSAFE = /[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff]/g;

/** Dates are written in whole seconds, as S3 writes them (the builder was given them so). */
function normalise(value: XmlValue): unknown {
  if (value instanceof Date) return new Date(Math.floor(value.getTime() / 1000) * 1000).toISOString();
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = normalise(v);
    return out;
  }
  return value;
}

/** The previous implementation of toXml. */
function referenceXml(root: string, body: XmlObject, namespace: string | null): string {
  const content = normalise(body) as Record<string, unknown>;
  if (namespace) content['@_xmlns'] = namespace;
  const xml = reference.build({ [root]: content });
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml.replace(RAW_UNSAFE, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

const name = fc.constantFrom('Key', 'Size', 'ETag', 'Contents', 'Prefix', 'Owner', 'ID', 'Tag', 'Value', 'x');
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: fc.constantFrom('a', '&', '<', '>', '"', "'", '\u0001', '\r', '\t', '\n', '\ufffe', 'é', '😀', ' ') }),
);
const scalar: fc.Arbitrary<XmlValue> = fc.oneof(
  text,
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
  fc.constant(undefined),
);
const { tree } = fc.letrec<{ tree: XmlObject; value: XmlValue }>((tie) => ({
  tree: fc
    .array(
      fc.tuple(
        fc.oneof({ weight: 4, arbitrary: name }, { weight: 1, arbitrary: fc.constantFrom('@_attr', '@_xmlns:x', '#text') }),
        tie('value'),
      ),
      { maxLength: 5 },
    )
    .map((pairs) => {
      const o: XmlObject = {};
      for (const [k, v] of pairs)
        o[k] = k.startsWith('@_') || k === '#text' ? (typeof v === 'object' && !(v instanceof Date) ? 'v' : v) : v;
      return o;
    }),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: tie('tree') },
    { weight: 1, arbitrary: fc.array(fc.oneof(scalar, tie('tree')), { maxLength: 4 }) },
  ),
}));

describe('toXml', () => {
  it('builds what fast-xml-parser built, byte for byte', () => {
    fc.assert(
      fc.property(tree, fc.boolean(), (body, ns) => {
        const namespace = ns ? 'http://s3.amazonaws.com/doc/2006-03-01/' : null;
        expect(toXml('Root', body, namespace)).to.equal(referenceXml('Root', body, namespace));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a listing page as S3 does', () => {
    const xml = toXml('ListBucketResult', {
      Name: 'b',
      Prefix: '',
      MaxKeys: 1000,
      KeyCount: 1,
      IsTruncated: false,
      Contents: [{ Key: 'a&b<c>"\'\u0001', LastModified: new Date(1999), ETag: '"abc"', Size: 0, StorageClass: 'STANDARD' }],
      CommonPrefixes: [],
      Delimiter: undefined,
    });
    expect(xml).to.equal(
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>' +
        '<MaxKeys>1000</MaxKeys><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b&lt;c&gt;&quot;&apos;&#x1;</Key>' +
        '<LastModified>1970-01-01T00:00:01.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>',
    );
  });
});

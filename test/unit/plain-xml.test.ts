/**
 * The s3 backend's fast path for store answers (src/backends/s3/plain-xml.ts) against
 * fast-xml-parser with the same options: every document the fast path accepts must read
 * exactly as fast-xml-parser reads it, and every other one must be left to fast-xml-parser.
 */
import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { ARRAY_PATHS, parseXml } from '../../src/backends/s3/xml';
import { arrayPaths, parsePlainXml } from '../../src/backends/s3/plain-xml';
import { toXml } from '../../src/s3/xml';
import { XML_PARSE_OPTIONS } from '../../src/xml-options';

const fxp = new XMLParser({ ...XML_PARSE_OPTIONS, isArray: (_name, jpath) => ARRAY_PATHS.has(String(jpath)) });
const PLAIN = arrayPaths(ARRAY_PATHS);

/** fast-xml-parser's reading, without the declaration it records as a key. */
function reference(xml: string): unknown {
  const doc = fxp.parse(xml) as Record<string, unknown>;
  delete doc['?xml'];
  return doc;
}

function same(xml: string): void {
  const plain = parsePlainXml(xml, PLAIN);
  expect(plain, `the fast path should accept:\n${xml}`).to.not.equal(undefined);
  expect(plain, xml).to.deep.equal(reference(xml));
  expect(parseXml(xml)).to.deep.equal(plain);
}

function leftToFastXmlParser(xml: string): void {
  expect(parsePlainXml(xml, PLAIN), `the fast path should refuse:\n${xml}`).to.equal(undefined);
  let expected: unknown;
  try {
    expected = fxp.parse(xml);
  } catch {
    expected = undefined; // parseXml's answer for a body fast-xml-parser cannot read
  }
  expect(parseXml(xml)).to.deep.equal(expected);
}

/** A deterministic pseudo-random source, so a failure names its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Keys with what an XML writer must escape, spaces at the ends, non-ASCII and astral characters. */
function awkwardKey(rnd: () => number): string {
  const pieces = ['a', 'Z', '0', ' ', '/', '&', '<', '>', '"', "'", '%', '+', 'é', '日本', '😀', '\t', '\n', ';', '#', 'x'];
  let k = '';
  const len = 1 + Math.floor(rnd() * 12);
  for (let i = 0; i < len; i++) k += pieces[Math.floor(rnd() * pieces.length)];
  return k;
}

function listing(rnd: () => number, keys: number, prefixes: number): string {
  const body: Record<string, unknown> = {
    Name: 'bucket',
    Prefix: '',
    KeyCount: String(keys + prefixes),
    MaxKeys: '1000',
    IsTruncated: rnd() < 0.5 ? 'true' : 'false',
    Contents: Array.from({ length: keys }, () => ({
      Key: awkwardKey(rnd),
      LastModified: '2026-12-06T11:00:00.000Z',
      ETag: '"0123456789abcdef0123456789abcdef"',
      Size: String(Math.floor(rnd() * 1e9)),
      StorageClass: 'STANDARD',
      ...(rnd() < 0.3 ? { Owner: { ID: 'owner', DisplayName: 'me' } } : {}),
    })),
    CommonPrefixes: Array.from({ length: prefixes }, () => ({ Prefix: `${awkwardKey(rnd)}/` })),
  };
  return toXml('ListBucketResult', body as never);
}

/** The same document laid out with indentation and newlines between elements, as some stores send it. */
function pretty(xml: string): string {
  let depth = 0;
  return xml.replace(/<(\/?)([A-Za-z][^>]*?)(\/?)>/g, (m, close: string, _name: string, self: string) => {
    if (close) {
      depth--;
      return m;
    }
    const out = `\n${'  '.repeat(depth)}${m}`;
    if (!self) depth++;
    return out;
  });
}

describe('store XML: the plain fast path reads as fast-xml-parser does', () => {
  it('reads listings of awkward keys, compact and indented, as fast-xml-parser does', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = random(seed);
      const xml = listing(rnd, Math.floor(rnd() * 30), Math.floor(rnd() * 5));
      same(xml);
      same(xml.replace(/^<\?xml[^>]*\?>\n?/, ''));
    }
    // Indentation puts whitespace between the children, which fast-xml-parser keeps as '#text'.
    same(pretty(listing(random(99), 3, 2)));
  });

  it('reads the store answers the s3 backend reads', () => {
    const docs = [
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner><Buckets><Bucket><Name>a</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>',
      '<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name></Bucket><Bucket><Name>b</Name></Bucket></Buckets></ListAllMyBucketsResult>',
      '<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>',
      '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a &amp; b</Key><RequestId>1</RequestId></Error>',
      '<CopyObjectResult><LastModified>2026-12-06T11:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag></CopyObjectResult>',
      '<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>u-1</UploadId></InitiateMultipartUploadResult>',
      '<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>"e"</ETag><Size>5</Size></Part></ListPartsResult>',
      '<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId></Upload><Upload><Key>k2</Key><UploadId>v</UploadId></Upload><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListMultipartUploadsResult>',
      '<Tagging><TagSet><Tag><Key>a</Key><Value></Value></Tag><Tag><Key>b</Key><Value/></Tag></TagSet></Tagging>',
      '<Tagging><TagSet/></Tagging>',
      '<ListVersionsResult><Version><Key>a</Key><VersionId>1</VersionId></Version><DeleteMarker><Key>a</Key></DeleteMarker><Version><Key>b</Key></Version></ListVersionsResult>',
      '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>',
      // Attributes (quoted '>' and '/' included) and namespace prefixes are dropped by both.
      '<s3:ListBucketResult xmlns:s3="urn:x" a=\'1>2\'><s3:Contents b="/"><s3:Key>k</s3:Key></s3:Contents><s3:IsTruncated >false</s3:IsTruncated ></s3:ListBucketResult>',
      // Text kept verbatim: spaces at both ends, a key of one space, an empty element, character references.
      '<ListBucketResult><Contents><Key> 007 </Key></Contents><Contents><Key> </Key></Contents><Contents><Key></Key></Contents><Contents/><Prefix>&#65;&#x42;&#x1F600;&lt;&gt;&amp;&apos;&quot;</Prefix></ListBucketResult>',
      '<?xml version="1.0"?>  <Root>x</Root>  \n',
      '<Root/>',
      '  <Root/>',
      '<?xml version="1.0"?>\n\n<Root>x</Root>\n\n',
      '<Root a="1"\n>x</Root>',
      '<Root\n/>',
      '<Root>&#9;&#10;</Root>',
      // A leaf repeated where no array is declared becomes an array in both.
      '<ListBucketResult><Contents><Key>k</Key><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumAlgorithm>SHA256</ChecksumAlgorithm></Contents></ListBucketResult>',
      // Other names an object inherits are the document's own elements, read once each.
      '<Root><toLocaleString>x</toLocaleString><isPrototypeOf>y</isPrototypeOf><isPrototypeOf>z</isPrototypeOf></Root>',
    ];
    for (const xml of docs) same(xml);
  });

  it('leaves every other document to fast-xml-parser', () => {
    const docs = [
      '<Root><!-- a comment --><A>1</A></Root>',
      '<Root><A><![CDATA[<x>]]></A></Root>',
      '<!DOCTYPE Root><Root>1</Root>',
      '<?xml version="1.0"?><?pi x?><Root>1</Root>',
      '<Root>&nbsp;</Root>',
      '<Root>&unknown;</Root>',
      '<Root>&#0;</Root>',
      '<Root>&#xD800;</Root>',
      '<Root>&#1114112;</Root>',
      '<Root>a\r\nb</Root>',
      '<Root>\r\n<A>1</A></Root>',
      '<Root>text<A>1</A>more</Root>',
      '<Root><A>1</B></Root>',
      '<Root><A>1</A>',
      '<Root>1</Root><Second/>',
      '<Root>1</Root>trailing',
      'leading<Root>1</Root>',
      '<Root a="unterminated><A/></Root>',
      '<Root><1A>x</1A></Root>',
      '<Root><A>x</ A></Root>',
      '<Root>&amp</Root>',
      '\uFEFF<Root>x</Root>',
      '\n<?xml version="1.0"?><Root>x</Root>',
      // Names that would reach an object's prototype or shadow its methods: fast-xml-parser refuses or renames them.
      '<Root><Contents><__proto__><Key>evil</Key></__proto__></Contents></Root>',
      '<Root><constructor>x</constructor></Root>',
      '<Root><s3:prototype>x</s3:prototype></Root>',
      '<Root><hasOwnProperty>x</hasOwnProperty></Root>',
      '<Root><ToString>x</ToString></Root>',
      '<Root><__lookupGetter__>x</__lookupGetter__></Root>',
      // Nesting deeper than S3's documents ever do (fast-xml-parser has its own limit).
      `${'<A>'.repeat(70)}x${'</A>'.repeat(70)}`,
      `${'<A>'.repeat(600)}x${'</A>'.repeat(600)}`,
    ];
    for (const xml of docs) leftToFastXmlParser(xml);
  });

  it('never accepts a document it would read differently (2,000 generated documents, broken ones included)', () => {
    const rnd = random(7);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    const texts = ['', ' ', 'x', ' a b ', '&amp;', '&lt;k&gt;', '&#65;', '&#x263A;', '&bogus;', '&', '\n', '\r\n', '>', '"', "'", ']]>'];
    const names = [
      'A',
      'B',
      'Contents',
      'Key',
      's3:Key',
      'CommonPrefixes',
      'Prefix',
      'x-y',
      '1bad',
      'a b',
      'toString',
      '__proto__',
      'isPrototypeOf',
    ];
    const element = (depth: number): string => {
      const name = pick(names);
      const attrs = rnd() < 0.2 ? pick([' a="1"', " b='>'", ' c="/"', ' d="x', ' e']) : '';
      const r = rnd();
      if (r < 0.1) return `<${name}${attrs}/>`;
      if (depth > 3 || r < 0.5) return `<${name}${attrs}>${pick(texts)}</${rnd() < 0.95 ? name : pick(names)}>`;
      let inner = '';
      for (let i = Math.floor(rnd() * 4); i > 0; i--)
        inner += (rnd() < 0.3 ? pick(['\n  ', ' ', 'txt', '<!--c-->']) : '') + element(depth + 1);
      return `<${name}${attrs}>${inner}</${name}>`;
    };
    let accepted = 0;
    for (let n = 0; n < 2000; n++) {
      const xml =
        (rnd() < 0.2 ? pick(['\n', ' ']) : '') +
        (rnd() < 0.5 ? '<?xml version="1.0"?>' : '') +
        `<ListBucketResult>${element(0)}${element(0)}</ListBucketResult>` +
        pick(['', '\n', 'x']);
      const plain = parsePlainXml(xml, PLAIN);
      if (plain === undefined) continue;
      accepted++;
      expect(plain, xml).to.deep.equal(reference(xml));
    }
    expect(accepted, 'documents the fast path accepted').to.be.greaterThan(150);
  });

  it('answers undefined for an empty or broken body, as before', () => {
    expect(parseXml('')).to.equal(undefined);
    expect(parseXml('  \n')).to.equal(undefined);
  });
});

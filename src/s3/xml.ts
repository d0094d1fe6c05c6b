/**
 * XML in and out. Responses are built from plain objects (key order is element order,
 * arrays repeat an element); request bodies are parsed with entity decoding but without
 * type coercion, so a key named "007" stays "007".
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from '../errors';
import { XML_PARSE_OPTIONS } from '../xml-options';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const parser = new XMLParser(XML_PARSE_OPTIONS);

export type XmlValue = string | number | boolean | Date | undefined | XmlObject | XmlValue[];
export interface XmlObject {
  [name: string]: XmlValue;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' };
/**
 * What text and attribute values cannot hold as they are: the five predefined entities, and the
 * characters XML 1.0 text cannot hold raw (C0 controls but tab and line feed; CR, which a parser
 * would turn into LF; U+FFFE/U+FFFF). S3 writes the latter as character references (`&#x1;`),
 * which is what a key holding one needs to come back intact; clients that cannot parse them ask
 * for encoding-type=url. Every value the writer emits passes here, so no pass over the whole
 * document is needed (a 1,000-key listing is 200 KB).
 */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[&<>'"\x00-\x08\x0b-\x1f\ufffe\uffff]/;
// eslint-disable-next-line no-control-regex
const ESCAPE_ALL = /[&<>'"\x00-\x08\x0b-\x1f\ufffe\uffff]/g;

const escapeChar = (c: string): string => ENTITIES[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;

/** Text and attribute values with the five predefined entities, as fast-xml-parser's builder wrote them. */
function escapeText(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPE_ALL, escapeChar) : text;
}

/**
 * S3 keeps times in whole seconds: every date it writes (LastModified, Initiated,
 * CreationDate) ends in `.000Z`, the same second the Last-Modified header names. A store's
 * milliseconds on the wire would make a listing disagree with HEAD, and tools that compare the
 * two (`aws s3 sync --exact-timestamps`, which sets a file's mtime in whole seconds) see every
 * object as changed.
 */
function isoSeconds(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  // A listing's objects were mostly written in runs within the same second.
  if (second !== lastSecond) {
    lastSecond = second;
    lastIso = new Date(second * 1000).toISOString();
  }
  return lastIso;
}
let lastSecond = NaN;
let lastIso = '';

function scalar(value: string | number | boolean | Date): string {
  if (value instanceof Date) return isoSeconds(value);
  if (typeof value === 'string') return escapeText(value);
  return Object.is(value, -0) ? '-0' : String(value);
}

/**
 * `<name attrs>children</name>` of one element. Keys starting with `@_` are attributes,
 * `#text` is text, arrays repeat the element, undefined is left out (null: an empty
 * `<name/>`). Written by hand instead of fast-xml-parser's XMLBuilder (byte for byte what it
 * built with the options s3mux used, test/unit/xml.test.ts): a 1,000-key listing spent a
 * third of its CPU in the generic builder (bench --profile).
 */
function writeElement(name: string, value: XmlValue | null, out: string[]): void {
  if (value === undefined) return;
  const tag = tags.get(name) ?? newTags(name);
  if (value === null) {
    out.push(`<${name}/>`);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) writeElement(name, item, out);
    return;
  }
  if (typeof value !== 'object' || value instanceof Date) {
    out.push(tag.open, scalar(value), tag.close);
    return;
  }
  let attrs = '';
  const start = out.length;
  out.push(''); // the start tag, once the attributes are known
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const v = value[key];
    if (v === undefined) continue;
    if (key.startsWith('@_') && key !== '#text') {
      if (v !== null && typeof v !== 'object') attrs += ` ${key.slice(2)}="${scalar(v)}"`;
      else if (v instanceof Date) attrs += ` ${key.slice(2)}="${scalar(v)}"`;
    } else if (key === '#text') {
      if (v !== null && (typeof v !== 'object' || v instanceof Date)) out.push(scalar(v));
    } else {
      writeElement(key, v, out);
    }
  }
  out[start] = attrs === '' ? tag.open : `<${name}${attrs}>`;
  out.push(tag.close);
}

/**
 * Each element name's tags, made once: a 1,000-key listing writes six elements per key, and
 * building their tags anew was a fifth of what the page allocated. The names are the writer's
 * own (S3's element names).
 */
const tags = new Map<string, { open: string; close: string }>();
/** Should a caller ever name elements from data, the cache still stays small. */
const TAGS_MAX = 512;
function newTags(name: string): { open: string; close: string } {
  const t = { open: `<${name}>`, close: `</${name}>` };
  if (tags.size < TAGS_MAX) tags.set(name, t);
  return t;
}

/** `<?xml ...?><Root xmlns="S3 ns">...</Root>` */
export function toXml(root: string, body: XmlObject, namespace: string | null = S3_NS): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  writeElement(root, namespace ? { ...body, '@_xmlns': namespace } : body, out);
  return out.join('');
}

/** Whether a code point may appear in an XML 1.0 document (the spec's Char production). */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

// eslint-disable-next-line no-control-regex
const RAW_NOT_XML = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Parses a request body. Whitespace-only or empty input returns undefined; anything that
 * is not well-formed XML is MalformedXML, as S3 answers.
 */
export function parseXml(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined;
  // No document type declarations: S3 documents never need one, and entity definitions
  // would let a body rewrite itself (or grow without bound).
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML');
  if (XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
  // Only the five predefined entities and character references exist without a DTD, and a
  // reference must name a character XML allows: a parser that dropped `&#x1;` would make
  // `<Key>e&#x1;f</Key>` name another key (`ef`). Raw characters follow the same rule.
  if (RAW_NOT_XML.test(text)) throw new S3Error('MalformedXML');
  for (const m of text.matchAll(/&([^;\s]*);/g)) {
    const ref = /^#(?:x0*([0-9a-fA-F]{1,6})|0*(\d{1,7}))$/.exec(m[1]);
    if (/^#/.test(m[1])) {
      const cp = !ref ? -1 : ref[1] !== undefined ? parseInt(ref[1], 16) : parseInt(ref[2], 10);
      if (!isXmlChar(cp)) throw new S3Error('MalformedXML');
    } else if (!/^(lt|gt|amp|quot|apos)$/.test(m[1])) {
      throw new S3Error('MalformedXML');
    }
  }
  // Every namespace prefix in use must be declared.
  for (const m of text.matchAll(/<\/?([A-Za-z_][\w.-]*):/g)) {
    if (!new RegExp(`xmlns:${m[1]}\\s*=`).test(text)) throw new S3Error('MalformedXML');
  }
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch {
    throw new S3Error('MalformedXML');
  }
  // Exactly one root element.
  if (Object.keys(doc).filter((k) => k !== '?xml').length !== 1 || Object.values(doc).some(Array.isArray))
    throw new S3Error('MalformedXML');
  return doc;
}

/**
 * The root element `name` of a parsed document, checked to hold only the `allowed` children
 * (S3 refuses unknown elements with MalformedXML). Undefined for an empty body.
 */
export function element(doc: Record<string, unknown> | undefined, name: string, allowed: string[]): Record<string, unknown> | undefined {
  if (doc === undefined) return undefined;
  const root = doc[name];
  if (root === undefined) throw new S3Error('MalformedXML');
  return children(root, allowed);
}

/** An element's children, checked against `allowed`; an empty element has none. */
export function children(node: unknown, allowed: string[]): Record<string, unknown> {
  if (node === '' || node === undefined || node === null) return {};
  if (typeof node !== 'object' || Array.isArray(node)) throw new S3Error('MalformedXML');
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    // Indentation between elements is not content.
    if (key === '#text' && typeof value === 'string' && value.trim() === '') continue;
    if (!allowed.includes(key)) throw new S3Error('MalformedXML');
    out[key] = value;
  }
  return out;
}

/** A child that may occur once or many times, always as an array. */
export function many(node: unknown): unknown[] {
  if (node === undefined || node === null || node === '') return [];
  return Array.isArray(node) ? node : [node];
}

/**
 * A text child, or undefined when it is absent. Elements that hold only text parse to
 * strings; an element given twice (an array) or holding elements (an object) does not
 * validate against S3's schema and is MalformedXML, never read as absent: that turned
 * `<BlockPublicAcls>true</BlockPublicAcls>` sent twice into false, and a repeated `<Value>`
 * into an empty tag value.
 */
export function text(node: unknown): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  throw new S3Error('MalformedXML');
}

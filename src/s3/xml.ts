/**
 * XML in and out. Responses are built from plain objects (key order is element order,
 * arrays repeat an element); request bodies are parsed with entity decoding but without
 * type coercion, so a key named "007" stays "007".
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from '../errors';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  processEntities: true,
});

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
});

export type XmlValue = string | number | boolean | Date | undefined | XmlObject | XmlValue[];
export interface XmlObject { [name: string]: XmlValue }

function normalise(value: XmlValue): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = normalise(v);
    return out;
  }
  return value;
}

/** `<?xml ...?><Root xmlns="S3 ns">...</Root>` */
export function toXml(root: string, body: XmlObject, namespace: string | null = S3_NS): string {
  const content = normalise(body) as Record<string, unknown>;
  if (namespace) content['@_xmlns'] = namespace;
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + builder.build({ [root]: content });
}

/**
 * Parses a request body. Whitespace-only or empty input returns undefined; anything that
 * is not well-formed XML is MalformedXML, as S3 answers.
 */
export function parseXml(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined;
  if (XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
  try {
    return parser.parse(text) as Record<string, unknown>;
  } catch {
    throw new S3Error('MalformedXML');
  }
}

/** A child that may occur once or many times, always as an array. */
export function many(node: unknown): unknown[] {
  if (node === undefined || node === null || node === '') return [];
  return Array.isArray(node) ? node : [node];
}

/** A text child, or undefined. Elements that hold only text parse to strings. */
export function text(node: unknown): string | undefined {
  if (node === undefined || node === null) return undefined;
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  return undefined;
}

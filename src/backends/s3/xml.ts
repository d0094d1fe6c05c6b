/**
 * XML in and out of an S3-compatible store: responses parsed as fast-xml-parser parses them (no
 * type coercion, whitespace kept, so a key " 007 " stays " 007 "), plain ones in one pass by
 * plain-xml.ts; small request documents written by hand.
 */
import { XMLParser } from 'fast-xml-parser';
import { XML_PARSE_OPTIONS } from '../../xml-options';
import { arrayPaths, parsePlainXml, type XmlNode } from './plain-xml';

/** Elements that repeat, by their path in the document. */
export const ARRAY_PATHS = new Set([
  'ListBucketResult.Contents',
  'ListBucketResult.CommonPrefixes',
  'ListAllMyBucketsResult.Buckets.Bucket',
  'ListMultipartUploadsResult.Upload',
  'ListMultipartUploadsResult.CommonPrefixes',
  'ListPartsResult.Part',
  'Tagging.TagSet.Tag',
]);

const parser = new XMLParser({ ...XML_PARSE_OPTIONS, isArray: (_name, jpath) => ARRAY_PATHS.has(String(jpath)) });
const PLAIN_ARRAYS = arrayPaths(ARRAY_PATHS);

export type { XmlNode };

/**
 * The parsed document (the root element is its only key), or undefined for an empty or broken
 * body. A plain data document (a listing, most answers) is read by plain-xml.ts in one pass;
 * any other goes to fast-xml-parser, which reads the plain ones the same way.
 */
export function parseXml(text: string): XmlNode | undefined {
  if (text.trim() === '') return undefined;
  const plain = parsePlainXml(text, PLAIN_ARRAYS);
  if (plain !== undefined) return plain;
  try {
    const doc = parser.parse(text) as XmlNode;
    return doc && typeof doc === 'object' ? doc : undefined;
  } catch {
    return undefined;
  }
}

/** The text of an element: '' for an empty element, undefined when absent. */
export function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object') {
    const t = (v as XmlNode)['#text'];
    return t === undefined ? '' : typeof t === 'string' || typeof t === 'number' || typeof t === 'boolean' ? String(t) : '';
  }
  return undefined;
}

export function child(v: unknown, name: string): unknown {
  return v && typeof v === 'object' ? (v as XmlNode)[name] : undefined;
}

export function list(v: unknown): unknown[] {
  if (v === undefined || v === null || v === '') return [];
  return Array.isArray(v) ? v : [v];
}

/** A name from a listing: decoded when the store says it used encoding-type=url ('+' is a space there). */
export function urlDecoded(encoded: boolean, v: string | undefined): string | undefined {
  if (v === undefined || !encoded) return v;
  try {
    return decodeURIComponent(v.replace(/\+/g, '%20'));
  } catch {
    return v;
  }
}

export function bool(v: unknown): boolean {
  return (text(v) ?? '').trim().toLowerCase() === 'true';
}

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#13;',
  '\t': '&#9;',
  '\n': '&#10;',
};

export function escapeXml(s: string): string {
  return s.replace(/[&<>"'\r\t\n]/g, (c) => XML_ESCAPES[c]);
}

export const XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>';
export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

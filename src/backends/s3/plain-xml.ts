/**
 * A fast path for the XML a store answers with: plain data documents (elements, attributes,
 * text, the five XML entities and numeric character references, an XML declaration), read in
 * one pass into the shape fast-xml-parser gives them with s3mux's options (src/xml-options.ts):
 * a leaf is its text, verbatim; an element with children an object of them, a repeated child
 * (or one named in `arrays`) an array, the whitespace between children under '#text';
 * attributes and namespace prefixes dropped.
 *
 * Why: a 1,000-key ListObjectsV2 page through the s3 backend spent 18 ms in fast-xml-parser and
 * most of 10 ms of garbage collection after it, 60 % of the front's CPU for the page (bench
 * --profile --proxy, bench/RESULTS.md, twelfth pass).
 *
 * Anything else (a comment, CDATA, a DOCTYPE, a processing instruction after the declaration, an
 * entity it does not know, a character reference it would have to reject, a carriage return,
 * text beside child elements, an element named like an Object method or `__proto__`, nesting over 64 deep, a document
 * that is not well-formed) answers undefined: the caller
 * parses that document with fast-xml-parser, so a document this path accepts reads exactly as
 * there (test/unit/plain-xml.test.ts compares the two).
 */

export type XmlNode = Record<string, unknown>;

/** Element names by nesting: whether the element at a path is always an array, and the paths below it. */
export type ArrayPaths = Map<string, { array: boolean; below: ArrayPaths }>;

/** 'A.B.C' paths as the nested map parsePlainXml walks (no path string built per element). */
export function arrayPaths(paths: Iterable<string>): ArrayPaths {
  const root: ArrayPaths = new Map();
  for (const p of paths) {
    const names = p.split('.');
    let at = root;
    names.forEach((name, i) => {
      let node = at.get(name);
      if (!node) at.set(name, (node = { array: false, below: new Map() }));
      if (i === names.length - 1) node.array = true;
      at = node.below;
    });
  }
  return root;
}

interface Frame {
  /** The qualified name as written, to match the end tag. */
  raw: string;
  name: string;
  /** The paths below this element. */
  arrays: ArrayPaths | undefined;
  children: XmlNode | undefined;
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Text with its entity and character references decoded, or undefined for one this path leaves to fast-xml-parser. */
function decodeText(raw: string): string | undefined {
  if (raw.includes('\r')) return undefined; // fast-xml-parser normalises line ends
  if (!raw.includes('&')) return raw;
  let out = '';
  let last = 0;
  for (let amp = raw.indexOf('&'); amp >= 0; amp = raw.indexOf('&', last)) {
    const semi = raw.indexOf(';', amp);
    if (semi < 0 || semi - amp > 12) return undefined;
    const ref = raw.slice(amp + 1, semi);
    let ch: string | undefined = ENTITIES[ref];
    if (ch === undefined && ref.charCodeAt(0) === 35 /* # */) {
      const hex = ref.charCodeAt(1) === 120; /* x */
      const digits = ref.slice(hex ? 2 : 1);
      if (!(hex ? /^[0-9a-fA-F]{1,6}$/ : /^[0-9]{1,7}$/).test(digits)) return undefined;
      const cp = parseInt(digits, hex ? 16 : 10);
      // fast-xml-parser drops NUL and surrogates and keeps out-of-range ones as written
      if (cp === 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return undefined;
      ch = String.fromCodePoint(cp);
    }
    if (ch === undefined) return undefined;
    out += raw.slice(last, amp) + ch;
    last = semi + 1;
  }
  return out + raw.slice(last);
}

function isWhitespace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/** The name's local part (fast-xml-parser's removeNSPrefix). */
function localName(raw: string): string {
  const colon = raw.indexOf(':');
  return colon < 0 ? raw : raw.slice(colon + 1);
}

function attach(parent: Frame, name: string, value: unknown, alwaysArray: boolean): void {
  const children = (parent.children ??= {});
  const had = Object.prototype.hasOwnProperty.call(children, name) ? children[name] : undefined;
  if (had === undefined) children[name] = alwaysArray ? [value] : value;
  else if (Array.isArray(had)) had.push(value);
  else children[name] = [had, value];
}

const NAME_END = /[\s/>]/g;
/** Deeper documents go to fast-xml-parser, which has its own limit (S3's nest five deep). */
const MAX_DEPTH = 64;
/**
 * Names fast-xml-parser refuses or renames, lest a document set an object's prototype or shadow
 * its methods: a document naming one goes there.
 */
const GUARDED_NAMES = new Set(
  [
    '__proto__',
    'constructor',
    'prototype',
    'hasOwnProperty',
    'toString',
    'valueOf',
    '__defineGetter__',
    '__defineSetter__',
    '__lookupGetter__',
    '__lookupSetter__',
  ].map((n) => n.toLowerCase()),
);
/** The element names S3's documents use (XML allows more; those go to fast-xml-parser). */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?$/;

/** The document as fast-xml-parser would read it, or undefined when it is not a plain data document. */
export function parsePlainXml(xml: string, arrays: ArrayPaths): XmlNode | undefined {
  const n = xml.length;
  // A byte order mark is text to fast-xml-parser: such a document goes there.
  if (xml.charCodeAt(0) === 0xfeff) return undefined;
  let i = 0;
  // Only at the very start: fast-xml-parser keeps whitespace before a declaration as text.
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>', i);
    if (end < 0) return undefined;
    i = end + 2;
  }
  const top: Frame = { raw: '', name: '', arrays, children: undefined, text: '' };
  const stack: Frame[] = [top];
  let done = false;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const segment = lt < 0 ? xml.slice(i) : xml.slice(i, lt);
    const frame = stack[stack.length - 1];
    if (segment !== '') {
      if (frame === top || done) {
        if (!isWhitespace(segment)) return undefined;
      } else {
        frame.text += segment;
      }
    }
    if (lt < 0) break;
    const next = xml.charCodeAt(lt + 1);
    if (next === 33 /* ! */ || next === 63 /* ? */) return undefined;
    if (next === 47 /* / */) {
      const gt = xml.indexOf('>', lt + 2);
      if (gt < 0 || frame === top) return undefined;
      if (xml.slice(lt + 2, gt).trimEnd() !== frame.raw) return undefined;
      stack.pop();
      const parent = stack[stack.length - 1];
      let value: unknown;
      if (frame.children !== undefined) {
        if (!isWhitespace(frame.text) || frame.text.includes('\r')) return undefined;
        if (frame.text !== '') frame.children['#text'] = frame.text;
        value = frame.children;
      } else {
        const t = decodeText(frame.text);
        if (t === undefined) return undefined;
        value = t;
      }
      attach(parent, frame.name, value, parent.arrays?.get(frame.name)?.array === true);
      if (parent === top) done = true;
      i = gt + 1;
      continue;
    }
    if (done) return undefined; // a second root element
    NAME_END.lastIndex = lt + 1;
    const m = NAME_END.exec(xml);
    if (!m || m.index === lt + 1) return undefined;
    const raw = xml.slice(lt + 1, m.index);
    if (!PLAIN_NAME.test(raw)) return undefined;
    // The attributes are skipped (fast-xml-parser's ignoreAttributes), quoted values whole.
    let j = m.index;
    let selfClosing = false;
    for (;;) {
      if (j >= n) return undefined;
      const c = xml.charCodeAt(j);
      if (c === 34 /* " */ || c === 39 /* ' */) {
        const close = xml.indexOf(xml[j], j + 1);
        if (close < 0) return undefined;
        j = close + 1;
        continue;
      }
      if (c === 60 /* < */) return undefined;
      if (c === 62 /* > */) break;
      if (c === 47 /* / */) {
        if (xml.charCodeAt(j + 1) !== 62) return undefined;
        selfClosing = true;
        j++;
        break;
      }
      j++;
    }
    const name = localName(raw);
    if (GUARDED_NAMES.has(name.toLowerCase())) return undefined;
    const path = frame.arrays?.get(name);
    if (selfClosing) {
      attach(frame, name, '', path?.array === true);
      if (frame === top) done = true;
    } else {
      if (stack.length > MAX_DEPTH) return undefined;
      stack.push({ raw, name, arrays: path?.below, children: undefined, text: '' });
    }
    i = j + 1;
  }
  if (stack.length !== 1 || !done) return undefined;
  return top.children;
}

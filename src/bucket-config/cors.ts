/**
 * A bucket's CORS configuration: the CORSConfiguration document S3 takes (parsed and
 * validated with S3's errors and limits), written back as S3 returns it, and the rule
 * matching that decides preflight and actual requests.
 */
import { S3Error } from '../errors';
import { children, element, many, parseXml, text, type XmlObject } from '../s3/xml';

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** What S3 allows in AllowedMethod. */
export const CORS_METHODS = ['GET', 'PUT', 'HEAD', 'POST', 'DELETE'] as const;
/** S3's limits: rules per configuration, and the document's size. */
export const MAX_CORS_RULES = 100;
export const MAX_CORS_BYTES = 64 * 1024;
const MAX_ID = 255;

const RULE_ELEMENTS = ['ID', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader', 'MaxAgeSeconds'];

function texts(node: unknown): string[] {
  return many(node).map((n) => {
    const t = text(n);
    if (t === undefined) throw new S3Error('MalformedXML');
    return t.trim();
  });
}

function wildcardCount(s: string): number {
  return s.split('*').length - 1;
}

/** One rule as stored, checked the way S3 checks it. */
export function validateCorsRule(rule: CorsRule): CorsRule {
  if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) throw new S3Error('MalformedXML');
  if (rule.id !== undefined && rule.id.length > MAX_ID)
    throw new S3Error('InvalidArgument', 'ID length should not exceed allowed limit of 255');
  for (const m of rule.allowedMethods) {
    if (!(CORS_METHODS as readonly string[]).includes(m))
      throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
  }
  for (const o of rule.allowedOrigins) {
    if (wildcardCount(o) > 1) throw new S3Error('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`);
  }
  for (const h of rule.allowedHeaders) {
    if (wildcardCount(h) > 1) throw new S3Error('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`);
  }
  for (const h of rule.exposeHeaders) {
    if (h.includes('*'))
      throw new S3Error('InvalidRequest', `ExposeHeader "${h}" contains wildcard. We currently do not support wildcard for ExposeHeader.`);
  }
  if (rule.maxAgeSeconds !== undefined && !(Number.isSafeInteger(rule.maxAgeSeconds) && rule.maxAgeSeconds >= 0)) {
    throw new S3Error('MalformedXML');
  }
  return rule;
}

export function validateCorsRules(rules: CorsRule[]): CorsRule[] {
  if (rules.length === 0) throw new S3Error('MalformedXML');
  // A well-formed document with too many rules is an InvalidRequest, not MalformedXML.
  if (rules.length > MAX_CORS_RULES)
    throw new S3Error('InvalidRequest', `The number of CORS rules should not exceed allowed limit of ${MAX_CORS_RULES} rules.`);
  return rules.map(validateCorsRule);
}

/** The rules of a PutBucketCors body. */
export function parseCorsConfiguration(xml: string): CorsRule[] {
  const root = element(parseXml(xml), 'CORSConfiguration', ['CORSRule']);
  if (!root) throw new S3Error('MalformedXML');
  const rules = many(root.CORSRule).map((r): CorsRule => {
    const node = children(r, RULE_ELEMENTS);
    const ids = texts(node.ID);
    const ages = texts(node.MaxAgeSeconds);
    if (ids.length > 1 || ages.length > 1) throw new S3Error('MalformedXML');
    if (ages.length === 1 && !/^\d{1,15}$/.test(ages[0])) throw new S3Error('MalformedXML');
    return {
      ...(ids.length ? { id: ids[0] } : {}),
      allowedOrigins: texts(node.AllowedOrigin),
      allowedMethods: texts(node.AllowedMethod),
      allowedHeaders: texts(node.AllowedHeader),
      exposeHeaders: texts(node.ExposeHeader),
      ...(ages.length ? { maxAgeSeconds: Number(ages[0]) } : {}),
    };
  });
  return validateCorsRules(rules);
}

/** The GetBucketCors answer's body. */
export function corsConfigurationXml(rules: CorsRule[]): XmlObject {
  return {
    CORSRule: rules.map((r) => ({
      ID: r.id,
      AllowedHeader: r.allowedHeaders,
      AllowedMethod: r.allowedMethods,
      AllowedOrigin: r.allowedOrigins,
      ExposeHeader: r.exposeHeaders,
      MaxAgeSeconds: r.maxAgeSeconds,
    })),
  };
}

/** `pattern` with at most one `*` standing for any run of characters. */
function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

export interface CorsRequest {
  origin: string;
  /** The method asked for: Access-Control-Request-Method on a preflight, the request's own otherwise. */
  method: string;
  /** Access-Control-Request-Headers of a preflight, lower-cased (empty for actual requests). */
  headers: string[];
}

/** Origins compare as written (S3 is case-sensitive here); header names ignore case. */
function ruleAllows(rule: CorsRule, r: CorsRequest): boolean {
  if (!rule.allowedOrigins.some((o) => wildcardMatch(o, r.origin))) return false;
  if (!rule.allowedMethods.includes(r.method)) return false;
  const allowed = rule.allowedHeaders.map((h) => h.toLowerCase());
  return r.headers.every((h) => allowed.some((a) => wildcardMatch(a, h)));
}

/** The first rule that allows the request, as S3 picks it. */
export function matchCorsRule(rules: readonly CorsRule[], r: CorsRequest): CorsRule | undefined {
  return rules.find((rule) => ruleAllows(rule, r));
}

/** The request headers a preflight names (Access-Control-Request-Headers), lower-cased. */
export function requestedHeaders(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}

/** Vary on every CORS answer of a bucket with rules: caches must not share answers across origins. */
export const CORS_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

/**
 * The headers a matching rule adds. An origin allowed through `*` gets `*` (and no
 * credentials, which browsers refuse with `*`); a named origin is echoed with credentials
 * allowed, as S3 does.
 */
export function corsHeaders(rule: CorsRule, r: CorsRequest, preflight: boolean): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*');
  const h: Record<string, string> = {
    'Access-Control-Allow-Origin': anyOrigin ? '*' : r.origin,
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    Vary: CORS_VARY,
  };
  if (!anyOrigin) h['Access-Control-Allow-Credentials'] = 'true';
  if (preflight && r.headers.length) h['Access-Control-Allow-Headers'] = r.headers.join(', ');
  if (rule.exposeHeaders.length) h['Access-Control-Expose-Headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) h['Access-Control-Max-Age'] = String(rule.maxAgeSeconds);
  return h;
}

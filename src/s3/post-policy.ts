/**
 * POST Object policies: the base64 JSON document a browser form carries, signed by the
 * form's owner, that says until when and with which field values an upload is allowed.
 *
 *   { "expiration": "2030-01-01T00:00:00Z",
 *     "conditions": [ {"bucket": "photos"},                      exact match
 *                     ["eq", "$key", "a.jpg"],                   exact match
 *                     ["starts-with", "$key", "user/alice/"],    prefix ("" = anything)
 *                     ["content-length-range", 1, 10485760] ] }  size of the file, bytes
 *
 * Field names are case-insensitive; values are compared exactly. Every form field except
 * the exempt ones (the file, the policy, the signature fields, x-ignore-*) must be named by
 * some condition, so a form cannot set what its owner did not allow.
 */
import { S3Error } from '../errors';

export type PolicyCondition =
  | { op: 'eq' | 'starts-with'; /** lower-case, without '$' */ field: string; value: string; text: string }
  | { op: 'content-length-range'; min: number; max: number; text: string };

export interface PostPolicy {
  expiration: Date;
  conditions: PolicyCondition[];
}

export interface PolicyForm {
  /**
   * The values the conditions test, by lower-case field name: the form's fields, with
   * `bucket` the bucket addressed and `key` the key after ${filename} substitution.
   */
  values: ReadonlyMap<string, string>;
  /**
   * A second value a condition may match instead: the key as sent, while it holds
   * `${filename}` (a policy that names `${filename}` itself allows any file name).
   */
  templates?: ReadonlyMap<string, string>;
  /** The form's fields (as named in the form) that a condition must cover. */
  fieldsToCover: readonly string[];
}

export interface PolicyOutcome {
  /** The allowed size range of the file, when the policy sets one (inclusive). */
  contentLength?: { min: number; max: number };
}

function invalid(detail: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${detail}`);
}

function failed(detail: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${detail}`);
}

const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/;

function lengthBound(v: unknown, what: string, text: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`Invalid content-length-range ${what}: ${text}`);
  return n;
}

function conditionText(parts: unknown[]): string {
  return `[${parts.map((p) => JSON.stringify(p)).join(', ')}]`;
}

function parseCondition(c: unknown): PolicyCondition[] {
  if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
    // {"field": "value"}: exact matches. An empty object names nothing to match: S3 refuses the
    // policy (400) instead of taking it as a condition that always holds.
    const entries = Object.entries(c);
    if (entries.length === 0) throw invalid('Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.');
    const out: PolicyCondition[] = [];
    for (const [name, value] of entries) {
      if (typeof value !== 'string' && typeof value !== 'number')
        throw invalid(`Invalid Simple-Condition: value of "${name}" must be a string.`);
      const field = name.replace(/^\$/, '').toLowerCase();
      out.push({ op: 'eq', field, value: String(value), text: conditionText(['eq', `$${name.replace(/^\$/, '')}`, String(value)]) });
    }
    return out;
  }
  if (!Array.isArray(c) || c.length === 0 || typeof c[0] !== 'string') throw invalid(`Invalid Condition: ${JSON.stringify(c)}`);
  const text = conditionText(c);
  const op = c[0].toLowerCase();
  if (op === 'content-length-range') {
    if (c.length !== 3) throw invalid(`Invalid content-length-range condition: ${text}`);
    const min = lengthBound(c[1], 'minimum', text);
    const max = lengthBound(c[2], 'maximum', text);
    if (min > max) throw invalid(`Invalid content-length-range condition: ${text}`);
    return [{ op: 'content-length-range', min, max, text }];
  }
  if (op === 'eq' || op === 'starts-with') {
    if (
      c.length !== 3 ||
      typeof c[1] !== 'string' ||
      !c[1].startsWith('$') ||
      c[1].length < 2 ||
      (typeof c[2] !== 'string' && typeof c[2] !== 'number')
    ) {
      throw invalid(`Invalid Condition: ${text}`);
    }
    return [{ op, field: c[1].slice(1).toLowerCase(), value: String(c[2]), text }];
  }
  throw invalid(`Invalid condition operator "${c[0]}": ${text}`);
}

/** Decodes and parses a policy (the `policy` form field, base64 JSON). Throws InvalidPolicyDocument. */
export function parsePostPolicy(policyBase64: string): PostPolicy {
  const compact = policyBase64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) throw invalid('Invalid Policy encoding: not base64.');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(compact, 'base64').toString('utf8'));
  } catch {
    throw invalid('Invalid JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalid('Policy missing expiration.');
  if (typeof expiration !== 'string' || !ISO_8601.test(expiration) || Number.isNaN(Date.parse(expiration))) {
    throw invalid(`Invalid 'expiration' value: '${typeof expiration === 'string' ? expiration : JSON.stringify(expiration)}'`);
  }
  if (conditions === undefined) throw invalid('Policy missing conditions.');
  if (!Array.isArray(conditions)) throw invalid("Invalid 'conditions' value: must be a list.");
  return { expiration: new Date(expiration), conditions: conditions.flatMap(parseCondition) };
}

/**
 * Checks a form against its policy: expiration, each condition, then that every field is
 * covered. Throws AccessDenied "Invalid according to Policy: ..." as S3 does. The
 * content-length-range cannot be checked before the file has streamed: it is returned.
 */
export function evaluatePostPolicy(policy: PostPolicy, form: PolicyForm, now: Date = new Date()): PolicyOutcome {
  if (now.getTime() > policy.expiration.getTime()) throw failed('Policy expired.');
  let contentLength: PolicyOutcome['contentLength'];
  const named = new Set<string>();
  for (const c of policy.conditions) {
    if (c.op === 'content-length-range') {
      // Several ranges: all must hold.
      contentLength = contentLength
        ? { min: Math.max(contentLength.min, c.min), max: Math.min(contentLength.max, c.max) }
        : { min: c.min, max: c.max };
      continue;
    }
    named.add(c.field);
    const holds = (actual: string) => (c.op === 'eq' ? actual === c.value : actual.startsWith(c.value));
    const template = form.templates?.get(c.field);
    if (!holds(form.values.get(c.field) ?? '') && !(template !== undefined && c.value.includes('${filename}') && holds(template))) {
      throw failed(`Policy Condition failed: ${c.text}`);
    }
  }
  const extra = form.fieldsToCover.filter((f) => !named.has(f.toLowerCase()));
  if (extra.length) throw failed(`Extra input fields: ${extra.join(', ')}`);
  return contentLength ? { contentLength } : {};
}

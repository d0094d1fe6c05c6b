/**
 * The condition operators of the IAM policy language as S3 bucket policies use them: each
 * compares the values a request has for a key with the values a policy lists. `...IfExists`
 * and the ForAnyValue / ForAllValues qualifiers are applied here too, once for every operator.
 */
import { BlockList, isIP } from 'node:net';

type Compare = (requestValue: string, policyValue: string) => boolean;

interface OperatorSpec {
  compare: Compare;
  /** A negated operator (StringNotEquals ...) is true when no policy value matches. */
  negated?: true;
  /** Whether a policy value is acceptable for the operator; the reason otherwise. */
  check?: (policyValue: string) => string | undefined;
}

/** `*` any run of characters, `?` one character; everything else literal. */
export function wildcardRegExp(pattern: string, flags = ''): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, `s${flags}`);
}

const likeCache = new Map<string, RegExp>();
function like(value: string, pattern: string): boolean {
  let re = likeCache.get(pattern);
  if (!re) {
    re = wildcardRegExp(pattern);
    if (likeCache.size > 1000) likeCache.clear();
    likeCache.set(pattern, re);
  }
  return re.test(value);
}

function num(v: string): number | undefined {
  return /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : undefined;
}
const numeric =
  (f: (a: number, b: number) => boolean): Compare =>
  (r, p) => {
    const a = num(r);
    const b = num(p);
    return a !== undefined && b !== undefined && f(a, b);
  };

/** ISO 8601 or epoch seconds, as AWS accepts both for Date* operators. */
function time(v: string): number | undefined {
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
const date =
  (f: (a: number, b: number) => boolean): Compare =>
  (r, p) => {
    const a = time(r);
    const b = time(p);
    return a !== undefined && b !== undefined && f(a, b);
  };

function subnet(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, bits, ...rest] = cidr.trim().split('/');
  const v = isIP(address);
  if (v === 0 || rest.length) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

function inSubnet(ip: string, cidr: string): boolean {
  const net = subnet(cidr);
  const addr = ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  const v = isIP(addr);
  if (!net || v === 0) return false;
  const list = new BlockList();
  list.addSubnet(net.address, net.prefix, net.family);
  return list.check(addr, v === 4 ? 'ipv4' : 'ipv6');
}

function arnLike(value: string, pattern: string): boolean {
  // Each of the six colon-separated parts matches on its own, so '*' does not cross a ':' boundary between them.
  const v = value.split(':');
  const p = pattern.split(':');
  if (v.length < 6 || p.length < 6) return false;
  const head = (parts: string[]) => [...parts.slice(0, 5), parts.slice(5).join(':')];
  const hv = head(v);
  return head(p).every((seg, i) => like(hv[i], seg));
}

const isBool = (p: string) => (/^(true|false)$/i.test(p.trim()) ? undefined : `'${p}' is not true or false`);
const isNum = (p: string) => (num(p) === undefined ? `'${p}' is not a number` : undefined);
const isDate = (p: string) => (time(p) === undefined ? `'${p}' is not a date` : undefined);
const isCidr = (p: string) => (subnet(p) ? undefined : `'${p}' is not an IP address or CIDR range`);

const OPERATORS: Record<string, OperatorSpec> = {
  StringEquals: { compare: (r, p) => r === p },
  StringNotEquals: { compare: (r, p) => r === p, negated: true },
  StringEqualsIgnoreCase: { compare: (r, p) => r.toLowerCase() === p.toLowerCase() },
  StringNotEqualsIgnoreCase: { compare: (r, p) => r.toLowerCase() === p.toLowerCase(), negated: true },
  StringLike: { compare: like },
  StringNotLike: { compare: like, negated: true },
  NumericEquals: { compare: numeric((a, b) => a === b), check: isNum },
  NumericNotEquals: { compare: numeric((a, b) => a === b), negated: true, check: isNum },
  NumericLessThan: { compare: numeric((a, b) => a < b), check: isNum },
  NumericLessThanEquals: { compare: numeric((a, b) => a <= b), check: isNum },
  NumericGreaterThan: { compare: numeric((a, b) => a > b), check: isNum },
  NumericGreaterThanEquals: { compare: numeric((a, b) => a >= b), check: isNum },
  DateEquals: { compare: date((a, b) => a === b), check: isDate },
  DateNotEquals: { compare: date((a, b) => a === b), negated: true, check: isDate },
  DateLessThan: { compare: date((a, b) => a < b), check: isDate },
  DateLessThanEquals: { compare: date((a, b) => a <= b), check: isDate },
  DateGreaterThan: { compare: date((a, b) => a > b), check: isDate },
  DateGreaterThanEquals: { compare: date((a, b) => a >= b), check: isDate },
  Bool: { compare: (r, p) => r.toLowerCase() === p.trim().toLowerCase(), check: isBool },
  BinaryEquals: { compare: (r, p) => Buffer.from(r, 'utf8').toString('base64') === p },
  IpAddress: { compare: inSubnet, check: isCidr },
  NotIpAddress: { compare: inSubnet, negated: true, check: isCidr },
  ArnEquals: { compare: (r, p) => r === p },
  ArnNotEquals: { compare: (r, p) => r === p, negated: true },
  ArnLike: { compare: arnLike },
  ArnNotLike: { compare: arnLike, negated: true },
};

export type SetQualifier = 'ForAnyValue' | 'ForAllValues';

export interface Condition {
  /** As written, e.g. `ForAnyValue:StringLikeIfExists`. */
  operator: string;
  base: string;
  qualifier?: SetQualifier;
  ifExists: boolean;
  /** The condition key as written (keys compare case-insensitively, tag keys aside). */
  key: string;
  values: string[];
}

/** Splits `ForAllValues:StringEqualsIfExists` into its parts; a string naming the reason when it is no operator. */
export function parseOperator(operator: string): Pick<Condition, 'base' | 'qualifier' | 'ifExists'> | string {
  const m = /^(?:(ForAnyValue|ForAllValues):)?([A-Za-z]+?)(IfExists)?$/.exec(operator);
  if (!m || (m[2] !== 'Null' && !OPERATORS[m[2]])) return `Invalid Condition type : ${operator}`;
  if (m[2] === 'Null' && (m[3] || m[1])) return `Invalid Condition type : ${operator}`;
  return { base: m[2], qualifier: m[1] as SetQualifier | undefined, ifExists: m[3] !== undefined };
}

/** The reason a policy value does not suit the operator, if it does not. */
export function checkConditionValue(base: string, value: string): string | undefined {
  if (base === 'Null') return isBool(value);
  return OPERATORS[base]?.check?.(value);
}

/**
 * Whether the condition holds for a request whose values for the key are `actual`
 * (undefined: the request has no such key).
 */
export function conditionHolds(c: Condition, actual: readonly string[] | undefined): boolean {
  if (c.base === 'Null') {
    const wantAbsent = c.values.some((v) => v.trim().toLowerCase() === 'true');
    return wantAbsent === (actual === undefined || actual.length === 0);
  }
  const op = OPERATORS[c.base];
  const matchOne = (v: string) => c.values.some((p) => op.compare(v, p));
  const one = (v: string) => (op.negated ? !matchOne(v) : matchOne(v));
  const present = actual !== undefined && actual.length > 0;
  if (c.qualifier === 'ForAllValues') return !present || actual.every(one);
  if (c.qualifier === 'ForAnyValue') return present && actual.some(one);
  if (!present) return c.ifExists || op.negated === true;
  return op.negated ? actual.every(one) : actual.some(one);
}

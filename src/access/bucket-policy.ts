/**
 * Bucket policies: the JSON policy language S3 accepts, parsed once into statements (a
 * malformed policy is MalformedPolicy with the reason, as S3 words it), and the evaluation of
 * those statements for one request (explicit Deny, Allow, or nothing said).
 */
import { S3Error } from '../errors';
import { checkConditionValue, conditionHolds, parseOperator, wildcardRegExp, type Condition } from './conditions';
import type { CallerId } from './principals';
import { isConditionKey, isGlobalConditionKey, matchingActions, tableKey, type S3Action } from './s3-actions';

/** Who a statement names. `any`: everyone, anonymous callers included. */
export interface PrincipalSet {
  any: boolean;
  /** 12-digit account ids: every identity of that account. */
  accounts: string[];
  arns: string[];
  canonicalIds: string[];
}

export interface Statement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  principal?: PrincipalSet;
  notPrincipal?: PrincipalSet;
  actions?: string[];
  notActions?: string[];
  resources?: string[];
  notResources?: string[];
  conditions: Condition[];
}

export interface BucketPolicy {
  version: string;
  id?: string;
  statements: Statement[];
}

/** What one request is, in the policy language's terms. */
export interface RequestFacts {
  caller: CallerId;
  /** `s3:GetObject` ... */
  action: string;
  /** `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`. */
  resource: string;
  /** Condition keys, lower-cased, to their values (absent: the request has no such key). */
  keys: ReadonlyMap<string, readonly string[]>;
}

export const MAX_POLICY_BYTES = 20 * 1024;

function malformed(reason: string): S3Error {
  return new S3Error('MalformedPolicy', reason);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw malformed(`${what} must not be empty`);
  for (const s of list) if (typeof s !== 'string') throw malformed(`${what} must be a string or a list of strings`);
  return list as string[];
}

const ACCOUNT = /^\d{12}$/;
const IAM_ARN = /^arn:aws:iam::(\d{12}):(root|user\/[\w+=,.@/-]+|role\/[\w+=,.@/-]+)$/;

function parsePrincipal(v: unknown): PrincipalSet {
  const set: PrincipalSet = { any: false, accounts: [], arns: [], canonicalIds: [] };
  if (v === '*') return { ...set, any: true };
  if (!isObject(v)) throw malformed('Invalid principal in policy');
  for (const [kind, value] of Object.entries(v)) {
    const list = strings(value, 'Principal');
    if (kind === 'AWS') {
      for (const p of list) {
        if (p === '*') set.any = true;
        else if (ACCOUNT.test(p)) set.accounts.push(p);
        else if (IAM_ARN.test(p)) {
          const [, account, rest] = IAM_ARN.exec(p)!;
          if (rest === 'root') set.accounts.push(account);
          else set.arns.push(p);
        } else throw malformed('Invalid principal in policy');
      }
    } else if (kind === 'CanonicalUser') {
      for (const p of list) {
        if (!/^[0-9a-f]{64}$/.test(p)) throw malformed('Invalid principal in policy');
        set.canonicalIds.push(p);
      }
    } else if (kind !== 'Service' && kind !== 'Federated') {
      // Services and federated users exist in AWS, never here: such statements name no caller of s3mux.
      throw malformed('Invalid principal in policy');
    }
  }
  return set;
}

function parseActions(v: unknown): string[] {
  const list = strings(v, 'Action');
  for (const a of list) if (a !== '*' && !/^s3:[A-Za-z*?]+$/i.test(a)) throw malformed('Policy has invalid action');
  return list;
}

function parseResources(v: unknown, bucket: string): string[] {
  const list = strings(v, 'Resource');
  for (const r of list) {
    if (r === '*') continue;
    const m = /^arn:aws:s3:::([^/]+)(\/.*)?$/.exec(r);
    if (!m || !wildcardRegExp(m[1]).test(bucket)) throw malformed('Policy has invalid resource');
  }
  return list;
}

const KNOWN_KEY = /^(aws|s3):[A-Za-z0-9-]+(\/.+)?$/;

function parseConditions(v: unknown): Condition[] {
  if (v === undefined) return [];
  if (!isObject(v)) throw malformed('Condition must be a mapping of operators');
  const out: Condition[] = [];
  for (const [operator, block] of Object.entries(v)) {
    const op = parseOperator(operator);
    if (typeof op === 'string') throw malformed(op);
    if (!isObject(block)) throw malformed(`Condition ${operator} must be a mapping of condition keys`);
    for (const [key, raw] of Object.entries(block)) {
      if (!KNOWN_KEY.test(key)) throw malformed('Policy has an invalid condition key');
      const list = (Array.isArray(raw) ? (raw as unknown[]) : [raw]).map((x) =>
        typeof x === 'boolean' || typeof x === 'number' ? String(x) : x,
      );
      const values = strings(list, `Condition ${operator} ${key}`);
      for (const value of values) {
        const reason = checkConditionValue(op.base, value);
        if (reason) throw malformed(`Invalid value for ${operator} ${key}: ${reason}`);
      }
      out.push({ operator, ...op, key, values });
    }
  }
  return out;
}

const STATEMENT_FIELDS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);

function parseStatement(s: unknown, bucket: string): Statement {
  if (!isObject(s)) throw malformed('Statement must be a mapping');
  for (const k of Object.keys(s)) if (!STATEMENT_FIELDS.has(k)) throw malformed(`Unknown field ${k}`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed('Invalid effect: ' + String(s.Effect));
  const one = (a: string, b: string) => {
    if ((s[a] === undefined) === (s[b] === undefined)) throw malformed(`Statement must have exactly one of ${a} and ${b}`);
  };
  if (s.Principal === undefined && s.NotPrincipal === undefined) throw malformed('Missing required field Principal');
  one('Principal', 'NotPrincipal');
  if (s.Action === undefined && s.NotAction === undefined) throw malformed('Missing required field Action');
  one('Action', 'NotAction');
  if (s.Resource === undefined && s.NotResource === undefined) throw malformed('Missing required field Resource');
  one('Resource', 'NotResource');
  if (s.Sid !== undefined && (typeof s.Sid !== 'string' || !/^[A-Za-z0-9 ]*$/.test(s.Sid)))
    throw malformed('Statement IDs (SID) must be alpha-numeric');
  return {
    sid: s.Sid,
    effect: s.Effect,
    principal: s.Principal === undefined ? undefined : parsePrincipal(s.Principal),
    notPrincipal: s.NotPrincipal === undefined ? undefined : parsePrincipal(s.NotPrincipal),
    actions: s.Action === undefined ? undefined : parseActions(s.Action),
    notActions: s.NotAction === undefined ? undefined : parseActions(s.NotAction),
    resources: s.Resource === undefined ? undefined : parseResources(s.Resource, bucket),
    notResources: s.NotResource === undefined ? undefined : parseResources(s.NotResource, bucket),
    conditions: parseConditions(s.Condition),
  };
}

/** What a statement's resource could name: a bucket (`arn:aws:s3:::b`), an object (`b/*`), either (`arn:aws:s3:::*`), anything (`*`). */
function resourceNames(resource: string): { bucket: boolean; object: boolean; anything: boolean } {
  if (resource === '*') return { bucket: true, object: true, anything: true };
  const path = resource.slice('arn:aws:s3:::'.length);
  // `*` crosses `/`, so a wildcard before any `/` can name an object too.
  return { bucket: !path.includes('/'), object: path.includes('/') || path.includes('*'), anything: false };
}

function appliesTo(action: S3Action, resources: readonly string[]): boolean {
  return resources.some((r) => {
    const can = resourceNames(r);
    if (can.anything) return true;
    return (can.bucket && action.resourceTypes.includes('bucket')) || (can.object && action.resourceTypes.includes('object'));
  });
}

/**
 * The checks S3 makes of a policy beyond its syntax, each refused with S3's message: every action
 * names an S3 action (a wildcard matches at least one, `s3:Abort?` none); with Action and Resource,
 * each action applies to one of the statement's resources (s3:GetObject needs an object,
 * s3:ListBucket the bucket); every condition key is one IAM or S3 defines and, with Action and
 * Resource, an S3 key is one that an action of the statement supports (s3:prefix with s3:ListBucket,
 * not with s3:GetObject). NotAction and NotResource name what a statement leaves out: only their
 * action names are checked. Without these checks such a Deny would be stored and never apply.
 */
function checkStatement(s: Statement): void {
  const patterns = s.actions ?? s.notActions ?? [];
  const matched = patterns.map((p) => matchingActions(p));
  if (matched.some((m) => m.length === 0)) throw malformed('Policy has invalid action');
  for (const c of s.conditions) if (!isConditionKey(c.key)) throw malformed('Policy has an invalid condition key');
  if (!s.actions || !s.resources) return;
  const resources = s.resources;
  const applying = matched.map((m) => m.filter((a) => appliesTo(a, resources)));
  if (applying.some((m) => m.length === 0)) throw malformed('Action does not apply to any resource(s) in statement');
  const actions = applying.flat();
  for (const c of s.conditions) {
    if (isGlobalConditionKey(c.key)) continue;
    const key = tableKey(c.key);
    if (!actions.some((a) => a.conditionKeys.has(key)))
      throw malformed('Conditions do not apply to combination of actions and resources in statement');
  }
}

export interface ParseOptions {
  /**
   * A policy stored before s3mux made S3's checks of actions, resources and condition keys
   * (checkStatement) is read as it was taken; false skips them. Default true.
   */
  check?: boolean;
}

/** Parses a bucket policy for `bucket`; MalformedPolicy with S3's reason when it is not one. */
export function parseBucketPolicy(text: string, bucket: string, options: ParseOptions = {}): BucketPolicy {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) throw malformed('Policy exceeds the maximum allowed document size.');
  if (!text.trimStart().startsWith('{')) throw malformed("Policies must be valid JSON and the first byte must be '{'");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('This policy contains invalid Json');
  }
  if (!isObject(doc)) throw malformed("Policies must be valid JSON and the first byte must be '{'");
  for (const k of Object.keys(doc)) if (!['Version', 'Id', 'Statement'].includes(k)) throw malformed(`Unknown field ${k}`);
  const version = doc.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17') throw malformed('The policy must contain a valid version string');
  if (doc.Statement === undefined) throw malformed('Missing required field Statement');
  const list = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  if (list.length === 0) throw malformed('Could not parse the policy: Statement is empty!');
  const statements = list.map((s) => parseStatement(s, bucket));
  if (options.check ?? true) statements.forEach(checkStatement);
  return { version, id: typeof doc.Id === 'string' ? doc.Id : undefined, statements };
}

function principalMatches(set: PrincipalSet, caller: CallerId): boolean {
  if (set.any) return true;
  if (caller.anonymous) return false;
  return set.accounts.includes(caller.account) || set.arns.includes(caller.arn) || set.canonicalIds.includes(caller.canonicalId);
}

/** Marks a `${*}`, `${?}` or `${$}` that substitution left: the character itself, not a wildcard (a private-use character no policy holds). */
const LITERAL = '\uE000';
const LITERAL_SPLIT = new RegExp(`${LITERAL}([*?$])`);

/**
 * Policy variables (`${aws:username}`, `${*}` ...) replaced by the request's values (version
 * 2012-10-17 only). Undefined when a variable has no value: the pattern then matches nothing.
 */
function substitute(pattern: string, facts: RequestFacts, version: string): string | undefined {
  if (version !== '2012-10-17' || !pattern.includes('${')) return pattern;
  let missing = false;
  const out = pattern.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (name === '*' || name === '?' || name === '$') return `${LITERAL}${name}`;
    const v = facts.keys.get(name.toLowerCase());
    if (!v || v.length !== 1) {
      missing = true;
      return '';
    }
    return v[0];
  });
  return missing ? undefined : out;
}

/** A substituted pattern's literal `${*}` / `${?}` stand for the characters themselves. */
function likeWithLiterals(value: string, pattern: string, flags = ''): boolean {
  const parts = pattern.split(LITERAL_SPLIT);
  const body = parts.map((p, i) => (i % 2 ? p.replace(/[*?$]/, '\\$&') : wildcardRegExp(p).source.slice(1, -1))).join('');
  return new RegExp(`^${body}$`, `s${flags}`).test(value);
}

function anyLike(patterns: readonly string[], value: string, facts: RequestFacts, version: string, flags = ''): boolean {
  return patterns.some((p) => {
    const s = substitute(p, facts, version);
    return s !== undefined && likeWithLiterals(value, s, flags);
  });
}

function conditionValues(c: Condition, facts: RequestFacts, version: string): Condition {
  if (!c.values.some((v) => v.includes('${'))) return c;
  const values = c.values.map((v) => substitute(v, facts, version)?.split(LITERAL).join('')).filter((v): v is string => v !== undefined);
  return { ...c, values };
}

function statementApplies(s: Statement, facts: RequestFacts, version: string): boolean {
  if (s.principal && !principalMatches(s.principal, facts.caller)) return false;
  if (s.notPrincipal && principalMatches(s.notPrincipal, facts.caller)) return false;
  if (s.actions && !anyLike(s.actions, facts.action, facts, '', 'i')) return false;
  if (s.notActions && anyLike(s.notActions, facts.action, facts, '', 'i')) return false;
  if (s.resources && !anyLike(s.resources, facts.resource, facts, version)) return false;
  if (s.notResources && anyLike(s.notResources, facts.resource, facts, version)) return false;
  return s.conditions.every((c) => conditionHolds(conditionValues(c, facts, version), facts.keys.get(c.key.toLowerCase())));
}

/** What the policy says about the request: an explicit Deny wins over any Allow. */
export function evaluateBucketPolicy(p: BucketPolicy, facts: RequestFacts): 'Deny' | 'Allow' | undefined {
  let allowed = false;
  for (const s of p.statements) {
    if (!statementApplies(s, facts, p.version)) continue;
    if (s.effect === 'Deny') return 'Deny';
    allowed = true;
  }
  return allowed ? 'Allow' : undefined;
}

/** Keys whose condition narrows a statement to known callers or networks, so it does not make the policy public. */
const NARROWING_KEYS = new Set([
  'aws:sourceip',
  'aws:sourcearn',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:principalarn',
  'aws:principalaccount',
  'aws:principalorgid',
  'aws:userid',
  'aws:username',
]);

/** A statement that allows everyone (anonymous callers included) without narrowing them: what S3 calls a public policy. */
export function isPublicPolicy(p: BucketPolicy): boolean {
  return p.statements.some((s) => {
    if (s.effect !== 'Allow') return false;
    const everyone = (s.principal?.any ?? false) || s.notPrincipal !== undefined;
    if (!everyone) return false;
    return !s.conditions.some((c) => {
      if (!NARROWING_KEYS.has(c.key.toLowerCase()) || c.ifExists || c.base.startsWith('Not') || c.base.includes('Not')) return false;
      if (c.base === 'IpAddress') return !c.values.some((v) => /\/0$/.test(v.trim()));
      return true;
    });
  });
}

/** The policy needs the object's tags (s3:ExistingObjectTag/<key>) to be decided. */
export function usesExistingObjectTags(p: BucketPolicy): boolean {
  return p.statements.some((s) => s.conditions.some((c) => c.key.toLowerCase().startsWith('s3:existingobjecttag/')));
}

/**
 * A bucket's lifecycle configuration: the LifecycleConfiguration document S3 takes (parsed
 * and validated with S3's errors), written back as S3 returns it, and the decisions the
 * lifecycle worker makes from it (which rules apply to an object, when it expires).
 */
import { randomBytes } from 'node:crypto';
import { S3Error } from '../errors';
import type { Tag } from '../backends/types';
import { canHold, classProblem, nativeClasses, storageClassRank, type ClassHolder } from '../backends/storage-classes';
import { children, element, many, parseXml, text, type XmlObject } from '../s3/xml';

export interface LifecycleFilter {
  prefix: string;
  tags: Tag[];
  sizeGreaterThan?: number;
  sizeLessThan?: number;
}

export interface LifecycleRule {
  id?: string;
  enabled: boolean;
  filter: LifecycleFilter;
  /**
   * How the filter was written, so GetBucketLifecycleConfiguration gives it back the same way:
   * S3 answers an empty `<Filter/>` as empty, and `<Filter><Prefix/></Filter>` with its Prefix.
   * ('none' is only in documents stored before a rule had to name one of them.)
   */
  filterForm: 'rule-prefix' | 'filter' | 'empty-filter' | 'none';
  expiration?: { days?: number; date?: string; expiredObjectDeleteMarker?: boolean };
  abortIncompleteMultipartUploadDays?: number;
  /** Applied by the worker over the version indexes (applyNoncurrent). */
  noncurrentVersionExpiration?: { noncurrentDays?: number; newerNoncurrentVersions?: number };
  noncurrentVersionTransitions?: Array<{ noncurrentDays?: number; storageClass: string; newerNoncurrentVersions?: number }>;
  transitions?: Array<{ days?: number; date?: string; storageClass: string }>;
}

export const MAX_LIFECYCLE_RULES = 1000;
const MAX_ID = 255;
const MAX_TAGS = 50;

const RULE_ELEMENTS = [
  'ID',
  'Filter',
  'Prefix',
  'Status',
  'Expiration',
  'Transition',
  'NoncurrentVersionExpiration',
  'NoncurrentVersionTransition',
  'AbortIncompleteMultipartUpload',
];

function one(node: unknown): string | undefined {
  const all = many(node);
  if (all.length > 1) throw new S3Error('MalformedXML');
  if (all.length === 0) return undefined;
  const t = text(all[0]);
  if (t === undefined) throw new S3Error('MalformedXML');
  return t;
}

function oneNode(node: unknown): unknown {
  const all = many(node);
  if (all.length > 1) throw new S3Error('MalformedXML');
  return node === undefined ? undefined : (all[0] ?? '');
}

/** A positive day count; S3 answers InvalidArgument naming the action otherwise. */
function days(value: string | undefined, what: string, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const n = /^-?\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) {
    const [field, action] = what.split(' for ');
    throw new S3Error('InvalidArgument', `'${field}' for ${action} action must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
  }
  return n;
}

function count(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new S3Error('InvalidArgument', `'${what}' must be a positive integer`);
  return n;
}

/** S3 takes ISO 8601 dates at midnight UTC only (2030-01-01T00:00:00Z or 2030-01-01T00:00:00.000Z). */
function midnight(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]00:00)?)?$/.exec(v);
  const d = m ? new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00.000Z`) : undefined;
  if (!m || !d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`) {
    throw new S3Error('InvalidArgument', 'Invalid date, the date must be in ISO 8601 format');
  }
  if ((m[4] ?? '00') !== '00' || (m[5] ?? '00') !== '00' || (m[6] ?? '00') !== '00' || Number(m[7] ?? '0') !== 0) {
    throw new S3Error('InvalidArgument', "'Date' must be at midnight GMT");
  }
  return d.toISOString();
}

function size(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value.trim())) throw new S3Error('InvalidArgument', 'Object size must be a non-negative integer');
  return Number(value.trim());
}

function parseTag(node: unknown): Tag {
  const t = children(node, ['Key', 'Value']);
  const key = one(t.Key);
  if (key === undefined || key.length === 0 || key.length > 128) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
  const value = one(t.Value) ?? '';
  if (value.length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
  return { key, value };
}

const FILTER_ELEMENTS = ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan', 'And'];

function parseFilter(node: unknown): LifecycleFilter {
  const f = children(node, FILTER_ELEMENTS);
  const given = Object.keys(f);
  // Filter holds one condition; several are combined with And.
  if (given.length > 1) throw new S3Error('MalformedXML');
  if (f.And !== undefined) {
    const a = children(oneNode(f.And), ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan']);
    const tags = many(a.Tag).map(parseTag);
    const filter = {
      prefix: one(a.Prefix) ?? '',
      tags,
      sizeGreaterThan: size(one(a.ObjectSizeGreaterThan)),
      sizeLessThan: size(one(a.ObjectSizeLessThan)),
    };
    if (new Set(tags.map((t) => t.key)).size !== tags.length) throw new S3Error('InvalidRequest', 'Duplicate Tag Keys are not allowed.');
    if (tags.length > MAX_TAGS) throw new S3Error('InvalidRequest', `A filter may not hold more than ${MAX_TAGS} tags.`);
    return filter;
  }
  return {
    prefix: one(f.Prefix) ?? '',
    tags: f.Tag === undefined ? [] : [parseTag(oneNode(f.Tag))],
    sizeGreaterThan: size(one(f.ObjectSizeGreaterThan)),
    sizeLessThan: size(one(f.ObjectSizeLessThan)),
  };
}

function parseRule(node: unknown): LifecycleRule {
  const r = children(node, RULE_ELEMENTS);
  const id = one(r.ID);
  if (id !== undefined && id.length > MAX_ID) throw new S3Error('InvalidArgument', 'ID length should not exceed allowed limit of 255');
  const status = one(r.Status);
  if (status !== 'Enabled' && status !== 'Disabled') throw new S3Error('MalformedXML');
  // A rule names its objects with a Filter (or the older Prefix), exactly one of them: S3's
  // schema refuses a rule with neither, as one with both.
  if ((r.Prefix !== undefined) === (r.Filter !== undefined)) throw new S3Error('MalformedXML');
  const filterNode = r.Filter !== undefined ? oneNode(r.Filter) : undefined;
  const filter = filterNode !== undefined ? parseFilter(filterNode) : { prefix: one(r.Prefix) ?? '', tags: [] };
  const rule: LifecycleRule = {
    ...(id !== undefined ? { id } : {}),
    enabled: status === 'Enabled',
    filter,
    filterForm:
      r.Filter === undefined ? 'rule-prefix' : Object.keys(children(filterNode, FILTER_ELEMENTS)).length === 0 ? 'empty-filter' : 'filter',
  };
  if (filter.sizeGreaterThan !== undefined && filter.sizeLessThan !== undefined && filter.sizeGreaterThan >= filter.sizeLessThan) {
    throw new S3Error('InvalidArgument', 'ObjectSizeGreaterThan must be less than ObjectSizeLessThan');
  }

  if (r.Expiration !== undefined) {
    const e = children(oneNode(r.Expiration), ['Days', 'Date', 'ExpiredObjectDeleteMarker']);
    const exp = {
      days: days(one(e.Days), 'Days for Expiration'),
      date: midnight(one(e.Date)),
      expiredObjectDeleteMarker: one(e.ExpiredObjectDeleteMarker) === undefined ? undefined : bool(one(e.ExpiredObjectDeleteMarker)),
    };
    const set = [exp.days, exp.date, exp.expiredObjectDeleteMarker].filter((v) => v !== undefined).length;
    if (set !== 1) throw new S3Error('MalformedXML');
    if (exp.expiredObjectDeleteMarker !== undefined && filter.tags.length) {
      throw new S3Error('InvalidRequest', 'ExpiredObjectDeleteMarker cannot be specified with tags.');
    }
    rule.expiration = Object.fromEntries(Object.entries(exp).filter(([, v]) => v !== undefined));
  }
  if (r.AbortIncompleteMultipartUpload !== undefined) {
    const a = children(oneNode(r.AbortIncompleteMultipartUpload), ['DaysAfterInitiation']);
    const d = days(one(a.DaysAfterInitiation), 'DaysAfterInitiation for AbortIncompleteMultipartUpload');
    if (d === undefined) throw new S3Error('MalformedXML');
    if (filter.tags.length || filter.sizeGreaterThan !== undefined || filter.sizeLessThan !== undefined) {
      throw new S3Error('InvalidRequest', 'AbortIncompleteMultipartUpload cannot be specified with Tags or object size filters.');
    }
    rule.abortIncompleteMultipartUploadDays = d;
  }
  if (r.NoncurrentVersionExpiration !== undefined) {
    const n = children(oneNode(r.NoncurrentVersionExpiration), ['NoncurrentDays', 'NewerNoncurrentVersions']);
    const nd = days(one(n.NoncurrentDays), 'NoncurrentDays for NoncurrentVersionExpiration');
    const newer = count(one(n.NewerNoncurrentVersions), 'NewerNoncurrentVersions');
    if (nd === undefined && newer === undefined) throw new S3Error('MalformedXML');
    rule.noncurrentVersionExpiration = {
      ...(nd !== undefined ? { noncurrentDays: nd } : {}),
      ...(newer ? { newerNoncurrentVersions: newer } : {}),
    };
  }
  if (r.NoncurrentVersionTransition !== undefined) {
    rule.noncurrentVersionTransitions = many(r.NoncurrentVersionTransition).map((t) => {
      const n = children(t, ['NoncurrentDays', 'StorageClass', 'NewerNoncurrentVersions']);
      const storageClass = one(n.StorageClass);
      if (storageClass === undefined) throw new S3Error('MalformedXML');
      const nd = days(one(n.NoncurrentDays), 'NoncurrentDays for NoncurrentVersionTransition', true);
      const newer = count(one(n.NewerNoncurrentVersions), 'NewerNoncurrentVersions');
      return { storageClass, ...(nd !== undefined ? { noncurrentDays: nd } : {}), ...(newer ? { newerNoncurrentVersions: newer } : {}) };
    });
  }
  if (r.Transition !== undefined) {
    rule.transitions = many(r.Transition).map((t) => {
      const n = children(t, ['Days', 'Date', 'StorageClass']);
      const storageClass = one(n.StorageClass);
      if (storageClass === undefined) throw new S3Error('MalformedXML');
      const tr = { days: days(one(n.Days), 'Days for Transition', true), date: midnight(one(n.Date)), storageClass };
      if ((tr.days === undefined) === (tr.date === undefined)) throw new S3Error('MalformedXML');
      return Object.fromEntries(Object.entries(tr).filter(([, v]) => v !== undefined)) as { storageClass: string };
    });
  }
  const actions = [
    rule.expiration,
    rule.abortIncompleteMultipartUploadDays,
    rule.noncurrentVersionExpiration,
    rule.noncurrentVersionTransitions,
    rule.transitions,
  ];
  if (actions.every((a) => a === undefined)) throw new S3Error('InvalidRequest', 'At least one action needs to be specified in a rule');
  return rule;
}

function bool(v: string | undefined): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new S3Error('MalformedXML');
}

/** The store a bucket's objects live in, as far as transitions care. */
export interface TransitionTarget {
  kind: string;
  /** The store can change an object's class (Backend.setStorageClass). */
  canChangeClass: boolean;
  /** A composite route's stores a transition changes (Backend.classHolders): each must hold the class. */
  holders?: readonly ClassHolder[];
}

/** The classes S3 lets a Transition name (STANDARD and the rest are not transition targets). */
const TRANSITION_CLASSES = new Set(['STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']);
/** S3 moves objects to the infrequent-access classes only after 30 days. */
const IA_MIN_DAYS = 30;

/**
 * Why a rule's transitions cannot be honoured on `target`, or undefined when they can: the
 * store must hold the class (a tier of its own, or the label fs and memory keep) and be able
 * to change an object's class. A rule accepted and never applied would be a silent drop.
 * NoncurrentVersionTransition is refused until noncurrent versions can change class.
 */
export function transitionProblem(rule: LifecycleRule, target: TransitionTarget): string | undefined {
  if (rule.noncurrentVersionTransitions?.length) {
    return 's3mux does not move noncurrent versions between storage classes; remove the NoncurrentVersionTransition actions.';
  }
  for (const t of rule.transitions ?? []) {
    if (!TRANSITION_CLASSES.has(t.storageClass)) return `A Transition cannot move objects to ${t.storageClass}.`;
    if (target.holders) {
      const problem = classProblem(target.holders, t.storageClass);
      if (problem) return problem;
    } else if (!canHold(target.kind, t.storageClass)) {
      const held = nativeClasses(target.kind).join(', ');
      return `The ${target.kind} backend of this bucket has no storage class for ${t.storageClass} (it has ${held}).`;
    }
    if (!target.canChangeClass)
      return target.holders
        ? `Not every target of this ${target.kind} route can change an object's storage class in place.`
        : `The ${target.kind} backend of this bucket cannot change an object's storage class.`;
  }
  return undefined;
}

/** How S3's lifecycle messages name a rule: "prefix 'logs/'", or "filter '(prefix=logs/)'". */
function ruleScope(rule: LifecycleRule): string {
  const f = rule.filter;
  if (rule.filterForm === 'rule-prefix') return `prefix '${f.prefix}'`;
  const plain = f.tags.length === 0 && f.sizeGreaterThan === undefined && f.sizeLessThan === undefined;
  return plain ? `filter '(prefix=${f.prefix})'` : 'filter';
}

/**
 * S3's checks of a rule's transitions that do not depend on the store. A class named twice and
 * dates mixed with day counts (across the transitions, or between them and the expiration) are
 * InvalidRequest (Scality's putBucketLifecycle, which runs against AWS too); the day counts'
 * bounds InvalidArgument.
 */
function checkTransitions(rule: LifecycleRule): void {
  const ts = rule.transitions ?? [];
  if (new Set(ts.map((t) => t.storageClass)).size !== ts.length) {
    throw new S3Error('InvalidRequest', `'StorageClass' must be different for 'Transition' actions in same 'Rule' with ${ruleScope(rule)}`);
  }
  const byDays = ts.some((t) => t.days !== undefined);
  const byDate = ts.some((t) => t.date !== undefined);
  if (byDays && byDate) {
    throw new S3Error('InvalidRequest', `Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule for ${ruleScope(rule)}`);
  }
  const e = rule.expiration;
  if ((e?.date !== undefined && byDays) || (e?.days !== undefined && byDate)) {
    throw new S3Error(
      'InvalidRequest',
      `Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule for ${ruleScope(rule)}`,
    );
  }
  for (const t of ts) {
    if ((t.storageClass === 'STANDARD_IA' || t.storageClass === 'ONEZONE_IA') && t.days !== undefined && t.days < IA_MIN_DAYS) {
      throw new S3Error(
        'InvalidArgument',
        `'Days' in Transition action must be greater than or equal to 30 for storageClass '${t.storageClass}'`,
      );
    }
    if (rule.expiration?.days !== undefined && t.days !== undefined && rule.expiration.days <= t.days) {
      throw new S3Error(
        'InvalidArgument',
        "'Days' in the Expiration action for filter must be greater than 'Days' in the Transition action",
      );
    }
  }
}

/** The rules of a PutBucketLifecycleConfiguration body; `target` is the store transitions would act on. */
export function parseLifecycleConfiguration(xml: string, target: TransitionTarget): LifecycleRule[] {
  const root = element(parseXml(xml), 'LifecycleConfiguration', ['Rule']);
  if (!root) throw new S3Error('MalformedXML');
  const rules = many(root.Rule).map(parseRule);
  if (rules.length === 0) throw new S3Error('MalformedXML');
  if (rules.length > MAX_LIFECYCLE_RULES)
    throw new S3Error('InvalidRequest', `The number of lifecycle rules should not exceed ${MAX_LIFECYCLE_RULES}.`);
  const ids = rules.map((r) => r.id).filter((id): id is string => id !== undefined && id !== '');
  if (new Set(ids).size !== ids.length)
    throw new S3Error('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule');
  // S3 names a rule sent without an ID (48 random characters), so every rule read back has one.
  for (const rule of rules) if (rule.id === undefined || rule.id === '') rule.id = randomBytes(36).toString('base64');
  for (const rule of rules) {
    checkTransitions(rule);
    const problem = transitionProblem(rule, target);
    if (problem) throw new S3Error('InvalidStorageClass', problem);
  }
  return rules;
}

function filterXml(f: LifecycleFilter): XmlObject {
  const tags = f.tags.map((t) => ({ Key: t.key, Value: t.value }));
  const parts = [f.prefix !== '' ? 1 : 0, f.tags.length, f.sizeGreaterThan !== undefined ? 1 : 0, f.sizeLessThan !== undefined ? 1 : 0];
  const n = parts.reduce((a, b) => a + b, 0);
  // S3 leaves an empty Prefix out of an And (its Tags alone come back).
  const body = {
    Prefix: f.prefix !== '' ? f.prefix : undefined,
    Tag: tags,
    ObjectSizeGreaterThan: f.sizeGreaterThan,
    ObjectSizeLessThan: f.sizeLessThan,
  };
  if (n > 1) return { And: body };
  if (n === 0) return { Prefix: '' };
  return {
    Prefix: f.prefix !== '' ? f.prefix : undefined,
    Tag: tags[0],
    ObjectSizeGreaterThan: f.sizeGreaterThan,
    ObjectSizeLessThan: f.sizeLessThan,
  };
}

/** A rule's filter as it was written. */
const RULE_FILTER_XML: Record<LifecycleRule['filterForm'], (f: LifecycleFilter) => XmlObject> = {
  'rule-prefix': (f) => ({ Prefix: f.prefix }),
  filter: (f) => ({ Filter: filterXml(f) }),
  'empty-filter': () => ({ Filter: {} }),
  none: () => ({}),
};

/** The GetBucketLifecycleConfiguration answer's body. */
export function lifecycleConfigurationXml(rules: LifecycleRule[]): XmlObject {
  return {
    Rule: rules.map((r) => ({
      Expiration: r.expiration && {
        Date: r.expiration.date,
        Days: r.expiration.days,
        ExpiredObjectDeleteMarker: r.expiration.expiredObjectDeleteMarker,
      },
      ID: r.id,
      ...RULE_FILTER_XML[r.filterForm](r.filter),
      Status: r.enabled ? 'Enabled' : 'Disabled',
      Transition: r.transitions?.map((t) => ({ Date: t.date, Days: t.days, StorageClass: t.storageClass })),
      NoncurrentVersionTransition: r.noncurrentVersionTransitions?.map((t) => ({
        NoncurrentDays: t.noncurrentDays,
        StorageClass: t.storageClass,
        NewerNoncurrentVersions: t.newerNoncurrentVersions,
      })),
      NoncurrentVersionExpiration: r.noncurrentVersionExpiration && {
        NoncurrentDays: r.noncurrentVersionExpiration.noncurrentDays,
        NewerNoncurrentVersions: r.noncurrentVersionExpiration.newerNoncurrentVersions,
      },
      AbortIncompleteMultipartUpload:
        r.abortIncompleteMultipartUploadDays !== undefined ? { DaysAfterInitiation: r.abortIncompleteMultipartUploadDays } : undefined,
    })),
  };
}

export interface LifecycleObject {
  key: string;
  size: number;
  lastModified: Date;
  /** As the listing showed it (undefined: STANDARD). */
  storageClass?: string;
}

/** Whether the filter's key and size conditions hold (tags are checked separately: they cost a HEAD). */
export function filterMatchesWithoutTags(f: LifecycleFilter, o: LifecycleObject): boolean {
  if (!o.key.startsWith(f.prefix)) return false;
  if (f.sizeGreaterThan !== undefined && !(o.size > f.sizeGreaterThan)) return false;
  if (f.sizeLessThan !== undefined && !(o.size < f.sizeLessThan)) return false;
  return true;
}

export function tagsMatch(f: LifecycleFilter, tags: readonly Tag[]): boolean {
  return f.tags.every((want) => tags.some((t) => t.key === want.key && t.value === want.value));
}

/**
 * When an object a rule's Expiration covers becomes due: S3 adds the days to the object's
 * creation time and rounds up to the next midnight UTC. `dayMs` is one day (shortened only by
 * tests); midnights are multiples of it since the epoch.
 */
export function expiryTime(rule: LifecycleRule, lastModified: Date, dayMs: number): number | undefined {
  const e = rule.expiration;
  if (!e) return undefined;
  if (e.date !== undefined) return Date.parse(e.date);
  if (e.days === undefined) return undefined;
  const t = lastModified.getTime() + e.days * dayMs;
  return Math.ceil(t / dayMs) * dayMs;
}

/**
 * The x-amz-expiration value S3 answers for an object its rules will expire (PUT, GET, HEAD):
 * the earliest Expiration by Days or Date among the enabled rules whose filter holds, with that
 * rule's ID URL-encoded; undefined when none covers the object.
 */
export function expirationHeader(
  rules: LifecycleRule[],
  o: LifecycleObject & { tags?: readonly Tag[] },
  dayMs: number,
): string | undefined {
  let due: { at: number; id: string } | undefined;
  for (const r of rules) {
    if (!r.enabled || !filterMatchesWithoutTags(r.filter, o) || !tagsMatch(r.filter, o.tags ?? [])) continue;
    const at = expiryTime(r, o.lastModified, dayMs);
    if (at !== undefined && !Number.isNaN(at) && (due === undefined || at < due.at)) due = { at, id: r.id ?? '' };
  }
  return due && `expiry-date="${new Date(due.at).toUTCString()}", rule-id="${encodeURIComponent(due.id)}"`;
}

/**
 * When a noncurrent version becomes due under the rule's NoncurrentVersionExpiration: the days
 * count from when it stopped being current (its successor's creation), rounded up to midnight
 * UTC as for Expiration.
 */
export function noncurrentExpiryTime(rule: LifecycleRule, becameNoncurrent: Date, dayMs: number): number | undefined {
  const n = rule.noncurrentVersionExpiration;
  if (!n) return undefined;
  return Math.ceil((becameNoncurrent.getTime() + (n.noncurrentDays ?? 0) * dayMs) / dayMs) * dayMs;
}

/** When an upload begun at `initiated` is due for abort under the rule. */
export function abortTime(rule: LifecycleRule, initiated: Date, dayMs: number): number | undefined {
  const d = rule.abortIncompleteMultipartUploadDays;
  if (d === undefined) return undefined;
  return Math.ceil((initiated.getTime() + d * dayMs) / dayMs) * dayMs;
}

/** When the transition is due for an object last modified at `lastModified` (midnight UTC after Days, as for expiry). */
export function transitionTime(t: { days?: number; date?: string }, lastModified: Date, dayMs: number): number | undefined {
  if (t.date !== undefined) return Date.parse(t.date);
  if (t.days === undefined) return undefined;
  return Math.ceil((lastModified.getTime() + t.days * dayMs) / dayMs) * dayMs;
}

/**
 * The class the rules' due transitions take an object of class `current` to, or undefined
 * when none is due: the coldest due one, and only downwards (S3's waterfall: an object never
 * moves to a warmer class by a rule).
 */
export function dueTransition(
  rules: LifecycleRule[],
  o: LifecycleObject,
  current: string | undefined,
  now: number,
  dayMs: number,
): string | undefined {
  let best: string | undefined;
  for (const r of rules) {
    if (!filterMatchesWithoutTags(r.filter, o)) continue;
    for (const t of r.transitions ?? []) {
      if ((transitionTime(t, o.lastModified, dayMs) ?? Infinity) > now) continue;
      if (best === undefined || storageClassRank(t.storageClass) > storageClassRank(best)) best = t.storageClass;
    }
  }
  return best !== undefined && storageClassRank(best) > storageClassRank(current ?? 'STANDARD') ? best : undefined;
}

/**
 * A bucket's object lock configuration: whether lock is enabled (for good, once it is) and
 * the default retention new versions get. One bucket configuration document
 * (src/bucket-config/store.ts), so every replica enforces the same rules.
 */
import { S3Error } from '../errors';
import { bucketConfig } from '../bucket-config/store';
import type { BucketView } from '../router/bucket-view';
import { children, element, parseXml, text, type XmlObject } from '../s3/xml';
import { LOCK_MODES, type LockMode, type Retention } from './lock';

export const OBJECT_LOCK_DOCUMENT = 'object-lock';

export interface DefaultRetention {
  mode: LockMode;
  days?: number;
  years?: number;
}

export interface LockConfiguration {
  enabled: true;
  rule?: DefaultRetention;
}

/** The bucket's configuration; undefined when lock was never enabled (or the store has no reserved area). */
export async function lockConfiguration(view: BucketView): Promise<LockConfiguration | undefined> {
  if (!view.backend.reserved) return undefined;
  const doc = await bucketConfig.get<LockConfiguration>(view, OBJECT_LOCK_DOCUMENT);
  return doc?.enabled ? doc : undefined;
}

/** The retention a new version gets from the bucket's default rule, counted from `now`. */
export function defaultRetention(config: LockConfiguration | undefined, now = Date.now()): Retention | undefined {
  const rule = config?.rule;
  if (!rule) return undefined;
  const until = new Date(now);
  if (rule.days !== undefined) until.setUTCDate(until.getUTCDate() + rule.days);
  if (rule.years !== undefined) until.setUTCFullYear(until.getUTCFullYear() + rule.years);
  return { mode: rule.mode, until: until.toISOString() };
}

/** S3's limits on a default retention period. */
const MAX_DAYS = 36_500;
const MAX_YEARS = 100;

function period(value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw new S3Error('MalformedXML');
  const n = Number(value.trim());
  if (n <= 0) throw new S3Error('InvalidArgument', 'Default retention period must be a positive integer value.');
  if (n > max) throw new S3Error('InvalidArgument', 'Default retention period is too large.');
  return n;
}

/** PutObjectLockConfiguration's body, validated as S3 does. */
export function parseLockConfiguration(xml: string): LockConfiguration {
  const root = element(parseXml(xml), 'ObjectLockConfiguration', ['ObjectLockEnabled', 'Rule']);
  if (!root || text(root.ObjectLockEnabled) !== 'Enabled') throw new S3Error('MalformedXML');
  if (root.Rule === undefined) return { enabled: true };
  const rule = children(root.Rule, ['DefaultRetention']);
  if (rule.DefaultRetention === undefined) throw new S3Error('MalformedXML');
  const dr = children(rule.DefaultRetention, ['Mode', 'Days', 'Years']);
  const mode = text(dr.Mode);
  if (mode === undefined || !(LOCK_MODES as readonly string[]).includes(mode)) throw new S3Error('MalformedXML');
  const days = period(text(dr.Days), MAX_DAYS);
  const years = period(text(dr.Years), MAX_YEARS);
  if ((days === undefined) === (years === undefined)) throw new S3Error('MalformedXML');
  return { enabled: true, rule: { mode: mode as LockMode, ...(days !== undefined ? { days } : { years }) } };
}

/** GetObjectLockConfiguration's body. */
export function lockConfigurationXml(config: LockConfiguration): XmlObject {
  const r = config.rule;
  return {
    ObjectLockEnabled: 'Enabled',
    Rule: r ? { DefaultRetention: { Mode: r.mode, Days: r.days, Years: r.years } } : undefined,
  };
}

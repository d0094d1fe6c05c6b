/**
 * Object lock: Put/GetObjectLockConfiguration (bucket), Put/GetObjectRetention and
 * Put/GetObjectLegalHold (one version). The rules are src/object-lock/; the lock of each
 * version is kept by the version layer (src/versioning/objects.ts).
 */
import { S3Error } from '../../errors';
import { bucketConfig } from '../../bucket-config/store';
import { lockConfiguration, lockConfigurationXml, OBJECT_LOCK_DOCUMENT, parseLockConfiguration } from '../../object-lock/config';
import {
  checkRetentionChange,
  LEGAL_HOLDS,
  LOCK_MODES,
  missingLockConfiguration,
  parseUntil,
  type LegalHold,
  type LockMode,
  type Retention,
} from '../../object-lock/lock';
import { VERSIONING_DOCUMENT, VersionedObjects, versioningStatus } from '../../versioning/objects';
import type { Handler, S3Context } from '../context';
import { readXmlBody, requireIntegrityCheck } from '../payload';
import { bypassGovernance } from '../bypass-governance';
import { xmlResponse } from '../respond';
import { element, parseXml, text } from '../xml';
import { requestedVersion } from './objects';

async function readXml(ctx: S3Context, what: string): Promise<Record<string, unknown> | undefined> {
  requireIntegrityCheck(ctx, what);
  return parseXml(await readXmlBody(ctx, 64 * 1024));
}

export const getObjectLockConfiguration: Handler = async (ctx) => {
  const view = ctx.bucket();
  await view.exists();
  const config = await lockConfiguration(view);
  if (!config) throw new S3Error('ObjectLockConfigurationNotFoundError', undefined, { BucketName: ctx.bucketName });
  return xmlResponse('ObjectLockConfiguration', lockConfigurationXml(config));
};

export const putObjectLockConfiguration: Handler = async (ctx) => {
  const view = ctx.bucket();
  view.assertWritable();
  await view.exists();
  if (!view.backend.reserved) throw noLockHere(view.backend.kind);
  requireIntegrityCheck(ctx, 'PutObjectLockConfiguration requests');
  const config = parseLockConfiguration(await readXmlBody(ctx, 64 * 1024));
  // S3 enables lock on an existing bucket only when its versioning is Enabled.
  if (!(await lockConfiguration(view)) && (await versioningStatus(view)) !== 'Enabled') {
    throw new S3Error('InvalidBucketState', "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration");
  }
  await bucketConfig.set(view, OBJECT_LOCK_DOCUMENT, config);
  return { status: 200 };
};

/** Turns object lock on for a bucket just created (CreateBucket with x-amz-bucket-object-lock-enabled). */
export async function enableObjectLock(ctx: S3Context): Promise<void> {
  const view = ctx.bucket();
  await bucketConfig.set(view, VERSIONING_DOCUMENT, { status: 'Enabled' });
  await bucketConfig.set(view, OBJECT_LOCK_DOCUMENT, { enabled: true });
}

/** The refusal where a bucket cannot hold object lock: its store has no reserved area for s3mux's state. */
export function noLockHere(kind: string): S3Error {
  return new S3Error(
    'InvalidRequest',
    `Bucket is missing Object Lock Configuration: the ${kind} backend has no area for s3mux's state, so s3mux cannot keep object lock there.`,
  );
}

export const getObjectRetention: Handler = async (ctx) => {
  const objects = await VersionedObjects.of(ctx.bucket());
  const { lock } = await objects.lockOf(ctx.key, requestedVersion(ctx));
  if (!lock?.retention) throw new S3Error('NoSuchObjectLockConfiguration');
  return xmlResponse('Retention', { Mode: lock.retention.mode, RetainUntilDate: lock.retention.until });
};

function parseRetention(root: Record<string, unknown> | undefined): Retention | undefined {
  const r = element(root, 'Retention', ['Mode', 'RetainUntilDate']);
  if (!r) throw new S3Error('MalformedXML');
  const mode = text(r.Mode);
  const until = text(r.RetainUntilDate);
  if ((mode === undefined) !== (until === undefined)) throw new S3Error('MalformedXML');
  if (mode === undefined || until === undefined) return undefined;
  // In a body, Mode is an enumeration of S3's schema: another value (even 'governance') is
  // MalformedXML, where the same value in x-amz-object-lock-mode is InvalidArgument.
  if (!(LOCK_MODES as readonly string[]).includes(mode)) throw new S3Error('MalformedXML');
  return { mode: mode as LockMode, until: parseUntil(until, 'RetainUntilDate') };
}

export const putObjectRetention: Handler = async (ctx) => {
  const view = ctx.bucket();
  const objects = await VersionedObjects.of(view);
  if (!objects.lockConfig) throw missingLockConfiguration();
  const next = parseRetention(await readXml(ctx, 'PutObjectRetention requests'));
  const bypass = await bypassGovernance(ctx, ctx.key);
  await objects.setLock(ctx.key, requestedVersion(ctx), (current) => {
    checkRetentionChange(current?.retention, next, bypass);
    return { ...current, retention: next };
  });
  return { status: 200 };
};

export const getObjectLegalHold: Handler = async (ctx) => {
  const objects = await VersionedObjects.of(ctx.bucket());
  const { lock } = await objects.lockOf(ctx.key, requestedVersion(ctx));
  if (!lock?.legalHold) throw new S3Error('NoSuchObjectLockConfiguration');
  return xmlResponse('LegalHold', { Status: lock.legalHold });
};

export const putObjectLegalHold: Handler = async (ctx) => {
  const view = ctx.bucket();
  const objects = await VersionedObjects.of(view);
  // The body is read first: S3 answers a missing or malformed one MalformedXML in a bucket without lock too.
  const root = element(await readXml(ctx, 'PutObjectLegalHold requests'), 'LegalHold', ['Status']);
  const status = text(root?.Status);
  // In a body, Status is an enumeration of S3's schema: another value is MalformedXML, as for Mode.
  if (status === undefined || !(LEGAL_HOLDS as readonly string[]).includes(status)) throw new S3Error('MalformedXML');
  if (!objects.lockConfig) throw missingLockConfiguration();
  const hold = status as LegalHold;
  await objects.setLock(ctx.key, requestedVersion(ctx), (current) => ({ ...current, legalHold: hold }));
  return { status: 200 };
};

/**
 * RestoreObject (POST ?restore): the store's rehydration of an archived object (Azure Archive
 * to Hot). 202 when a restore began, 200 when the object is readable already, 409
 * RestoreAlreadyInProgress while one runs; InvalidObjectState for an object that is not
 * archived, as S3 answers (fs and memory keep classes as labels, so nothing there is).
 */
import { S3Error } from '../../errors';
import type { Handler } from '../context';
import { readXmlBody } from '../payload';
import { children, element, parseXml, text } from '../xml';

/** S3's retrieval tiers (GlacierJobParameters' Tier). */
const RETRIEVAL_TIERS = ['Standard', 'Bulk', 'Expedited'];

/** The Days of a RestoreRequest body (optional in S3's schema; an empty body restores with the store's default). */
function restoreDays(xml: string): number | undefined {
  if (xml.trim() === '') return undefined;
  const req = element(parseXml(xml), 'RestoreRequest', [
    'Days',
    'GlacierJobParameters',
    'Type',
    'Tier',
    'Description',
    'SelectParameters',
    'OutputLocation',
  ]);
  if (!req) throw new S3Error('MalformedXML');
  if (req.Type !== undefined || req.SelectParameters !== undefined || req.OutputLocation !== undefined) {
    throw new S3Error('NotImplemented', 'RestoreObject with SELECT is not supported.');
  }
  // GlacierJobParameters names the retrieval speed, and aws-cli's --restore-request and s3cmd's
  // restore always send it: it is checked as S3 checks it, while each store rehydrates at its own
  // one speed.
  const tier = text(children(req.GlacierJobParameters, ['Tier']).Tier);
  if (tier !== undefined && !RETRIEVAL_TIERS.includes(tier)) throw new S3Error('MalformedXML');
  const days = text(req.Days);
  if (days === undefined) return undefined;
  const n = Number(days);
  if (!/^[0-9]+$/.test(days) || n < 1) throw new S3Error('InvalidArgument', 'Days must be a positive integer.');
  return n;
}

export const restoreObject: Handler = async (ctx) => {
  const view = ctx.bucket();
  const days = restoreDays(await readXmlBody(ctx, 64 * 1024));
  const outcome = await view.restoreObject(ctx.key, days);
  if (outcome === 'ongoing') throw new S3Error('RestoreAlreadyInProgress');
  return { status: outcome === 'started' ? 202 : 200 };
};

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
  const days = text(children(req, ['Days']).Days);
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

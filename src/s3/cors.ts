/**
 * CORS at the front door: preflight OPTIONS requests answered from the bucket's rules (no
 * signature needed, as in S3), and the headers a matching rule adds to actual answers,
 * error answers included. The rules are the routing table's when a route fixes them, else
 * the bucket's stored CORS configuration.
 */
import type { IncomingMessage } from 'node:http';
import { S3Error, isS3Error } from '../errors';
import { bucketConfig } from '../bucket-config/store';
import { corsHeaders, matchCorsRule, requestedHeaders, type CorsRule } from '../bucket-config/cors';
import { BucketView } from '../router/bucket-view';
import type { Router } from '../router/router';
import { header } from './headers';

/** The name of the CORS document in a bucket's configuration. */
export const CORS_DOCUMENT = 'cors';

export interface StoredCors {
  rules: CorsRule[];
}

/** The rules in force for a bucket: the routing table's, else the stored ones (undefined: none). */
export async function corsRulesOf(view: BucketView): Promise<readonly CorsRule[] | undefined> {
  if (view.route.cors) return view.route.cors;
  return (await bucketConfig.get<StoredCors>(view, CORS_DOCUMENT))?.rules;
}

// Bucket names that can reach a store (see S3Context.bucket): anything else has no rules.
const PLAIN_BUCKET = /^[A-Za-z0-9._-]{1,255}$/;

function viewOf(router: Router, bucket: string): BucketView | undefined {
  return PLAIN_BUCKET.test(bucket) ? new BucketView(router.resolve(bucket)) : undefined;
}

/** A bucket that does not exist has no rules either, and S3's refusal says which. */
const NO_BUCKET = Symbol('no such bucket');
function noBucketNoRules(err: unknown): typeof NO_BUCKET {
  if (isS3Error(err, 'NoSuchBucket')) return NO_BUCKET;
  throw err;
}

/**
 * The answer to a preflight. S3 answers 400 without Origin; 403 AccessForbidden naming the
 * BUCKET (and the method asked for, else OPTIONS) when the bucket has no rules; then 400
 * without Access-Control-Request-Method, and 403 naming the resource when no rule allows it.
 */
export async function preflight(
  req: IncomingMessage,
  router: Router,
  bucket: string | undefined,
  isObject: boolean,
): Promise<Record<string, string>> {
  const origin = header(req.headers, 'origin');
  const method = header(req.headers, 'access-control-request-method');
  if (origin === undefined) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  const view = bucket === undefined ? undefined : viewOf(router, bucket);
  const rules = view && (await corsRulesOf(view).catch(noBucketNoRules));
  if (!rules || rules === NO_BUCKET) {
    // As S3 does, the refusal tells a missing bucket from one without rules (bucket names are no secret there).
    const why = rules === NO_BUCKET ? 'Bucket not found' : 'CORS is not enabled for this bucket.';
    throw new S3Error('AccessForbidden', `CORSResponse: ${why}`, { Method: method ?? 'OPTIONS', ResourceType: 'BUCKET' });
  }
  if (method === undefined) throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  const where = { Method: method, ResourceType: isObject ? 'OBJECT' : 'BUCKET' };
  const request = { origin, method, headers: requestedHeaders(header(req.headers, 'access-control-request-headers')) };
  const rule = matchCorsRule(rules, request);
  if (!rule) {
    throw new S3Error(
      'AccessForbidden',
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      where,
    );
  }
  return corsHeaders(rule, request, true);
}

/**
 * The CORS headers of an actual answer (success or error) to a request with an Origin:
 * the first rule allowing the origin and method. When the bucket has rules but none matches,
 * none, not even Vary, as S3 answers (it sends Vary only beside the headers of a rule).
 * Never throws: a bucket that cannot be read adds nothing.
 */
export async function actualCorsHeaders(req: IncomingMessage, router: Router, bucket: string | undefined): Promise<Record<string, string>> {
  const origin = header(req.headers, 'origin');
  if (origin === undefined || bucket === undefined) return {};
  try {
    const view = viewOf(router, bucket);
    const rules = view && (await corsRulesOf(view));
    if (!rules) return {};
    const request = { origin, method: req.method ?? 'GET', headers: [] };
    const rule = matchCorsRule(rules, request);
    return rule ? corsHeaders(rule, request, false) : {};
  } catch {
    return {};
  }
}

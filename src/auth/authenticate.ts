/**
 * The one entry point for request authentication: it refuses requests that carry more than
 * one mechanism, then hands SigV2 (`Authorization: AWS ...`, or ?AWSAccessKeyId&Signature)
 * to sigv2.ts and everything else (SigV4 header or presigned, or anonymous) to sigv4.ts.
 * POST Object (browser form uploads) carries its signature in the form instead; it arrives
 * here anonymous and post-form.ts (verifyFormSignature) verifies the form.
 */
import { S3Error } from '../errors';
import { authenticateV2, sigV2Kind, type SigV2Request } from './sigv2';
import { authenticateV4, type AuthOptions, type AuthResult, type CredentialLookup } from './sigv4';

export type { AuthResult, CredentialLookup } from './sigv4';

/** `region`: the region s3mux serves; V4 signatures must name it, V2 results carry it. */
export type AuthenticateOptions = AuthOptions;

function hasQueryParam(rawQuery: string, names: readonly string[]): boolean {
  if (rawQuery === '') return false; // most requests: nothing to split and decode
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    const raw = eq < 0 ? part : part.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      name = raw;
    }
    if (names.includes(name)) return true;
  }
  return false;
}

/**
 * Authenticates a request: anonymous when it carries no signature, else the verified signer
 * (SigV4 or SigV2). Throws S3Error with S3's code for every failure.
 */
export function authenticate(
  req: SigV2Request,
  lookup: CredentialLookup,
  now: Date = new Date(),
  opts: AuthenticateOptions = {},
): AuthResult {
  const authorization = req.headers['authorization'];
  const v4Query = hasQueryParam(req.rawQuery, ['X-Amz-Algorithm']);
  const v2Query = hasQueryParam(req.rawQuery, ['AWSAccessKeyId', 'Signature']);
  const mechanisms = (authorization !== undefined ? 1 : 0) + (v4Query ? 1 : 0) + (v2Query ? 1 : 0);
  if (mechanisms > 1) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: Array.isArray(authorization) ? authorization.join(',') : (authorization ?? '') },
    );
  }
  if (sigV2Kind(req) !== undefined) return authenticateV2(req, lookup, now, { maxSkewMs: opts.maxSkewMs, region: opts.region });
  const result = authenticateV4(req, lookup, now, opts);
  // A signature is only good for the service it names: this endpoint is S3.
  if (result.type !== 'anonymous' && result.service !== 's3') {
    const message = `The authorization header is malformed; incorrect service "${result.service}". This endpoint belongs to "s3".`;
    throw new S3Error(result.type === 'presigned' ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', message);
  }
  return result;
}

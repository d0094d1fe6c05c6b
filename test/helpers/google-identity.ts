/**
 * A local double of Google's token sources, following their documented wire formats:
 *
 * - the metadata server (GCE, and GKE's workload identity metadata server):
 *   GET /computeMetadata/v1/... with `Metadata-Flavor: Google`, answering with the same header;
 *   instance/service-accounts/default/token gives { access_token, expires_in, token_type };
 * - the Security Token Service of workload identity federation (external_account credentials):
 *   POST /v1/token, form-encoded RFC 8693 token exchange of a subject token for an access token;
 * - the OAuth 2.0 token endpoint of service accounts: POST /token, form-encoded
 *   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer with an RS256 `assertion` whose
 *   signature is checked with the registered key's public half (iss = the account's email,
 *   aud = a token endpoint, a scope, iat/exp at most an hour apart);
 * - IAM Credentials' generateAccessToken (service account impersonation):
 *   POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken with a bearer token this
 *   double issued, answering { accessToken, expireTime }.
 *
 * Each issued token is recorded, so a test can check the store received exactly that one.
 */
import { randomBytes, verify, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GoogleIdentityDouble {
  /** host:port, for GCE_METADATA_HOST */
  host: string;
  /** http://host:port/v1/token, for an external_account's token_url */
  stsUrl: string;
  /** http://host:port/token, for a service-account key's token_uri */
  oauthUrl: string;
  /** The impersonation URL of `email`, for an external_account's service_account_impersonation_url */
  impersonationUrl(email: string): string;
  projectId: string;
  /** Tokens issued, in order, with where they came from. */
  issued: { token: string; via: Via }[];
  /** Subject tokens the STS accepts. */
  acceptSubjectToken(token: string): void;
  /** A service account whose JWT grants are checked with `publicKey`. */
  addServiceAccount(email: string, publicKey: KeyObject): void;
  /** The claims of each JWT grant accepted. */
  grants: Record<string, unknown>[];
  /** Refusals, with why (for a test's message). */
  refused: string[];
  stop(): Promise<void>;
}

type Via = 'metadata' | 'sts' | 'jwt' | 'impersonation';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The token endpoints a service account's assertion may name as its audience. */
const GOOGLE_TOKEN_AUDIENCES = ['https://oauth2.googleapis.com/token', 'https://www.googleapis.com/oauth2/v4/token'];

/** Why a JWT grant is refused, or undefined (then its claims are in `claims`). */
function checkAssertion(jwt: string, keys: Map<string, KeyObject>, ownUrl: string, claims: Record<string, unknown>[]): string | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'the assertion is not a JWT';
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString()) as Record<string, unknown>;
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as Record<string, unknown>;
  } catch {
    return 'the assertion is not a JWT';
  }
  if (header.alg !== 'RS256') return `alg ${String(header.alg)} is not RS256`;
  const key = keys.get(String(payload.iss));
  if (!key) return `no service account ${String(payload.iss)}`;
  if (!verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], 'base64url'))) return 'Invalid JWT Signature.';
  if (![ownUrl, ...GOOGLE_TOKEN_AUDIENCES].includes(String(payload.aud))) return `aud ${String(payload.aud)} is not a token endpoint`;
  if (typeof payload.scope !== 'string' || !payload.scope) return 'no scope';
  const now = Date.now() / 1000;
  const iat = Number(payload.iat);
  const exp = Number(payload.exp);
  if (!(iat <= now + 60 && exp > now && exp - iat <= 3600)) return 'Invalid JWT: Token must be a short-lived token (60 minutes)';
  claims.push(payload);
  return undefined;
}

export async function startGoogleIdentityDouble(projectId = 'identity-test-project'): Promise<GoogleIdentityDouble> {
  const issued: GoogleIdentityDouble['issued'] = [];
  const subjects = new Set<string>();
  const accounts = new Map<string, KeyObject>();
  const grants: Record<string, unknown>[] = [];
  const refused: string[] = [];
  let base = '';
  const issue = (via: Via) => {
    const token = `ya29.test-${randomBytes(12).toString('hex')}`;
    issued.push({ token, via });
    return token;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: string, type = 'application/json', headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, ...headers });
      res.end(body);
    };
    if (url.pathname.startsWith('/computeMetadata/v1')) {
      // Requests without the header are refused, as the real server does (SSRF protection).
      if (req.headers['metadata-flavor'] !== 'Google') return send(403, 'Missing Metadata-Flavor header', 'text/plain');
      const flavor = { 'metadata-flavor': 'Google' };
      const path = url.pathname.slice('/computeMetadata/v1'.length).replace(/\/$/, '');
      if (path === '' || path === '/instance') return send(200, '{}', 'application/json', flavor);
      if (path === '/project/project-id') return send(200, projectId, 'application/text', flavor);
      if (path === '/universe/universe-domain') return send(200, 'googleapis.com', 'application/text', flavor);
      if (path === '/instance/service-accounts/default/token') {
        return send(
          200,
          JSON.stringify({ access_token: issue('metadata'), expires_in: 3599, token_type: 'Bearer' }),
          'application/json',
          flavor,
        );
      }
      if (path === '/instance/service-accounts/default/email')
        return send(200, `default@${projectId}.iam.gserviceaccount.com`, 'application/text', flavor);
      return send(404, 'Not Found', 'text/plain', flavor);
    }
    const readBody = (then: (body: string) => void) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        if (body.length < 64 * 1024) body += c;
      });
      req.on('end', () => then(body));
    };
    const refuse = (status: number, error: string, description: string) => {
      refused.push(description);
      send(status, JSON.stringify({ error, error_description: description }));
    };
    if (url.pathname === '/token' && req.method === 'POST') {
      readBody((body) => {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== JWT_BEARER) return refuse(400, 'unsupported_grant_type', 'Invalid grant_type');
        const why = checkAssertion(form.get('assertion') ?? '', accounts, `${base}/token`, grants);
        if (why) return refuse(400, 'invalid_grant', why);
        send(200, JSON.stringify({ access_token: issue('jwt'), expires_in: 3599, token_type: 'Bearer' }));
      });
      return;
    }
    const impersonate = /^\/v1\/projects\/-\/serviceAccounts\/([^/]+):generateAccessToken$/.exec(url.pathname);
    if (impersonate && req.method === 'POST') {
      readBody((body) => {
        const caller = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        // Only a token this double issued (from the STS) may impersonate.
        if (!caller || !issued.some((t) => t.token === caller && t.via === 'sts'))
          return refuse(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
        let scope: unknown;
        try {
          scope = (JSON.parse(body) as { scope?: unknown }).scope;
        } catch {
          return refuse(400, 'INVALID_ARGUMENT', 'body is not JSON');
        }
        if (!Array.isArray(scope) || scope.length === 0) return refuse(400, 'INVALID_ARGUMENT', 'scope is empty');
        const email = decodeURIComponent(impersonate[1]);
        send(
          200,
          JSON.stringify({ accessToken: issue('impersonation'), expireTime: new Date(Date.now() + 3600_000).toISOString(), email }),
        );
      });
      return;
    }
    if (url.pathname === '/v1/token' && req.method === 'POST') {
      readBody((body) => {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange') {
          return send(400, JSON.stringify({ error: 'invalid_grant', error_description: 'grant_type must be token-exchange' }));
        }
        if (!subjects.has(form.get('subject_token') ?? '')) {
          return send(400, JSON.stringify({ error: 'invalid_grant', error_description: 'The subject token is not valid.' }));
        }
        send(
          200,
          JSON.stringify({
            access_token: issue('sts'),
            issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            token_type: 'Bearer',
            expires_in: 3600,
          }),
        );
      });
      return;
    }
    send(404, JSON.stringify({ error: 'not_found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    stsUrl: `${base}/v1/token`,
    oauthUrl: `${base}/token`,
    impersonationUrl: (email) => `${base}/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:generateAccessToken`,
    addServiceAccount: (email, publicKey) => void accounts.set(email, publicKey),
    grants,
    refused,
    projectId,
    issued,
    acceptSubjectToken: (t) => void subjects.add(t),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

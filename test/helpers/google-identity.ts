/**
 * A local double of Google's two token sources that Application Default Credentials reach
 * without a key file, following their documented wire formats:
 *
 * - the metadata server (GCE, and GKE's workload identity metadata server):
 *   GET /computeMetadata/v1/... with `Metadata-Flavor: Google`, answering with the same header;
 *   instance/service-accounts/default/token gives { access_token, expires_in, token_type };
 * - the Security Token Service of workload identity federation (external_account credentials):
 *   POST /v1/token, form-encoded RFC 8693 token exchange of a subject token for an access token.
 *
 * Each issued token is recorded, so a test can check the store received exactly that one.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GoogleIdentityDouble {
  /** host:port, for GCE_METADATA_HOST */
  host: string;
  /** http://host:port/v1/token, for an external_account's token_url */
  stsUrl: string;
  projectId: string;
  /** Tokens issued, in order, with where they came from. */
  issued: { token: string; via: 'metadata' | 'sts' }[];
  /** Subject tokens the STS accepts. */
  acceptSubjectToken(token: string): void;
  stop(): Promise<void>;
}

export async function startGoogleIdentityDouble(projectId = 'identity-test-project'): Promise<GoogleIdentityDouble> {
  const issued: GoogleIdentityDouble['issued'] = [];
  const subjects = new Set<string>();
  const issue = (via: 'metadata' | 'sts') => {
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
    if (url.pathname === '/v1/token' && req.method === 'POST') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        if (body.length < 64 * 1024) body += c;
      });
      req.on('end', () => {
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
  return {
    host: `127.0.0.1:${port}`,
    stsUrl: `http://127.0.0.1:${port}/v1/token`,
    projectId,
    issued,
    acceptSubjectToken: (t) => void subjects.add(t),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

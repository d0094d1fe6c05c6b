/**
 * Local doubles of AWS's token services, following their documented wire formats:
 * - STS (query protocol, POST form): AssumeRole, which must be SigV4-signed by the source
 *   access key and, when the double is told one, carry the ExternalId; and
 *   AssumeRoleWithWebIdentity, whose WebIdentityToken must be the expected token.
 * - the ECS container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, with the
 *   Authorization token ECS gives the task).
 * - the EC2 instance metadata service, IMDSv2 (a session token from PUT /latest/api/token
 *   required on every GET).
 * Each hands out one set of temporary credentials, which a test makes the identity of a store.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface TokenServiceDouble {
  url: string;
  /** What each request asked for, in order (`AssumeRole`, `AssumeRoleWithWebIdentity`, `ecs`, `imds-token` ...). */
  calls: string[];
  close(): Promise<void>;
}

const EXPIRATION = () => new Date(Date.now() + 3600_000).toISOString();

async function listen(
  handler: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void,
): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function closer(server: http.Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

function stsError(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'text/xml' });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r1</RequestId></ErrorResponse>`,
  );
}

function credentialsXml(c: TemporaryCredentials): string {
  return `<Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${c.secretAccessKey}</SecretAccessKey><SessionToken>${c.sessionToken}</SessionToken><Expiration>${EXPIRATION()}</Expiration></Credentials>`;
}

export interface StsDoubleOptions {
  issue: TemporaryCredentials;
  roleArn: string;
  /** AssumeRole must be signed with this access key id. */
  sourceAccessKeyId?: string;
  /** AssumeRole must carry this ExternalId (the role's trust policy condition). */
  externalId?: string;
  /** AssumeRoleWithWebIdentity must carry this token. */
  webIdentityToken?: string;
}

export async function startStsDouble(opts: StsDoubleOptions): Promise<TokenServiceDouble> {
  const calls: string[] = [];
  const { server, url } = await listen((req, body, res) => {
    const form = new URLSearchParams(body);
    const action = form.get('Action') ?? '';
    calls.push(action);
    if (req.method !== 'POST') return stsError(res, 400, 'InvalidAction', 'POST only');
    if (form.get('RoleArn') !== opts.roleArn) return stsError(res, 403, 'AccessDenied', 'Not authorized to perform sts:AssumeRole');
    const xmlns = 'https://sts.amazonaws.com/doc/2011-06-15/';
    const user = `<AssumedRoleUser><Arn>${opts.roleArn}/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>`;
    if (action === 'AssumeRole') {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('AWS4-HMAC-SHA256 ') || (opts.sourceAccessKeyId && !auth.includes(`Credential=${opts.sourceAccessKeyId}/`))) {
        return stsError(res, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
      }
      if (opts.externalId !== undefined && form.get('ExternalId') !== opts.externalId) {
        return stsError(res, 403, 'AccessDenied', 'Not authorized to perform sts:AssumeRole (external id)');
      }
      res.writeHead(200, { 'content-type': 'text/xml' });
      return res.end(
        `<AssumeRoleResponse xmlns="${xmlns}"><AssumeRoleResult>${credentialsXml(opts.issue)}${user}</AssumeRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
    }
    if (action === 'AssumeRoleWithWebIdentity') {
      if (form.get('WebIdentityToken') !== opts.webIdentityToken)
        return stsError(res, 400, 'InvalidIdentityToken', 'The token is not valid');
      res.writeHead(200, { 'content-type': 'text/xml' });
      return res.end(
        `<AssumeRoleWithWebIdentityResponse xmlns="${xmlns}"><AssumeRoleWithWebIdentityResult>${credentialsXml(opts.issue)}${user}<SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
      );
    }
    stsError(res, 400, 'InvalidAction', `unknown action ${action}`);
  });
  return { url, calls, close: closer(server) };
}

function credentialsJson(c: TemporaryCredentials): Record<string, string> {
  return { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: EXPIRATION() };
}

/** The ECS container credentials endpoint: GET with the task's Authorization token. */
export async function startEcsDouble(issue: TemporaryCredentials, authorization: string): Promise<TokenServiceDouble> {
  const calls: string[] = [];
  const { server, url } = await listen((req, _body, res) => {
    calls.push('ecs');
    if (req.method !== 'GET' || req.headers.authorization !== authorization) {
      res.writeHead(403, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ code: 'AccessDenied', message: 'bad authorization token' }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...credentialsJson(issue), RoleArn: 'arn:aws:iam::123456789012:role/task' }));
  });
  return { url: `${url}/v2/credentials/task`, calls, close: closer(server) };
}

/** IMDSv2: PUT /latest/api/token, then GETs carrying that token. */
export async function startImdsDouble(issue: TemporaryCredentials, role = 'instance-role'): Promise<TokenServiceDouble> {
  const calls: string[] = [];
  const session = 'imds-session-token';
  const { server, url } = await listen((req, _body, res) => {
    const p = req.url ?? '';
    if (req.method === 'PUT' && p === '/latest/api/token') {
      calls.push('imds-token');
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) {
        res.writeHead(400);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(session);
    }
    calls.push(`GET ${p}`);
    if (req.headers['x-aws-ec2-metadata-token'] !== session) {
      res.writeHead(401);
      return res.end();
    }
    const base = /^\/latest\/meta-data\/iam\/security-credentials(-extended)?\/$/;
    if (base.test(p)) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(role);
    }
    if (p === `/latest/meta-data/iam/security-credentials/${role}` || p === `/latest/meta-data/iam/security-credentials-extended/${role}`) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(
        JSON.stringify({ Code: 'Success', Type: 'AWS-HMAC', LastUpdated: new Date().toISOString(), ...credentialsJson(issue) }),
      );
    }
    res.writeHead(404);
    res.end();
  });
  return { url, calls, close: closer(server) };
}

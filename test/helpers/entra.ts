/**
 * Test doubles for Entra ID (Microsoft identity platform) token flows, on 127.0.0.1 only:
 *
 * - an HTTPS authority that follows the documented wire format: OpenID discovery at
 *   /{tenant}/v2.0/.well-known/openid-configuration and the token endpoint
 *   POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials, authenticating the
 *   client by client_secret, by a client_assertion JWT signed with the client's certificate
 *   key (RS256 or PS256, verified here with the certificate's public key, x5t / x5t#S256 must
 *   name it), or by a federated token (workload identity: the assertion is the token file);
 * - an App Service style managed identity endpoint (plain HTTP, as App Service has it):
 *   GET ?api-version=2019-08-01&resource=...[&client_id|mi_res_id|object_id] with the
 *   X-IDENTITY-HEADER secret;
 * - the instance metadata service's managed identity endpoint (VMs, AKS pod identity):
 *   GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...
 *   [&client_id|msi_res_id|object_id] with `Metadata: true`; a request without that header
 *   (the SDK's availability probe) is refused with 400, as IMDS does.
 *
 * Access tokens are JWTs with the claims Azure Storage (and Azurite's `--oauth basic`) checks:
 * aud https://storage.azure.com, iss https://sts.windows.net/{tenant}/, iat/nbf/exp.
 * Plus Azurite itself with HTTPS and `--oauth basic`. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createHash, createPrivateKey, randomUUID, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { AZURITE_ACCOUNT, AZURITE_KEY } from './azurite';

export const STORAGE_AUDIENCE = 'https://storage.azure.com';

export interface EntraClient {
  clientSecret?: string;
  /** PEM of the client's certificate: assertions must be signed with its key. */
  certificate?: string;
  /** The federated token (workload identity) this client may present as its assertion. */
  federatedToken?: string;
  /** The `aud` of the access tokens it gets (default: storage); another value makes storage refuse them. */
  audience?: string;
}

export interface TokenRequestRecord {
  via: 'token-endpoint' | 'managed-identity' | 'imds';
  tenant?: string;
  clientId?: string;
  /** How the client authenticated: client_secret, certificate (alg of the assertion), federated, or the MI id parameter. */
  auth: string;
  scopeOrResource: string;
  ok: boolean;
  error?: string;
}

export interface EntraDouble {
  /** https://127.0.0.1:PORT, the authorityHost. */
  authorityHost: string;
  /** http://127.0.0.1:PORT/msi/token, for IDENTITY_ENDPOINT. */
  identityEndpoint: string;
  /** The value of IDENTITY_HEADER the managed identity endpoint requires. */
  identityHeader: string;
  /** http://127.0.0.1:PORT, for AZURE_POD_IDENTITY_AUTHORITY_HOST (where IMDS is). */
  imdsHost: string;
  /** An access token for `clientId` as the platform would issue it (what `az account get-access-token` prints), recorded in `issued`. */
  mint(clientId: string): { token: string; exp: number };
  tenantId: string;
  clients: Map<string, EntraClient>;
  /** Managed identities: the id parameter given ('' for system-assigned) → the client id their tokens name. */
  managedIdentities: Map<string, string>;
  requests: TokenRequestRecord[];
  /** Every access token issued, decoded claims. */
  issued: Record<string, unknown>[];
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function decodeJwt(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: Buffer; signature: Buffer } {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  return {
    header: JSON.parse(Buffer.from(parts[0], 'base64url').toString()),
    claims: JSON.parse(Buffer.from(parts[1], 'base64url').toString()),
    signed: Buffer.from(`${parts[0]}.${parts[1]}`),
    signature: Buffer.from(parts[2], 'base64url'),
  };
}

/** Verifies a client assertion as the Microsoft identity platform does; returns its alg, or throws why not. */
export function verifyClientAssertion(jwt: string, certPem: string, clientId: string, tokenEndpoint: string): string {
  const { header, claims, signed, signature } = decodeJwt(jwt);
  const cert = new X509Certificate(certPem);
  const x5t = b64url(createHash('sha1').update(cert.raw).digest());
  const x5tS256 = b64url(createHash('sha256').update(cert.raw).digest());
  if (header.x5t !== x5t && header['x5t#S256'] !== x5tS256)
    throw new Error('AADSTS700027: the assertion names no registered certificate (x5t)');
  let ok: boolean;
  if (header.alg === 'RS256') ok = verify('sha256', signed, cert.publicKey, signature);
  else if (header.alg === 'PS256') {
    ok = verify(
      'sha256',
      signed,
      { key: cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
      signature,
    );
  } else throw new Error(`AADSTS700027: unsupported alg ${String(header.alg)}`);
  if (!ok) throw new Error('AADSTS700027: the assertion signature does not verify with the certificate');
  const now = Date.now() / 1000;
  if (claims.aud !== tokenEndpoint) throw new Error(`AADSTS700021: assertion audience ${String(claims.aud)} is not ${tokenEndpoint}`);
  if (claims.iss !== clientId || claims.sub !== clientId) throw new Error('AADSTS700023: assertion iss/sub is not the client id');
  if (typeof claims.exp !== 'number' || claims.exp < now - 60) throw new Error('AADSTS700024: the assertion has expired');
  if (typeof claims.nbf === 'number' && claims.nbf > now + 300) throw new Error('AADSTS700024: the assertion is not valid yet');
  if (typeof claims.jti !== 'string' || !claims.jti) throw new Error('AADSTS700025: the assertion has no jti');
  return String(header.alg);
}

function accessToken(
  key: KeyObject,
  tenant: string,
  clientId: string,
  audience: string,
): { token: string; claims: Record<string, unknown>; exp: number } {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + 3600;
  const claims = {
    aud: audience,
    iss: `https://sts.windows.net/${tenant}/`,
    iat: now,
    nbf: now - 5,
    exp,
    appid: clientId,
    azp: clientId,
    oid: randomUUID(),
    sub: randomUUID(),
    tid: tenant,
    ver: '1.0',
    uti: randomUUID(),
  };
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: 'double' }));
  const body = b64url(JSON.stringify(claims));
  const sig = sign('sha256', Buffer.from(`${head}.${body}`), key);
  return { token: `${head}.${body}.${b64url(sig)}`, claims, exp };
}

function readBody(req: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      s += c;
      if (s.length > limit) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function aadError(res: http.ServerResponse, status: number, error: string, description: string): void {
  json(res, status, {
    error,
    error_description: `${description}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)],
    timestamp: new Date().toISOString(),
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** A managed identity token request: which identity it names (by one of `params`, none: system-assigned), and its record. */
function identityRequest(via: TokenRequestRecord['via'], q: URLSearchParams, params: string[]) {
  const idParam = params.find((p) => q.has(p));
  const id = idParam ? (q.get(idParam) ?? '') : '';
  const record: TokenRequestRecord = {
    via,
    auth: idParam ? `${idParam}=${id}` : 'system-assigned',
    scopeOrResource: q.get('resource') ?? '',
    ok: false,
  };
  return { idParam, id, record };
}

/** Starts the double; `tls` is the server certificate and key (PEM paths' contents) for the HTTPS authority. */
export async function startEntraDouble(tls: { cert: string; key: string }, tenantId = randomUUID()): Promise<EntraDouble> {
  const signingKey = createPrivateKey(tls.key);
  const clients = new Map<string, EntraClient>();
  const managedIdentities = new Map<string, string>();
  const requests: TokenRequestRecord[] = [];
  const issued: Record<string, unknown>[] = [];
  const identityHeader = randomUUID();
  let authorityHost = '';

  const issue = (res: http.ServerResponse, tenant: string, clientId: string, audience: string, mi: boolean) => {
    const t = accessToken(signingKey, tenant, clientId, audience);
    issued.push(t.claims);
    if (mi)
      json(res, 200, {
        access_token: t.token,
        expires_on: String(t.exp),
        resource: STORAGE_AUDIENCE,
        token_type: 'Bearer',
        client_id: clientId,
      });
    else json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: t.token });
  };

  const entra = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', authorityHost);
    const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
    if (req.method === 'GET' && discovery) {
      const t = discovery[1];
      const base = `${authorityHost}/${t}`;
      json(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${authorityHost}/${t}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'tid', 'ver'],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
        rbac_url: 'https://pas.windows.net',
      });
      return;
    }
    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (req.method === 'POST' && tokenPath) {
      const tenant = tokenPath[1];
      const form = new URLSearchParams(await readBody(req));
      const clientId = form.get('client_id') ?? '';
      const scope = form.get('scope') ?? '';
      const record: TokenRequestRecord = { via: 'token-endpoint', tenant, clientId, auth: '?', scopeOrResource: scope, ok: false };
      requests.push(record);
      const fail = (status: number, error: string, description: string) => {
        record.error = description;
        aadError(res, status, error, description);
      };
      if (tenant !== tenantId) return fail(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
      if (form.get('grant_type') !== 'client_credentials')
        return fail(400, 'unsupported_grant_type', 'AADSTS70003: only client_credentials here');
      if (!scope.split(' ').includes(`${STORAGE_AUDIENCE}/.default`))
        return fail(400, 'invalid_scope', `AADSTS70011: scope '${scope}' is not ${STORAGE_AUDIENCE}/.default`);
      const client = clients.get(clientId);
      if (!client)
        return fail(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${clientId}' was not found in the directory.`);
      const secret = form.get('client_secret');
      const assertion = form.get('client_assertion');
      if (secret !== null) {
        record.auth = 'client_secret';
        if (client.clientSecret === undefined || secret !== client.clientSecret)
          return fail(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
      } else if (assertion !== null) {
        if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
          return fail(400, 'invalid_request', 'AADSTS50027: bad client_assertion_type');
        if (client.federatedToken !== undefined) {
          record.auth = 'federated';
          if (assertion !== client.federatedToken)
            return fail(401, 'invalid_client', 'AADSTS700213: No matching federated identity record found for presented assertion.');
        } else if (client.certificate !== undefined) {
          try {
            record.auth = `certificate:${verifyClientAssertion(assertion, client.certificate, clientId, `${authorityHost}/${tenant}/oauth2/v2.0/token`)}`;
          } catch (err) {
            return fail(401, 'invalid_client', (err as Error).message);
          }
        } else return fail(401, 'invalid_client', 'AADSTS700027: the client has no certificate or federated credential');
      } else return fail(401, 'invalid_client', 'AADSTS7000218: The request body must contain client_assertion or client_secret.');
      record.ok = true;
      issue(res, tenant, clientId, client.audience ?? STORAGE_AUDIENCE, false);
      return;
    }
    json(res, 404, { error: 'not_found', path: url.pathname });
  };

  const managedIdentity = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // MSAL adds a '/' to the path IMDS documents; IMDS takes either.
    if (url.pathname.replace(/\/$/, '') === '/metadata/identity/oauth2/token') return imds(req, res, url);
    const q = url.searchParams;
    const { idParam, id, record } = identityRequest('managed-identity', q, ['client_id', 'mi_res_id', 'object_id']);
    requests.push(record);
    const fail = (status: number, message: string) => {
      record.error = message;
      json(res, status, { statusCode: status, message, correlationId: randomUUID() });
    };
    if (url.pathname !== '/msi/token' || req.method !== 'GET') return fail(404, 'not found');
    if (req.headers['x-identity-header'] !== identityHeader) return fail(401, 'missing or wrong X-IDENTITY-HEADER');
    if (q.get('api-version') !== '2019-08-01') return fail(400, `unsupported api-version ${q.get('api-version')}`);
    if (q.get('resource') !== STORAGE_AUDIENCE && q.get('resource') !== `${STORAGE_AUDIENCE}/`)
      return fail(400, `resource ${q.get('resource')} is not ${STORAGE_AUDIENCE}`);
    const clientId = managedIdentities.get(id);
    if (clientId === undefined) return fail(400, `No managed identity found for ${idParam ?? 'system-assigned'} '${id}'`);
    record.ok = true;
    issue(res, tenantId, clientId, STORAGE_AUDIENCE, true);
  };

  const imds = (req: http.IncomingMessage, res: http.ServerResponse, url: URL): void => {
    const q = url.searchParams;
    const { idParam, id, record } = identityRequest('imds', q, ['client_id', 'msi_res_id', 'object_id']);
    const fail = (status: number, error: string, description: string) => {
      record.error = description;
      json(res, status, { error, error_description: description });
    };
    // The SDK's availability probe sends no Metadata header and no query: IMDS answers 400.
    if (req.headers.metadata !== 'true') return fail(400, 'invalid_request', 'Required metadata header not specified');
    requests.push(record);
    if (req.method !== 'GET') return fail(405, 'invalid_request', 'GET only');
    if (q.get('api-version') !== '2018-02-01') return fail(400, 'invalid_request', `unsupported api-version ${q.get('api-version')}`);
    if (q.get('resource') !== STORAGE_AUDIENCE && q.get('resource') !== `${STORAGE_AUDIENCE}/`)
      return fail(400, 'invalid_resource', `resource ${q.get('resource')} is not ${STORAGE_AUDIENCE}`);
    const clientId = managedIdentities.get(id);
    if (clientId === undefined) return fail(400, 'invalid_request', `Identity not found for ${idParam ?? 'system-assigned'} '${id}'`);
    record.ok = true;
    const t = accessToken(signingKey, tenantId, clientId, STORAGE_AUDIENCE);
    issued.push(t.claims);
    json(res, 200, {
      access_token: t.token,
      client_id: clientId,
      expires_in: '3599',
      expires_on: String(t.exp),
      ext_expires_in: '3599',
      not_before: String(t.exp - 3600),
      resource: STORAGE_AUDIENCE,
      token_type: 'Bearer',
    });
  };

  const onError = (res: http.ServerResponse) => (err: unknown) => {
    if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(err) });
    else res.destroy();
  };
  const secure = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => void entra(req, res).catch(onError(res)));
  const plain = http.createServer((req, res) => {
    try {
      managedIdentity(req, res);
    } catch (err) {
      onError(res)(err);
    }
  });
  const securePort = await listen(secure);
  const plainPort = await listen(plain);
  authorityHost = `https://127.0.0.1:${securePort}`;
  const close = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  return {
    authorityHost,
    identityEndpoint: `http://127.0.0.1:${plainPort}/msi/token`,
    identityHeader,
    imdsHost: `http://127.0.0.1:${plainPort}`,
    mint: (clientId) => {
      const t = accessToken(signingKey, tenantId, clientId, STORAGE_AUDIENCE);
      issued.push(t.claims);
      return { token: t.token, exp: t.exp };
    },
    tenantId,
    clients,
    managedIdentities,
    requests,
    issued,
    close: async () => {
      await Promise.all([close(secure), close(plain)]);
    },
  };
}

export interface SecureAzurite {
  port: number;
  /** https://127.0.0.1:<port>/devstoreaccount1 */
  endpoint: string;
  account: string;
  accountKey: string;
  process: ChildProcess;
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Azurite's blob service over HTTPS with `--oauth basic`: it then takes bearer tokens (checking
 * their audience, issuer prefix and lifetime, not their signature) besides shared keys.
 */
export async function startAzuriteWithOAuth(
  tls: { certFile: string; keyFile: string; ca: string },
  startTimeoutMs = 20_000,
): Promise<SecureAzurite> {
  const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const env = { ...process.env };
  delete env.AZURITE_ACCOUNTS;
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--extentMemoryLimit',
      '256',
      '--disableTelemetry',
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--oauth',
      'basic',
      '--cert',
      tls.certFile,
      '--key',
      tls.keyFile,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    if (out.length < 16_384) out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    if (out.length < 16_384) out += d.toString();
  });
  const stop = async (timeoutMs = 5000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  };
  try {
    // Port 0: Azurite picks one and prints it ("Azurite Blob service successfully listens on https://127.0.0.1:PORT").
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`azurite (https, oauth) did not start within ${startTimeoutMs} ms: ${out}`)),
        startTimeoutMs,
      );
      const look = () => {
        const m = /listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', look);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`azurite exited (${code}): ${out}`));
      });
    });
    // Something answers over TLS with the expected certificate.
    await new Promise<void>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path: `/${AZURITE_ACCOUNT}?comp=list`, ca: tls.ca, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
    return {
      port,
      endpoint: `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`,
      account: AZURITE_ACCOUNT,
      accountKey: AZURITE_KEY,
      process: child,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

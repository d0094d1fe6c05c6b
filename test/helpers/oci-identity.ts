/**
 * Local doubles of OCI's identity token sources for instance principals: the instance
 * metadata service (`/opc/v2/identity/cert.pem`, `key.pem`, `intermediate.pem`,
 * `/opc/v2/instance/region`, each only with `Authorization: Bearer Oracle`) and the auth
 * service's X.509 federation endpoint (`POST /v1/x509`), on one node:http server.
 *
 * The federation endpoint checks what OCI's does as far as a double can: the request is signed
 * (keyId `<tenancy>/fed-x509/<sha1 fingerprint of the leaf certificate, aa:bb:...>`, verified with the
 * certificate's key), the certificate names the tenancy (`opc-tenant:`), and the session
 * public key is given. It answers a session token and registers `ST$<token>` with that public
 * key on the Object Storage double, as OCI's services then accept it.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { OciDouble } from './oci-double';

export interface InstanceIdentityDouble {
  metadataBaseUrl: string;
  federationEndpoint: string;
  /** Federation requests served (signature verified). */
  tokensIssued: number;
  stop(): Promise<void>;
}

/** A self-signed certificate and its key, made with openssl. */
function certificate(subject: string, extra: string[] = []): { cert: string; key: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-oci-cert-'));
  try {
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        subject,
        ...extra,
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { timeout: 30_000 },
    );
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr?.toString()}`);
    return { cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'), key: readFileSync(path.join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startInstanceIdentityDouble(storage: OciDouble, tenancy: string): Promise<InstanceIdentityDouble> {
  const leaf = certificate(
    `/CN=ocid1.instance.oc1..s3muxtest/OU=opc-certtype:instance/OU=opc-compartment:ocid1.compartment.oc1..x/OU=opc-tenant:${tenancy}`,
  );
  const intermediate = certificate('/CN=PKISVC Identity Intermediate test');
  const leafX509 = new crypto.X509Certificate(leaf.cert);
  const fingerprint = crypto.createHash('sha1').update(leafX509.raw).digest('hex');
  const state = { tokensIssued: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const fail = (status: number, message: string) => {
        if (process.env.OCI_IDENTITY_DEBUG) process.stderr.write(`identity double: ${message}\n`);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: status === 401 ? 'NotAuthenticated' : 'NotFound', message }));
      };
      const url = req.url ?? '';
      if (url.startsWith('/opc/v2/')) {
        if (req.headers.authorization !== 'Bearer Oracle') return fail(401, 'metadata requests need Authorization: Bearer Oracle');
        const files: Record<string, string> = {
          '/opc/v2/identity/cert.pem': leaf.cert,
          '/opc/v2/identity/key.pem': leaf.key,
          '/opc/v2/identity/intermediate.pem': intermediate.cert,
          '/opc/v2/instance/region': 'us-ashburn-1',
        };
        const f = files[url];
        if (f === undefined) return fail(404, `no ${url}`);
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(f);
      }
      if (url === '/v1/x509' && req.method === 'POST') {
        const m = /^Signature (.*)$/.exec(req.headers.authorization ?? '');
        if (!m) return fail(401, 'unsigned');
        const p: Record<string, string> = {};
        for (const x of m[1].matchAll(/(\w+)="([^"]*)"/g)) p[x[1]] = x[2];
        // The SDK writes the fingerprint as colon-separated hex pairs.
        const [kTenancy, kind, kFinger] = (p.keyId ?? '').split('/');
        if (kTenancy !== tenancy || kind !== 'fed-x509' || kFinger?.replace(/:/g, '').toLowerCase() !== fingerprint)
          return fail(401, `unexpected keyId ${p.keyId}`);
        const lines = (p.headers ?? '')
          .split(' ')
          .map((h) =>
            h === '(request-target)' ? `(request-target): post ${url}` : `${h.toLowerCase()}: ${String(req.headers[h.toLowerCase()])}`,
          );
        if (!crypto.verify('sha256', Buffer.from(lines.join('\n')), leafX509.publicKey, Buffer.from(p.signature ?? '', 'base64')))
          return fail(401, 'bad signature');
        const d = JSON.parse(body.toString()) as { certificate?: string; publicKey?: string };
        const sent = new crypto.X509Certificate(
          `-----BEGIN CERTIFICATE-----\n${(d.certificate ?? '').replace(/\s+/g, '')}\n-----END CERTIFICATE-----\n`,
        );
        if (!sent.subject.includes(`opc-tenant:${tenancy}`)) return fail(401, 'the certificate names another tenancy');
        const sessionKey = crypto.createPublicKey(
          `-----BEGIN PUBLIC KEY-----\n${(d.publicKey ?? '')
            .replace(/\s+/g, '')
            .match(/.{1,64}/g)!
            .join('\n')}\n-----END PUBLIC KEY-----\n`,
        );
        const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const token = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({ sub: 'ocid1.instance.oc1..s3muxtest', tenant: tenancy, res_tenant: tenancy, exp: Math.floor(Date.now() / 1000) + 3600, n: state.tokensIssued })}.${crypto.randomBytes(32).toString('base64url')}`;
        storage.addKey(`ST$${token}`, sessionKey);
        state.tokensIssued++;
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ token }));
      }
      return fail(404, `no ${url}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    metadataBaseUrl: `${base}/opc/v2/`,
    federationEndpoint: base,
    get tokensIssued() {
      return state.tokensIssued;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface ProxymuxDouble {
  host: string;
  port: number;
  /** The proxymux's certificate: the CA the pod trusts for it. */
  caPem: string;
  /** The service-account token it accepts. */
  serviceAccountToken: string;
  tokensIssued: number;
  stop(): Promise<void>;
}

/**
 * A double of OKE's proxymux (`POST https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT_PROXYMUX/resourcePrincipalSessionTokens`):
 * TLS with its own certificate, the pod's service-account token as a bearer token, the pod's
 * session public key as `podKey`; it answers base64 of `{"token":"ST$<rpst>"}` and registers
 * the token with that key on the Object Storage double.
 */
export async function startProxymuxDouble(storage: OciDouble, tenancy: string): Promise<ProxymuxDouble> {
  const tls = certificate('/CN=proxymux.test', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  const serviceAccountToken = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:apps:s3mux' })).toString('base64url')}.sig`;
  const state = { tokensIssued: 0 };
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/resourcePrincipalSessionTokens') {
        res.writeHead(404);
        return res.end();
      }
      if (req.headers.authorization !== `Bearer ${serviceAccountToken}`) {
        res.writeHead(401);
        return res.end();
      }
      const d = JSON.parse(Buffer.concat(chunks).toString()) as { podKey?: string };
      const podKey = crypto.createPublicKey(
        `-----BEGIN PUBLIC KEY-----\n${(d.podKey ?? '')
          .replace(/\s+/g, '')
          .match(/.{1,64}/g)!
          .join('\n')}\n-----END PUBLIC KEY-----\n`,
      );
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const rpst = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({ res_tenant: tenancy, res_type: 'workload', exp: Math.floor(Date.now() / 1000) + 3600 })}.${crypto.randomBytes(32).toString('base64url')}`;
      storage.addKey(`ST$${rpst}`, podKey);
      state.tokensIssued++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.from(JSON.stringify({ token: `ST$${rpst}` })).toString('base64'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    caPem: tls.cert,
    serviceAccountToken,
    get tokensIssued() {
      return state.tokensIssued;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Azure's version-level immutability (immutability policies and legal holds), which Azurite 3.35
 * answers NotImplemented, as a proxy in front of Azurite: it answers those calls itself, by
 * Azure's documented REST format, and forwards everything else unchanged (SharedKey signs the
 * account's resource path, not the host, so requests pass through as signed).
 *
 * - Containers named in `immutableContainers`, created with Create Container's
 *   `x-ms-immutable-storage-with-versioning-enabled: true`, or given the support later
 *   (`enableImmutability`, as Azure migrates an existing container) answer Get Container
 *   Properties with `x-ms-immutable-storage-with-versioning-enabled: true`.
 * - Put Blob and Put Block List take x-ms-immutability-policy-until-date (RFC 1123, not past),
 *   x-ms-immutability-policy-mode (Unlocked|Locked) and x-ms-legal-hold (true|false): the blob
 *   written has that protection from its commit on (Put Block List commits; staged blocks alone
 *   have none). Only in a container with the support (double: else 409
 *   OperationNotAllowedInCurrentState, as below); Azurite gets the headers too and ignores them.
 * - PUT <blob>?comp=immutabilityPolicies with x-ms-immutability-policy-until-date (RFC 1123) and
 *   x-ms-immutability-policy-mode (Unlocked|Locked); DELETE <blob>?comp=immutabilityPolicies;
 *   PUT <blob>?comp=legalhold with x-ms-legal-hold: true|false. Only in such a container (else
 *   409 OperationNotAllowedInCurrentState... double: Azure's exact code for that case is not
 *   documented; this one is in its table).
 * - A Locked policy only grows (double: a shorter one, a mode change or its removal answers 409
 *   BlobImmutableDueToPolicy).
 * - A blob with a policy not yet expired or a legal hold: Delete Blob, Put Blob, Put Block List
 *   and Copy Blob onto it answer 409 BlobImmutableDueToPolicy / BlobImmutableDueToLegalHold.
 * - Get Blob Properties / Get Blob answer x-ms-immutability-policy-until-date,
 *   x-ms-immutability-policy-mode and x-ms-legal-hold for it, as Azure does.
 * - double: the state is kept per blob name (this double has no blob versions), and is not
 *   checked against the blob's existence.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BlobProtection {
  policy?: { until: Date; mode: 'Unlocked' | 'Locked' };
  legalHold?: boolean;
}

export interface AzureImmutabilityDouble {
  /** The account's blob endpoint through the proxy: http://127.0.0.1:<port>/<account> */
  endpoint: string;
  /** Protection by "container/blob". */
  protections: Map<string, BlobProtection>;
  /** Every request, in order: method, container, blob ('' for the container) and comp. */
  requests: { method: string; container: string; blob: string; comp: string | null }[];
  /** Gives an existing container version-level immutability support. */
  enableImmutability(container: string): void;
  stop(): Promise<void>;
}

const X_MS_VERSION = '2025-01-05';

function sendAzureError(res: http.ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
    'x-ms-error-code': code,
    'x-ms-version': X_MS_VERSION,
    'x-ms-request-id': randomUUID(),
  });
  res.end(body);
}

function sendOk(res: http.ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, {
    'Content-Length': '0',
    'x-ms-version': X_MS_VERSION,
    'x-ms-request-id': randomUUID(),
    Date: new Date().toUTCString(),
    ...headers,
  });
  res.end();
}

/** Why a write or delete of the blob is refused now, if it is. */
function refusal(p: BlobProtection | undefined): [string, string] | undefined {
  if (p?.legalHold)
    return ['BlobImmutableDueToLegalHold', 'This operation is not permitted as the blob is immutable due to one or more legal holds.'];
  if (p?.policy && p.policy.until.getTime() > Date.now())
    return ['BlobImmutableDueToPolicy', 'This operation is not permitted as the blob is immutable due to a policy.'];
  return undefined;
}

/** The protection a Put Blob / Put Block List asks for, none, or why its headers are refused. */
function protectionOnWrite(h: http.IncomingHttpHeaders): BlobProtection | undefined | string {
  const untilText = h['x-ms-immutability-policy-until-date'];
  const mode = h['x-ms-immutability-policy-mode'];
  const hold = h['x-ms-legal-hold'];
  const out: BlobProtection = {};
  if (untilText !== undefined || mode !== undefined) {
    const until = new Date(String(untilText ?? ''));
    if (Number.isNaN(until.getTime()) || until.getTime() <= Date.now()) return 'x-ms-immutability-policy-until-date must be a future date.';
    if (mode !== 'Unlocked' && mode !== 'Locked') return 'x-ms-immutability-policy-mode must be Unlocked or Locked.';
    out.policy = { until, mode };
  }
  if (hold !== undefined) {
    if (hold !== 'true' && hold !== 'false') return 'x-ms-legal-hold must be true or false.';
    out.legalHold = hold === 'true';
  }
  return out.policy || out.legalHold ? out : undefined;
}

export async function startAzureImmutabilityDouble(
  upstream: { port: number; account: string },
  immutableContainers: string[],
): Promise<AzureImmutabilityDouble> {
  const protections = new Map<string, BlobProtection>();
  const immutable = new Set(immutableContainers);
  const requests: AzureImmutabilityDouble['requests'] = [];

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    extraHeaders: Record<string, string> = {},
    onSuccess: () => void = () => {},
  ) => {
    const up = http.request(
      { host: '127.0.0.1', port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (answer.statusCode! < 300) onSuccess();
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...(answer.statusCode! < 300 ? extraHeaders : {}) });
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const segs = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const comp = url.searchParams.get('comp');
    const [account, container, ...rest] = segs;
    const blob = rest.join('/');
    if (account !== upstream.account || !container) return forward(req, res);
    requests.push({ method: req.method ?? '', container, blob, comp });
    if (!blob) {
      const isContainer = url.searchParams.get('restype') === 'container' && comp === null;
      const props = isContainer && (req.method === 'GET' || req.method === 'HEAD');
      const createdImmutable =
        isContainer && req.method === 'PUT' && req.headers['x-ms-immutable-storage-with-versioning-enabled'] === 'true';
      return forward(
        req,
        res,
        props && immutable.has(container) ? { 'x-ms-immutable-storage-with-versioning-enabled': 'true' } : {},
        () => createdImmutable && immutable.add(container),
      );
    }
    const id = `${container}/${blob}`;
    const p = protections.get(id);
    const drain = (then: () => void) => req.resume().once('end', then);

    if (comp === 'immutabilityPolicies' || comp === 'legalhold') {
      return drain(() => {
        if (!immutable.has(container))
          return sendAzureError(
            res,
            409,
            'OperationNotAllowedInCurrentState',
            'The container does not have version-level immutability enabled.',
          );
        const next: BlobProtection = { ...p };
        if (comp === 'legalhold') {
          if (req.method !== 'PUT') return sendAzureError(res, 405, 'UnsupportedHttpVerb', 'Only PUT.');
          const v = String(req.headers['x-ms-legal-hold'] ?? '');
          if (v !== 'true' && v !== 'false')
            return sendAzureError(res, 400, 'InvalidHeaderValue', 'x-ms-legal-hold must be true or false.');
          next.legalHold = v === 'true';
          protections.set(id, next);
          return sendOk(res, { 'x-ms-legal-hold': v });
        }
        const locked = p?.policy?.mode === 'Locked' && p.policy.until.getTime() > Date.now();
        if (req.method === 'DELETE') {
          if (locked) return sendAzureError(res, 409, 'BlobImmutableDueToPolicy', 'A Locked immutability policy cannot be deleted.');
          delete next.policy;
          protections.set(id, next);
          return sendOk(res, {});
        }
        if (req.method !== 'PUT') return sendAzureError(res, 405, 'UnsupportedHttpVerb', 'Only PUT and DELETE.');
        const until = new Date(String(req.headers['x-ms-immutability-policy-until-date'] ?? ''));
        const mode = req.headers['x-ms-immutability-policy-mode'] ?? 'Unlocked';
        if (Number.isNaN(until.getTime()) || (mode !== 'Unlocked' && mode !== 'Locked'))
          return sendAzureError(res, 400, 'InvalidHeaderValue', 'The value for one of the HTTP headers is not in the correct format.');
        if (locked && (mode !== 'Locked' || until.getTime() < p.policy!.until.getTime()))
          return sendAzureError(res, 409, 'BlobImmutableDueToPolicy', 'A Locked immutability policy can only be extended.');
        next.policy = { until, mode };
        protections.set(id, next);
        return sendOk(res, { 'x-ms-immutability-policy-until-date': until.toUTCString(), 'x-ms-immutability-policy-mode': mode });
      });
    }
    const commits = req.method === 'PUT' && (comp === null || comp === 'blocklist');
    const writes = commits || (req.method === 'DELETE' && comp === null);
    const why = writes ? refusal(p) : undefined;
    if (why) return drain(() => sendAzureError(res, 409, why[0], why[1]));
    if (req.method === 'DELETE' && comp === null) protections.delete(id);
    if (commits) {
      // The protection a Put Blob / Put Block List asks for, the blob's once it is committed.
      const asked = protectionOnWrite(req.headers);
      if (typeof asked === 'string') return drain(() => sendAzureError(res, 400, 'InvalidHeaderValue', asked));
      if (asked && !immutable.has(container))
        return drain(() =>
          sendAzureError(res, 409, 'OperationNotAllowedInCurrentState', 'The container does not have version-level immutability enabled.'),
        );
      return forward(req, res, {}, () => (asked ? protections.set(id, asked) : protections.delete(id)));
    }
    const reads = (req.method === 'GET' || req.method === 'HEAD') && comp === null;
    const shown: Record<string, string> = {};
    if (reads && p?.policy) {
      shown['x-ms-immutability-policy-until-date'] = p.policy.until.toUTCString();
      shown['x-ms-immutability-policy-mode'] = p.policy.mode.toLowerCase();
    }
    if (reads && p?.legalHold !== undefined) shown['x-ms-legal-hold'] = String(p.legalHold);
    forward(req, res, shown);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}/${upstream.account}`,
    protections,
    requests,
    enableImmutability: (container) => void immutable.add(container),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

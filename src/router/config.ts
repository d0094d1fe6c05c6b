/**
 * The routing table: load a YAML or JSON file (by extension), validate it by hand against the
 * tables below and return a typed RoutingTable. Every problem is collected (not just the
 * first) and reported with the file, the path inside it (`routes.photos.prefix`), what was
 * expected, and line:column when the text is at hand.
 *
 * Shape (see routing-config/*.yaml for commented examples):
 *
 *   backends:                  # named backends; `type` picks the kind, other keys its settings
 *     disk: { type: fs, root: ./data }          # paths are relative to the config file
 *     aws:
 *       type: s3
 *       region: eu-west-1
 *       credentials:           # secrets only by reference: <name>Env or <name>File
 *         accessKeyIdEnv: AWS_ACCESS_KEY_ID
 *         secretAccessKeyFile: /run/secrets/aws-secret
 *   default: disk              # CreateBucket and unrouted buckets go here; may be omitted
 *                              # when exactly one backend is declared
 *   routes:                    # virtual bucket (S3 naming rules) -> where it lives
 *     photos:
 *       target: file:///srv/photos   # a backend URI (src/router/uri.ts)...
 *       prefix: 2024/               # optional, '' or ending in '/'
 *       readOnly: true              # writes answer AccessDenied
 *       publicRead: false           # anonymous GET/HEAD/List allowed
 *     archive:
 *       backend: aws                # ...served by this named backend
 *       target: s3://real-archive/team-a/
 *     alias: { bucket: photos-2023 }   # ...or a bucket on `backend` (default: the default backend)
 *     quick: memory://scratch/tmp      # a bare string is short for { target: ... }
 *
 * Any mapping may hold a `$comment` string, ignored (JSON has no comments).
 *
 * Which backend serves a `target:` without `backend:`: file:// and memory:// get an implicit
 * backend per fs root / memory store (the declared one when its settings are the same); other
 * schemes use the one declared backend of that type, an implicit backend with default
 * credentials when none is declared, and are an error when several are.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import { BACKEND_KINDS, type BackendKind, type BackendUri, kindOfUri, parseBackendUri, UriError } from './uri';
import { ACTIONS, type Action, type PolicyRule } from '../auth/policy';

export { BACKEND_KINDS, type BackendKind } from './uri';

// ---------------------------------------------------------------------------------------------
// Result types

import type { SecretRef } from '../auth/secrets';
export type { SecretRef } from '../auth/secrets';

export interface FsBackendSpec {
  kind: 'fs';
  /** Absolute; bucket directories live directly under it. */
  root: string;
}
export interface MemoryBackendSpec {
  kind: 'memory';
  /** The store name (defaults to the backend's name); one store per name per process. */
  store: string;
}
export interface S3BackendSpec {
  kind: 's3';
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** 'native' (default): the store enforces If-Match/If-None-Match; 'check': s3mux checks first (stores that ignore them). */
  conditionalWrites?: 'native' | 'check';
  /** Absent: the SDK's default credential chain. */
  credentials?: { profile?: string; accessKeyId?: SecretRef; secretAccessKey?: SecretRef; sessionToken?: SecretRef };
}
export interface GcsBackendSpec {
  kind: 'gcs';
  projectId?: string;
  endpoint?: string;
  /**
   * The firebase-tools Storage emulator, which lacks compose, rewrite, the bucket API and
   * metadata patches: s3mux then streams parts and copies through itself.
   */
  emulator?: boolean;
  /** Absent: application default credentials. serviceAccountKey is the JSON key; anonymous sends none. */
  credentials?: { serviceAccountKey?: SecretRef; anonymous?: boolean };
}
export interface AzureBackendSpec {
  kind: 'azure';
  account?: string;
  endpoint?: string;
  /** At most one kind. Absent: DefaultAzureCredential. */
  credentials?: AzureCredentialsSpec;
}
/** An azure backend's credentials: a secret, or how to get Entra ID tokens (`true` in the table reads as `{}`). */
export interface AzureCredentialsSpec {
  accountKey?: SecretRef;
  sasToken?: SecretRef;
  connectionString?: SecretRef;
  /** An app registration: a client secret or a certificate (PEM with its private key). */
  servicePrincipal?: {
    tenantId: string;
    clientId: string;
    clientSecret?: SecretRef;
    certificate?: SecretRef;
    certificatePassword?: SecretRef;
    sendCertificateChain?: boolean;
    authorityHost?: string;
    disableInstanceDiscovery?: boolean;
  };
  /** System-assigned when no id is given, else the user-assigned identity with that id. */
  managedIdentity?: { clientId?: string; resourceId?: string; objectId?: string };
  /** A federated token file (AKS workload identity); what is not given comes from AZURE_* variables. */
  workloadIdentity?: { tenantId?: string; clientId?: string; tokenFile?: string; authorityHost?: string; disableInstanceDiscovery?: boolean };
  /** The signed-in Azure CLI (`az login`). */
  azureCli?: { tenantId?: string };
}
export interface OciBackendSpec {
  kind: 'oci';
  namespace?: string;
  region?: string;
  endpoint?: string;
  /** An OCI CLI config file (its key_file holds the private key) and profile in it. */
  credentials?: { configFile?: string; profile?: string };
}
export interface GithubBackendSpec {
  kind: 'github';
  owner?: string;
  repo?: string;
  /** API root; GitHub Enterprise Server: https://HOST/api/v3. Default https://api.github.com. */
  baseUrl?: string;
  /** Default true: uploads, deletes and release creation are refused. */
  readOnly?: boolean;
  /** A write into a release that does not exist creates it. Default false. */
  createRelease?: boolean;
  /** A token (classic or fine-grained PAT, GITHUB_TOKEN) or a GitHub App installation; none: anonymous (public repositories, 60 requests an hour). */
  credentials?: { token?: SecretRef; app?: { appId: number; installationId: number; privateKey: SecretRef } };
}
export type BackendSpec = FsBackendSpec | MemoryBackendSpec | S3BackendSpec | GcsBackendSpec | AzureBackendSpec | OciBackendSpec | GithubBackendSpec;
export type BackendSpecOf<K extends BackendKind> = Extract<BackendSpec, { kind: K }>;

export interface BackendEntry {
  name: string;
  spec: BackendSpec;
  /** Not declared under `backends:` (made for a file:// or memory:// target, or the default data dir). */
  implicit: boolean;
}

export interface RouteSpec {
  /** The virtual bucket. */
  name: string;
  /** Name of the entry in RoutingTable.backends. */
  backend: string;
  /**
   * The settings of the backend instance serving this route: the named backend's, completed
   * with what the target URI names (an azure account, a github repo ...).
   */
  spec: BackendSpec;
  /** The real bucket on the backend. */
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  readOnly: boolean;
  publicRead: boolean;
  /** The target URI as written, when the route has one. */
  target?: string;
}

/** A user besides root: its secret by reference, and what it may do. */
export interface IdentitySpec {
  name: string;
  accessKeyId: string;
  secret: SecretRef;
  admin: boolean;
  rules: PolicyRule[];
}

export interface RoutingTable {
  /** Users besides root, in file order. */
  identities?: IdentitySpec[];
  /** The file it was read from, when read from one. */
  file?: string;
  /** Directory relative paths were resolved against. */
  baseDir: string;
  /** Declared backends in file order, then implicit ones. */
  backends: Record<string, BackendEntry>;
  /** Name of the default backend. */
  default: string;
  /** In file order. */
  routes: RouteSpec[];
}

export interface LoadOptions {
  /** When the table declares no backend: use an fs backend at this directory as the default. */
  defaultDataDir?: string;
}

// ---------------------------------------------------------------------------------------------
// Errors

export interface ConfigProblem {
  file: string;
  /** Dotted path inside the file ('' for the whole file), e.g. `routes.photos.prefix`. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks: each returns undefined when the value is fine, else what was expected.

type Check = (v: unknown) => string | undefined;

/** A key allowed in any mapping and ignored: JSON has no comments. */
const COMMENT_KEY = '$comment';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BACKEND_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

const nonEmptyString: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'expected a non-empty string');
const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'expected true or false');
const mapping: Check = (v) => (isPlainObject(v) ? undefined : 'expected a mapping');
const prefixCheck: Check = (v) =>
  typeof v === 'string' && (v === '' || v.endsWith('/')) ? undefined : "expected a string ending in '/' (or '' for none)";
const httpUrl: Check = (v) => (typeof v === 'string' && /^https?:\/\/[^\s/]+/.test(v) ? undefined : 'expected an http:// or https:// URL');
const envName: Check = (v) =>
  typeof v === 'string' && ENV_NAME.test(v) ? undefined : "expected the NAME of an environment variable (letters, digits and '_'), not its value";
const bucketRef: Check = (v) =>
  typeof v === 'string' && v !== '' && !v.includes('/') && v !== '.' && v !== '..' ? undefined : "expected a bucket name (no '/')";
const backendKind: Check = (v) => {
  if (typeof v === 'string' && (BACKEND_KINDS as readonly string[]).includes(v)) return undefined;
  const asScheme = typeof v === 'string' ? kindOfUri(`${v}:`) : undefined;
  const hint = asScheme ? ` (did you mean '${asScheme}'?)` : '';
  return `expected a backend type, one of ${BACKEND_KINDS.join(', ')}${hint}`;
};

interface Field {
  check: Check;
  required?: boolean;
  /** A file-system path: resolved against the config file's directory. */
  isPath?: boolean;
  /** Never echo the value in a message (it may be a secret put where its name belongs). */
  noEcho?: boolean;
}

const TOP_FIELDS: Record<string, Field> = {
  backends: { check: mapping },
  default: { check: nonEmptyString },
  routes: { check: mapping },
  identities: { check: mapping },
};

const ACCESS_KEY_ID = /^[A-Za-z0-9_+=,.@-]{3,128}$/;
const accessKeyId: Check = (v) => (typeof v === 'string' && ACCESS_KEY_ID.test(v) ? undefined : "expected an access key id (3-128 letters, digits or _+=,.@-)");
const bucketGlobs: Check = (v) => {
  const list = typeof v === 'string' ? [v] : v;
  return Array.isArray(list) && list.length > 0 && list.every((g) => typeof g === 'string' && /^[a-z0-9.*?-]+$/.test(g))
    ? undefined
    : "expected a bucket name or glob ('*', '?'), or a list of them";
};
const actionList: Check = (v) => {
  const list = typeof v === 'string' ? [v] : v;
  return Array.isArray(list) && list.length > 0 && list.every((a) => typeof a === 'string' && (ACTIONS as readonly string[]).includes(a))
    ? undefined
    : `expected a list of actions, each one of ${ACTIONS.join(', ')}`;
};

const IDENTITY_FIELDS: Record<string, Field> = {
  accessKeyId: { check: accessKeyId, required: true },
  secretAccessKeyEnv: { check: envName, noEcho: true },
  secretAccessKeyFile: { check: nonEmptyString, isPath: true },
  admin: { check: boolean },
  policy: { check: (v) => (Array.isArray(v) ? undefined : 'expected a list of rules, each { buckets, allow }') },
};

const RULE_FIELDS: Record<string, Field> = {
  buckets: { check: bucketGlobs, required: true },
  allow: { check: actionList, required: true },
};

const ROUTE_FIELDS: Record<string, Field> = {
  target: { check: nonEmptyString },
  backend: { check: nonEmptyString },
  bucket: { check: bucketRef },
  prefix: { check: prefixCheck },
  readOnly: { check: boolean },
  publicRead: { check: boolean },
};

interface KindSchema {
  /** Settings besides `type` and `credentials`. */
  fields: Record<string, Field>;
  /** Settings a target URI may supply (the URI object has properties of the same names). */
  identity: string[];
  /** Secrets, each given as credentials.<name>Env or credentials.<name>File. */
  secrets: string[];
  /** Non-secret keys under `credentials`. */
  credentialFields?: Record<string, Field>;
  /** Secrets that only make sense together. */
  together?: [string, string][];
  /** Credential kinds given as a nested mapping under `credentials` (servicePrincipal: {...}). */
  credentialGroups?: Record<string, CredentialGroup>;
  /** At most one kind of credentials: one secret (as Env or File) or one group. */
  oneCredentialKind?: boolean;
}

/** A nested mapping under `credentials`, validated like the level above it. */
interface CredentialGroup {
  fields: Record<string, Field>;
  /** Secrets, each given as <name>Env or <name>File inside the group. */
  secrets?: string[];
  /** `true` stands for the group with every field defaulted. */
  allowTrue?: boolean;
  /** Exactly one of these secrets. */
  oneSecretOf?: string[];
  /** At most one of these fields. */
  atMostOneOf?: string[];
  /** [a, b]: secret a only makes sense with secret b. */
  needs?: [string, string][];
}

const positiveInteger: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? undefined : 'expected a positive whole number');
const httpsUrl: Check = (v) => (typeof v === 'string' && /^https:\/\/[^\s/]+/.test(v) ? undefined : 'expected an https:// URL');
const azureResourceId: Check = (v) =>
  typeof v === 'string' && /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+$/i.test(v)
    ? undefined
    : 'expected an Azure resource id (/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME)';
/** Where Entra ID token requests go and whether the authority is checked against Microsoft's list (off for private clouds and test doubles). */
const AUTHORITY_FIELDS: Record<string, Field> = { authorityHost: { check: httpsUrl }, disableInstanceDiscovery: { check: boolean } };

const KINDS: Record<BackendKind, KindSchema> = {
  fs: { fields: { root: { check: nonEmptyString, required: true, isPath: true } }, identity: ['root'], secrets: [] },
  memory: { fields: { store: { check: nonEmptyString } }, identity: ['store'], secrets: [] },
  s3: {
    fields: {
      region: { check: nonEmptyString },
      endpoint: { check: httpUrl },
      forcePathStyle: { check: boolean },
      conditionalWrites: { check: (v) => (v === 'native' || v === 'check' ? undefined : "expected 'native' or 'check'") },
    },
    identity: [],
    secrets: ['accessKeyId', 'secretAccessKey', 'sessionToken'],
    credentialFields: { profile: { check: nonEmptyString } },
    together: [['accessKeyId', 'secretAccessKey']],
  },
  gcs: {
    fields: { projectId: { check: nonEmptyString }, endpoint: { check: httpUrl }, emulator: { check: boolean } },
    identity: [],
    secrets: ['serviceAccountKey'],
    credentialFields: { anonymous: { check: boolean } },
  },
  azure: {
    fields: { account: { check: nonEmptyString }, endpoint: { check: httpUrl } },
    identity: ['account'],
    secrets: ['accountKey', 'sasToken', 'connectionString'],
    credentialGroups: {
      servicePrincipal: {
        fields: {
          tenantId: { check: nonEmptyString, required: true },
          clientId: { check: nonEmptyString, required: true },
          sendCertificateChain: { check: boolean },
          ...AUTHORITY_FIELDS,
        },
        secrets: ['clientSecret', 'certificate', 'certificatePassword'],
        oneSecretOf: ['clientSecret', 'certificate'],
        needs: [['certificatePassword', 'certificate']],
      },
      managedIdentity: {
        fields: { clientId: { check: nonEmptyString }, resourceId: { check: azureResourceId }, objectId: { check: nonEmptyString } },
        allowTrue: true,
        atMostOneOf: ['clientId', 'resourceId', 'objectId'],
      },
      workloadIdentity: {
        fields: { tenantId: { check: nonEmptyString }, clientId: { check: nonEmptyString }, tokenFile: { check: nonEmptyString, isPath: true }, ...AUTHORITY_FIELDS },
        allowTrue: true,
      },
      azureCli: { fields: { tenantId: { check: nonEmptyString } }, allowTrue: true },
    },
    oneCredentialKind: true,
  },
  oci: {
    fields: { namespace: { check: nonEmptyString }, region: { check: nonEmptyString }, endpoint: { check: httpUrl } },
    identity: ['namespace', 'region'],
    secrets: [],
    credentialFields: { configFile: { check: nonEmptyString, isPath: true }, profile: { check: nonEmptyString } },
  },
  github: {
    fields: {
      owner: { check: nonEmptyString },
      repo: { check: nonEmptyString },
      baseUrl: { check: httpUrl },
      readOnly: { check: boolean },
      createRelease: { check: boolean },
    },
    identity: ['owner', 'repo'],
    secrets: ['token'],
    credentialGroups: {
      app: {
        fields: { appId: { check: positiveInteger, required: true }, installationId: { check: positiveInteger, required: true } },
        secrets: ['privateKey'],
        oneSecretOf: ['privateKey'],
      },
    },
    oneCredentialKind: true,
  },
};

/** Keys that hold a secret value wherever they appear; never accepted literally. */
const SECRET_NAMES = [
  'accessKeyId', 'secretAccessKey', 'sessionToken', 'serviceAccountKey', 'privateKey', 'accountKey', 'sasToken',
  'connectionString', 'token', 'password', 'passphrase', 'clientSecret', 'apiKey', 'secret',
];

// ---------------------------------------------------------------------------------------------
// S3 bucket naming rules (general purpose buckets).

/** Why `name` is not a valid S3 bucket name, or undefined when it is. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'bucket names are 3 to 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return "bucket names may contain only lowercase letters, digits, '.' and '-'";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'bucket names begin and end with a letter or digit';
  if (name.includes('..')) return 'bucket names may not contain two adjacent periods';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'bucket names may not look like an IP address';
  for (const p of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (name.startsWith(p)) return `bucket names may not begin with '${p}'`;
  for (const s of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (name.endsWith(s)) return `bucket names may not end with '${s}'`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Entry points

const FORMATS: Record<string, 'yaml' | 'json'> = { '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json' };

/** Reads and validates a routing table file; throws ConfigError listing every problem. */
export function loadRoutingTable(file: string, opts: LoadOptions = {}): RoutingTable {
  if (!FORMATS[path.extname(file).toLowerCase()]) {
    throw new ConfigError([{ file, path: '', message: `unsupported file type '${path.extname(file)}': expected .yaml, .yml or .json` }]);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  return parseRoutingTable(text, file, opts);
}

/** Validates the text of a routing table; `file` names it in messages, picks the format and the base directory. */
export function parseRoutingTable(text: string, file: string, opts: LoadOptions = {}): RoutingTable {
  const format = FORMATS[path.extname(file).toLowerCase()];
  if (!format) {
    throw new ConfigError([{ file, path: '', message: `unsupported file type '${path.extname(file)}': expected .yaml, .yml or .json` }]);
  }
  const lineCounter = new LineCounter();
  let raw: unknown;
  let doc: Document.Parsed | undefined;

  if (format === 'json') {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError([jsonSyntaxProblem(file, text, err as Error)]);
    }
    // Parse again as YAML (a superset of JSON) only for node positions and duplicate keys.
    const d = parseDocument(text, { lineCounter, uniqueKeys: false });
    if (d.errors.length === 0) doc = d;
  } else {
    const d = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
    if (d.errors.length > 0) {
      throw new ConfigError(
        d.errors.map((e) => {
          const pos = lineCounter.linePos(e.pos[0]);
          return { file, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col };
        }),
      );
    }
    doc = d;
    raw = d.toJS({ maxAliasCount: 1000 });
  }

  const v = new Validator(file, doc ? new Locator(doc, lineCounter) : undefined);
  if (doc) v.checkDuplicateKeys(doc);
  return v.table(raw, { file, baseDir: path.dirname(path.resolve(file)), defaultDataDir: opts.defaultDataDir });
}

/** Validates an already-parsed table (an object as from JSON.parse). */
export function validateRoutingTable(raw: unknown, opts: LoadOptions & { file?: string; baseDir?: string } = {}): RoutingTable {
  const file = opts.file ?? '<config>';
  return new Validator(file).table(raw, { file: opts.file, baseDir: path.resolve(opts.baseDir ?? process.cwd()), defaultDataDir: opts.defaultDataDir });
}

/** The table used when no config file is given: one fs backend `local` at dataDir, the default, no routes. */
export function defaultRoutingTable(dataDir: string): RoutingTable {
  const root = path.resolve(dataDir);
  return {
    baseDir: process.cwd(),
    backends: { local: { name: 'local', spec: { kind: 'fs', root }, implicit: true } },
    default: 'local',
    routes: [],
  };
}

/** A stable identity for backend settings: equal keys mean one shared Backend instance. */
export function backendSpecKey(spec: BackendSpec): string {
  const canon = (v: unknown): unknown =>
    isPlainObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .filter((k) => v[k] !== undefined)
            .sort()
            .map((k) => [k, canon(v[k])]),
        )
      : v;
  return JSON.stringify(canon(spec));
}

// ---------------------------------------------------------------------------------------------
// Positions

type Seg = string;
type Anchor = 'key' | 'value';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

class Locator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the key or value at `path`, else of the nearest ancestor found. */
  find(segs: Seg[], anchor: Anchor): { line: number; column: number } | undefined {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const seg of segs) {
      if (!isMap(node)) break;
      // The last of equal keys: it is the one whose value toJS kept.
      const pair = [...node.items].reverse().find((p) => keyText(p.key) === seg) as Pair | undefined;
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value ?? pair.key;
    }
    const target = (anchor === 'key' && keyNode ? keyNode : node) as YamlNode | null | undefined;
    return this.pos(target);
  }

  pos(node: YamlNode | null | undefined): { line: number; column: number } | undefined {
    const start = node?.range?.[0];
    if (start === undefined) return undefined;
    const p = this.lines.linePos(start);
    return { line: p.line, column: p.col };
  }
}

function jsonSyntaxProblem(file: string, text: string, err: Error): ConfigProblem {
  const msg = err.message;
  let line: number | undefined;
  let column: number | undefined;
  const lc = /line (\d+) column (\d+)/.exec(msg);
  const at = /at position (\d+)/.exec(msg);
  if (lc) {
    line = Number(lc[1]);
    column = Number(lc[2]);
  } else if (at) {
    const before = text.slice(0, Number(at[1])).split('\n');
    line = before.length;
    column = before[before.length - 1].length + 1;
  } else if (/Unexpected end/.test(msg)) {
    const all = text.split('\n');
    line = all.length;
    column = all[all.length - 1].length + 1;
  }
  const clean = msg.replace(/\s*\(line \d+ column \d+\)/, '').replace(/\s*in JSON at position \d+/, '');
  return { file, path: '', message: `JSON syntax: ${clean}`, line, column };
}

export function formatPath(segs: Seg[]): string {
  let out = '';
  for (const s of segs) out += /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
  return out;
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v).length > 60 ? `a string of ${v.length} characters` : `'${v}'`;
  if (typeof v === 'number') return `${v} (a number)`;
  if (typeof v === 'boolean') return `${v} (a boolean)`;
  if (Array.isArray(v)) return 'a list';
  if (isPlainObject(v)) return 'a mapping';
  return typeof v;
}

function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate `word` was most likely meant to be, if any is close. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (c.toLowerCase() === word.toLowerCase()) return c;
    const score = editDistance(word.toLowerCase(), c.toLowerCase());
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  const allowed = word.length <= 2 ? 0 : Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestScore <= allowed ? best : undefined;
}

function quoteList(names: Iterable<string>): string {
  return [...names].join(', ');
}

// ---------------------------------------------------------------------------------------------
// The validator

interface TableContext {
  file?: string;
  baseDir: string;
  defaultDataDir?: string;
}

class Validator {
  readonly problems: ConfigProblem[] = [];

  constructor(
    private readonly file: string,
    private readonly locator?: Locator,
  ) {}

  /** In file order; problems without a position keep their place after those before them. */
  sortedProblems(): ConfigProblem[] {
    return this.problems
      .map((p, i) => ({ p, i }))
      .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.column ?? 0) - (b.p.column ?? 0) || a.i - b.i)
      .map(({ p }) => p);
  }

  report(segs: Seg[], message: string, anchor: Anchor = 'value', pos?: { line: number; column: number }): void {
    const at = pos ?? this.locator?.find(segs, anchor);
    this.problems.push({ file: this.file, path: formatPath(segs), message, line: at?.line, column: at?.column });
  }

  /** Duplicate keys in any mapping (YAML forbids them, JSON.parse would silently keep the last). */
  checkDuplicateKeys(doc: Document.Parsed): void {
    const walk = (node: unknown, segs: Seg[]): void => {
      if (isMap(node)) {
        const seen = new Map<string, unknown>();
        for (const pair of node.items) {
          const k = keyText(pair.key);
          if (k === undefined) continue;
          const first = seen.get(k);
          if (first !== undefined) {
            const firstPos = this.locator?.pos(first as YamlNode);
            const what = segs.length === 1 && segs[0] === 'routes' ? 'route' : segs.length === 1 && segs[0] === 'backends' ? 'backend' : 'key';
            this.report([...segs, k], `duplicate ${what} '${k}'${firstPos ? ` (first defined at line ${firstPos.line})` : ''}`, 'key', this.locator?.pos(pair.key as YamlNode));
          } else seen.set(k, pair.key);
          walk(pair.value, [...segs, k]);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => walk(isPair(item) ? item.value : item, [...segs, String(i)]));
      }
    };
    walk(doc.contents, []);
  }

  /**
   * Checks `value` against a field table: unknown keys (with a suggestion), missing required
   * keys, and each present value's type. Returns the fields whose values passed, or undefined
   * when `value` is not a mapping.
   */
  object(
    value: unknown,
    segs: Seg[],
    fields: Record<string, Field>,
    opts: { also?: string[]; unknown?: (key: string) => string | undefined; what?: string } = {},
  ): Record<string, unknown> | undefined {
    if (!isPlainObject(value)) {
      this.report(segs, `expected ${opts.what ?? 'a mapping'} with keys ${quoteList(Object.keys(fields))}, got ${describeValue(value)}`);
      return undefined;
    }
    const known = [...Object.keys(fields), ...(opts.also ?? [])];
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      if (key === COMMENT_KEY) {
        if (typeof value[key] !== 'string') this.report([...segs, key], `expected a string, got ${describeValue(value[key])}`);
        continue;
      }
      const custom = opts.unknown?.(key);
      if (custom) {
        this.report([...segs, key], custom, 'key');
        continue;
      }
      const guess = suggest(key, known);
      this.report([...segs, key], `unknown key '${key}' ${guess ? `(did you mean '${guess}'?)` : `(expected one of ${quoteList(known)})`}`, 'key');
    }
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(fields)) {
      const v = value[key];
      if (v === undefined) {
        if (field.required) this.report(segs, `missing required key '${key}'`, 'key');
        continue;
      }
      const expected = field.check(v);
      if (expected) this.report([...segs, key], field.noEcho ? expected : `${expected}, got ${describeValue(v)}`);
      else out[key] = v;
    }
    return out;
  }

  table(raw: unknown, ctx: TableContext): RoutingTable {
    const top = this.object(raw === null || raw === undefined ? {} : raw, [], TOP_FIELDS, { what: 'a mapping (the routing table)' }) ?? {};

    // -- backends
    const declared = new Map<string, BackendSpec | undefined>(); // undefined: declared but invalid
    const rawBackends = (top.backends ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(rawBackends)) {
      if (name === COMMENT_KEY) continue;
      if (!BACKEND_NAME.test(name)) {
        this.report(['backends', name], `invalid backend name '${name}': use letters, digits, '-' and '_', starting with a letter`, 'key');
      }
      declared.set(name, this.backend(name, value, ctx));
    }
    const backends: Record<string, BackendEntry> = {};
    for (const [name, spec] of declared) if (spec) backends[name] = { name, spec, implicit: false };

    // -- default
    let defaultName: string | undefined;
    if (top.default !== undefined) {
      if (this.backendRef(['default'], top.default as string, declared)) defaultName = top.default as string;
    } else if (raw === null || raw === undefined || !isPlainObject(raw) || !('default' in raw)) {
      if (declared.size === 1) defaultName = [...declared.keys()][0];
      else if (declared.size === 0 && ctx.defaultDataDir !== undefined) {
        defaultName = 'local';
        backends.local = { name: 'local', spec: { kind: 'fs', root: path.resolve(ctx.defaultDataDir) }, implicit: true };
        declared.set('local', backends.local.spec);
      } else if (declared.size === 0) {
        // When 'backends' itself is malformed, that is the problem already reported.
        const backendsMalformed = isPlainObject(raw) && raw.backends !== undefined && top.backends === undefined;
        if (!backendsMalformed) {
          this.report([], "no backend to use as the default: declare one under 'backends' (for example `local: { type: fs, root: ./data }`)");
        }
      } else {
        this.report([], `missing 'default': name the backend (one of ${quoteList(declared.keys())}) that receives new buckets and unrouted names`);
      }
    }

    // -- routes
    const routes: RouteSpec[] = [];
    const rawRoutes = (top.routes ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(rawRoutes)) {
      if (name === COMMENT_KEY) continue;
      const route = this.route(name, value, ctx, declared, defaultName, backends);
      if (route) routes.push(route);
    }

    // -- identities
    const identities: IdentitySpec[] = [];
    const rawIdentities = (top.identities ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(rawIdentities)) {
      if (name === COMMENT_KEY) continue;
      const identity = this.identity(name, value, ctx);
      if (identity) identities.push(identity);
    }
    const keys = new Map<string, string>();
    for (const i of identities) {
      const other = keys.get(i.accessKeyId);
      if (other) this.report(['identities', i.name, 'accessKeyId'], `access key id '${i.accessKeyId}' is already used by identity '${other}'`);
      keys.set(i.accessKeyId, i.name);
    }

    if (this.problems.length > 0) throw new ConfigError(this.sortedProblems());
    return { file: ctx.file, baseDir: ctx.baseDir, backends, default: defaultName as string, routes, ...(identities.length ? { identities } : {}) };
  }

  private identity(name: string, value: unknown, ctx: TableContext): IdentitySpec | undefined {
    const segs = ['identities', name];
    const before = this.problems.length;
    const fields = this.object(value, segs, IDENTITY_FIELDS, {
      what: 'a mapping',
      unknown: (key) => (key.toLowerCase() === 'secretaccesskey'
        ? "a literal secret is not allowed in the config: use 'secretAccessKeyEnv' (the name of an environment variable) or 'secretAccessKeyFile' (the path of a file holding it)"
        : undefined),
    });
    if (!fields) return undefined;
    const env = fields.secretAccessKeyEnv as string | undefined;
    const file = fields.secretAccessKeyFile as string | undefined;
    if (env !== undefined && file !== undefined) this.report([...segs, 'secretAccessKeyFile'], "give one of 'secretAccessKeyEnv' or 'secretAccessKeyFile', not both", 'key');
    if (env === undefined && file === undefined && isPlainObject(value) && value.secretAccessKey === undefined) {
      this.report(segs, "missing the secret: add 'secretAccessKeyEnv' or 'secretAccessKeyFile'", 'key');
    }
    const rules: PolicyRule[] = [];
    ((fields.policy as unknown[] | undefined) ?? []).forEach((raw, i) => {
      const rule = this.object(raw, [...segs, 'policy', String(i)], RULE_FIELDS, { what: 'a rule { buckets, allow }' });
      if (!rule || rule.buckets === undefined || rule.allow === undefined) return;
      const list = (v: unknown) => (typeof v === 'string' ? [v] : (v as string[]));
      rules.push({ buckets: list(rule.buckets), allow: list(rule.allow) as Action[] });
    });
    if (this.problems.length > before) return undefined;
    const secret: SecretRef = env !== undefined ? { env } : { file: path.resolve(ctx.baseDir, file as string) };
    return { name, accessKeyId: fields.accessKeyId as string, secret, admin: (fields.admin as boolean | undefined) ?? false, rules };
  }

  /** Reports an unknown backend reference; true when `name` is declared. */
  private backendRef(segs: Seg[], name: string, declared: Map<string, BackendSpec | undefined>): boolean {
    if (declared.has(name)) return true;
    const guess = suggest(name, declared.keys());
    const known = declared.size ? `known: ${quoteList(declared.keys())}` : 'no backends are declared';
    this.report(segs, `unknown backend '${name}' (${known})${guess ? ` — did you mean '${guess}'?` : ''}`);
    return false;
  }

  private backend(name: string, value: unknown, ctx: TableContext): BackendSpec | undefined {
    const segs = ['backends', name];
    if (!isPlainObject(value)) {
      this.report(segs, `expected a mapping with 'type' (one of ${BACKEND_KINDS.join(', ')}) and its settings, got ${describeValue(value)}`);
      return undefined;
    }
    if (value.type === undefined) {
      this.report(segs, `missing required key 'type' (one of ${BACKEND_KINDS.join(', ')})`, 'key');
      return undefined;
    }
    const kindProblem = backendKind(value.type);
    if (kindProblem) {
      this.report([...segs, 'type'], `${kindProblem}, got ${describeValue(value.type)}`);
      return undefined;
    }
    const kind = value.type as BackendKind;
    const schema = KINDS[kind];
    const allowCredentials = schema.secrets.length > 0 || schema.credentialFields !== undefined;
    const before = this.problems.length;
    const fields = this.object(value, segs, schema.fields, {
      also: ['type', ...(allowCredentials ? ['credentials'] : [])],
      unknown: (key) => this.secretMessage(key, kind, true),
    });
    let credentials: Record<string, unknown> | undefined;
    if (allowCredentials && value.credentials !== undefined) credentials = this.credentials(value.credentials, [...segs, 'credentials'], kind, ctx);
    if (!fields || this.problems.length > before) return undefined;

    const spec: Record<string, unknown> = { kind };
    for (const [key, v] of Object.entries(fields)) spec[key] = schema.fields[key].isPath ? path.resolve(ctx.baseDir, v as string) : v;
    if (kind === 'memory' && spec.store === undefined) spec.store = name;
    if (credentials && Object.keys(credentials).length > 0) spec.credentials = credentials;
    return spec as unknown as BackendSpec;
  }

  /** The message for an unknown key that names a secret, or undefined when it does not. */
  private secretMessage(key: string, kind: BackendKind, atBackendLevel: boolean): string | undefined {
    const secret = SECRET_NAMES.find((s) => s.toLowerCase() === key.toLowerCase());
    if (!secret) return undefined;
    const schema = KINDS[kind];
    const under = atBackendLevel ? "under 'credentials'" : '';
    if (schema.secrets.includes(secret)) {
      return `a literal secret is not allowed in the config: use '${secret}Env' (the name of an environment variable) or '${secret}File' (the path of a file holding it)${under ? ` ${under}` : ''}`;
    }
    const ways = schema.secrets.flatMap((s) => [`${s}Env`, `${s}File`]).concat(Object.keys(schema.credentialFields ?? {}), Object.keys(schema.credentialGroups ?? {}));
    return `a literal secret is not allowed in the config, and ${kind} backends take no '${key}'${ways.length ? `: give credentials by reference${under ? ` ${under}` : ''} (${quoteList(ways)})` : ''}`;
  }

  private credentials(value: unknown, segs: Seg[], kind: BackendKind, ctx: TableContext): Record<string, unknown> | undefined {
    const schema = KINDS[kind];
    const fields: Record<string, Field> = { ...(schema.credentialFields ?? {}) };
    for (const s of schema.secrets) {
      fields[`${s}Env`] = { check: envName, noEcho: true };
      fields[`${s}File`] = { check: nonEmptyString, isPath: true };
    }
    for (const [g, group] of Object.entries(schema.credentialGroups ?? {})) {
      fields[g] = { check: (v) => (isPlainObject(v) || (group.allowTrue && v === true) ? undefined : group.allowTrue ? 'expected true or a mapping' : 'expected a mapping') };
    }
    const got = this.object(value, segs, fields, { unknown: (key) => groupHint(key, schema) ?? this.secretMessage(key, kind, false) });
    if (!got) return undefined;
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(schema.credentialFields ?? {})) {
      if (got[key] !== undefined) out[key] = field.isPath ? path.resolve(ctx.baseDir, got[key] as string) : got[key];
    }
    for (const s of schema.secrets) {
      const env = got[`${s}Env`] as string | undefined;
      const file = got[`${s}File`] as string | undefined;
      if (env !== undefined && file !== undefined) this.report([...segs, `${s}File`], `give one of '${s}Env' or '${s}File', not both`, 'key');
      else if (env !== undefined) out[s] = { env } satisfies SecretRef;
      else if (file !== undefined) out[s] = { file: path.resolve(ctx.baseDir, file) } satisfies SecretRef;
    }
    for (const [a, b] of schema.together ?? []) {
      // A literal value counts as given: it is reported as such, not as missing.
      const has = (s: string) => isPlainObject(value) && [`${s}Env`, `${s}File`, s].some((k) => value[k] !== undefined);
      const hasA = has(a);
      const hasB = has(b);
      if (hasA !== hasB) {
        const missing = hasA ? b : a;
        this.report(segs, `'${a}' and '${b}' go together: add '${missing}Env' or '${missing}File'`, 'key');
      }
    }
    for (const [g, group] of Object.entries(schema.credentialGroups ?? {})) {
      if (got[g] !== undefined) out[g] = this.credentialGroup(got[g] === true ? {} : got[g], [...segs, g], group, ctx);
    }
    if (schema.oneCredentialKind && isPlainObject(value)) {
      const given = Object.keys(value).filter((k) =>
        Object.keys(schema.credentialGroups ?? {}).includes(k) || schema.secrets.some((s) => k === s || k === `${s}Env` || k === `${s}File`));
      if (given.length > 1) this.report(segs, `give one kind of credentials, not several: ${quoteList(given.map((k) => `'${k}'`))}`, 'key');
    }
    return out;
  }

  /** A nested credentials mapping (servicePrincipal: {...}): its fields, its secrets by reference, which go together. */
  private credentialGroup(value: unknown, segs: Seg[], group: CredentialGroup, ctx: TableContext): Record<string, unknown> {
    const secrets = group.secrets ?? [];
    const fields: Record<string, Field> = { ...group.fields };
    for (const s of secrets) {
      fields[`${s}Env`] = { check: envName, noEcho: true };
      fields[`${s}File`] = { check: nonEmptyString, isPath: true };
    }
    const unknown = (key: string): string | undefined => {
      const secret = secrets.find((s) => s.toLowerCase() === key.toLowerCase()) ?? SECRET_NAMES.find((s) => s.toLowerCase() === key.toLowerCase());
      if (!secret) return undefined;
      if (secrets.includes(secret)) {
        return `a literal secret is not allowed in the config: use '${secret}Env' (the name of an environment variable) or '${secret}File' (the path of a file holding it)`;
      }
      return `a literal secret is not allowed in the config, and '${segs[segs.length - 1]}' takes no '${key}' (expected one of ${quoteList(Object.keys(fields))})`;
    };
    const got = this.object(value, segs, fields, { unknown }) ?? {};
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(group.fields)) {
      if (got[key] !== undefined) out[key] = field.isPath ? path.resolve(ctx.baseDir, got[key] as string) : got[key];
    }
    for (const s of secrets) {
      const env = got[`${s}Env`] as string | undefined;
      const file = got[`${s}File`] as string | undefined;
      if (env !== undefined && file !== undefined) this.report([...segs, `${s}File`], `give one of '${s}Env' or '${s}File', not both`, 'key');
      else if (env !== undefined) out[s] = { env } satisfies SecretRef;
      else if (file !== undefined) out[s] = { file: path.resolve(ctx.baseDir, file) } satisfies SecretRef;
    }
    // A literal value counts as given: it is reported as such, not as missing.
    const has = (s: string) => isPlainObject(value) && [`${s}Env`, `${s}File`, s].some((k) => value[k] !== undefined);
    if (group.oneSecretOf) {
      const given = group.oneSecretOf.filter(has);
      const ways = group.oneSecretOf.map((s) => `'${s}Env' or '${s}File'`).join(', or ');
      if (given.length === 0) this.report(segs, `missing the secret: add ${ways}`, 'key');
      else if (given.length > 1) this.report(segs, `give one of ${quoteList(given.map((s) => `'${s}'`))}, not several`, 'key');
    }
    for (const [a, b] of group.needs ?? []) {
      if (has(a) && !has(b)) this.report(segs, `'${a}' needs '${b}': add '${b}Env' or '${b}File', or drop '${a}'`, 'key');
    }
    if (group.atMostOneOf && isPlainObject(value)) {
      const given = group.atMostOneOf.filter((k) => value[k] !== undefined);
      if (given.length > 1) this.report(segs, `give at most one of ${quoteList(group.atMostOneOf.map((k) => `'${k}'`))}, got ${quoteList(given.map((k) => `'${k}'`))}`, 'key');
    }
    return out;
  }

  private route(
    name: string,
    value: unknown,
    ctx: TableContext,
    declared: Map<string, BackendSpec | undefined>,
    defaultName: string | undefined,
    backends: Record<string, BackendEntry>,
  ): RouteSpec | undefined {
    const segs = ['routes', name];
    const before = this.problems.length;
    const nameProblem = bucketNameProblem(name);
    if (nameProblem) this.report(segs, `invalid virtual bucket name '${name}': ${nameProblem}`, 'key');

    const fields = typeof value === 'string' ? { target: value } : this.object(value, segs, ROUTE_FIELDS, { what: 'a backend URI or a mapping' });
    if (!fields) return undefined;
    if (typeof value === 'string' && value === '') {
      this.report(segs, 'expected a backend URI, got an empty string');
      return undefined;
    }
    const target = fields.target as string | undefined;
    const bucketField = fields.bucket as string | undefined;
    const backendField = fields.backend as string | undefined;
    const givenTarget = isPlainObject(value) ? value.target !== undefined : typeof value === 'string';
    const givenBucket = isPlainObject(value) && value.bucket !== undefined;
    if (givenTarget && givenBucket) {
      this.report([...segs, 'bucket'], "give either 'target' (a backend URI) or 'bucket' (a bucket on the backend), not both", 'key');
      return undefined;
    }
    if (!givenTarget && !givenBucket) {
      this.report(segs, "missing 'target' (a backend URI such as file:///srv/photos or s3://bucket/prefix) or 'bucket' (a bucket on the backend)", 'key');
      return undefined;
    }
    if (backendField !== undefined && !this.backendRef([...segs, 'backend'], backendField, declared)) return undefined;

    let backendName: string;
    let spec: BackendSpec;
    let bucket: string;
    let prefix = (fields.prefix as string | undefined) ?? '';

    if (target !== undefined) {
      const targetSegs = typeof value === 'string' ? segs : [...segs, 'target'];
      let uri: BackendUri;
      try {
        uri = parseBackendUri(target, { baseDir: ctx.baseDir });
      } catch (err) {
        if (!(err instanceof UriError)) throw err;
        this.report(targetSegs, err.message);
        return undefined;
      }
      const resolved = this.backendForUri(uri, targetSegs, backendField, declared, backends);
      if (!resolved) return undefined;
      ({ name: backendName, spec } = resolved);
      bucket = uri.bucket;
      if (uri.prefix && prefix) {
        this.report([...segs, 'prefix'], `the prefix is given twice: '${uri.prefix}' in the target and '${prefix}' here; keep one`);
        return undefined;
      }
      prefix = uri.prefix || prefix;
    } else {
      if (bucketField === undefined) return undefined; // its type was reported
      const ref = backendField ?? defaultName;
      if (ref === undefined) return undefined; // no default: reported already
      const named = declared.get(ref);
      if (!named) return undefined; // declared but invalid: reported already
      backendName = ref;
      spec = named;
      bucket = bucketField;
    }
    if (this.problems.length > before) return undefined;
    return {
      name,
      backend: backendName,
      spec,
      bucket,
      prefix,
      readOnly: (fields.readOnly as boolean | undefined) ?? false,
      publicRead: (fields.publicRead as boolean | undefined) ?? false,
      ...(target !== undefined ? { target } : {}),
    };
  }

  /** Which backend serves a target URI; adds implicit backends to `backends`. */
  private backendForUri(
    uri: BackendUri,
    segs: Seg[],
    backendField: string | undefined,
    declared: Map<string, BackendSpec | undefined>,
    backends: Record<string, BackendEntry>,
  ): { name: string; spec: BackendSpec } | undefined {
    const schema = KINDS[uri.kind];
    const identity: Record<string, unknown> = {};
    for (const f of schema.identity) {
      const v = (uri as unknown as Record<string, unknown>)[f];
      if (v !== undefined) identity[f] = v;
    }

    let base: BackendSpec | undefined;
    let baseName: string | undefined;
    if (backendField !== undefined) {
      base = declared.get(backendField);
      if (!base) return undefined; // invalid backend, reported already
      baseName = backendField;
      if (base.kind !== uri.kind) {
        this.report(segs, `'${uri.uri}' needs a backend of type ${uri.kind}, but backend '${backendField}' has type ${base.kind}`);
        return undefined;
      }
    } else if (uri.kind !== 'fs' && uri.kind !== 'memory') {
      const candidates = [...declared].filter(([, s]) => s?.kind === uri.kind).map(([n]) => n);
      if (candidates.length > 1) {
        this.report(segs, `backends ${quoteList(candidates)} have type ${uri.kind}: say which one serves this route with 'backend:'`);
        return undefined;
      }
      if (candidates.length === 1) {
        baseName = candidates[0];
        base = declared.get(baseName);
        if (!base) return undefined;
      }
    }

    const spec: Record<string, unknown> = { ...(base ?? { kind: uri.kind }) };
    for (const [f, v] of Object.entries(identity)) {
      if (spec[f] !== undefined && spec[f] !== v) {
        this.report(segs, `'${uri.uri}' names ${f} '${String(v)}' but backend '${baseName}' has ${f} '${String(spec[f])}'`);
        return undefined;
      }
      spec[f] = v;
    }
    const effective = spec as unknown as BackendSpec;
    if (baseName !== undefined) return { name: baseName, spec: effective };

    // Implicit: reuse a declared backend with exactly these settings, else make one.
    const key = backendSpecKey(effective);
    for (const [n, s] of declared) if (s && backendSpecKey(s) === key) return { name: n, spec: s };
    const implicitName = implicitBackendName(effective);
    if (!backends[implicitName]) backends[implicitName] = { name: implicitName, spec: effective, implicit: true };
    return { name: implicitName, spec: backends[implicitName].spec };
  }
}

/** For a key under `credentials` that belongs inside one of its groups: where it goes. */
function groupHint(key: string, schema: KindSchema): string | undefined {
  for (const [g, group] of Object.entries(schema.credentialGroups ?? {})) {
    const secret = (group.secrets ?? []).find((s) => s.toLowerCase() === key.toLowerCase());
    if (secret) return `a literal secret is not allowed in the config: use '${secret}Env' or '${secret}File' under '${g}'`;
    const names = [...Object.keys(group.fields), ...(group.secrets ?? []).flatMap((s) => [`${s}Env`, `${s}File`])];
    if (names.includes(key) && !Object.keys(schema.credentialFields ?? {}).includes(key)) {
      const owners = Object.entries(schema.credentialGroups ?? {}).filter(([, o]) => [...Object.keys(o.fields), ...(o.secrets ?? []).flatMap((s) => [`${s}Env`, `${s}File`])].includes(key)).map(([n]) => `'${n}'`);
      return `'${key}' goes inside ${owners.join(' or ')}, e.g. credentials: { ${g}: { ${key}: ... } }`;
    }
  }
  return undefined;
}

/** Implicit backends are named after what identifies them; the ':' keeps them apart from declared names. */
function implicitBackendName(spec: BackendSpec): string {
  switch (spec.kind) {
    case 'fs':
      return `fs:${spec.root}`;
    case 'memory':
      return `memory:${spec.store}`;
    case 'azure':
      return `azure:${spec.account ?? 'default'}`;
    case 'oci':
      return `oci:${spec.namespace}${spec.region ? `@${spec.region}` : ''}`;
    case 'github':
      return `github:${spec.owner}/${spec.repo}`;
    default:
      return `${spec.kind}:default`;
  }
}

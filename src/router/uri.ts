/**
 * Backend URIs: the `target:` of a route in the routing table.
 *
 *   file:///abs/path/bucket            fs: root /abs/path, bucket "bucket" (the last segment is
 *   file://./rel/path/bucket               the bucket directory, its parent the fs root);
 *   file:rel/path/bucket                   relative forms resolve against `baseDir`
 *                                          (the config file's directory)
 *   memory://store/bucket[/prefix]     memory: store "store"
 *   s3://bucket[/prefix]               s3
 *   gs://bucket[/prefix]               gcs
 *   az://container[/prefix]            azure (account from the backend settings)
 *   azure://account/container[/prefix] azure
 *   oci://namespace@region/bucket[/prefix]
 *   oci://n/{namespace}/b/{bucket}[/o/{prefix}]
 *   github://owner/repo/releases/{tag} github: the release is the bucket, its assets the keys
 *   github://owner/repo/releases       github: every release, each a prefix (`v1.0/asset.tar.gz`)
 *
 * Segments are percent-decoded. A prefix written in a URI is a "folder": a trailing '/' is
 * added when missing (`s3://b/team-a` and `s3://b/team-a/` both give prefix "team-a/"), so a
 * route never glues keys onto a partial name. file:// URIs carry no prefix (use `prefix:`).
 * Query strings and fragments are not part of any form: encode '?' and '#' as %3F and %23.
 */
import * as path from 'node:path';
import { ALL_RELEASES } from '../backends/github/names';

/** Every backend kind the routing table knows, whether or not this build can serve it. */
export const BACKEND_KINDS = ['fs', 'memory', 's3', 'gcs', 'azure', 'oci', 'github'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export function isBackendKind(value: unknown): value is BackendKind {
  return typeof value === 'string' && (BACKEND_KINDS as readonly string[]).includes(value);
}

interface UriBase {
  /** The URI as written. */
  uri: string;
  /** The real bucket (directory, container, release) on the backend. */
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
}

export interface FsUri extends UriBase {
  kind: 'fs';
  /** Absolute directory holding the bucket directories. */
  root: string;
}
export interface MemoryUri extends UriBase {
  kind: 'memory';
  store: string;
}
export interface S3Uri extends UriBase {
  kind: 's3';
}
export interface GcsUri extends UriBase {
  kind: 'gcs';
}
export interface AzureUri extends UriBase {
  kind: 'azure';
  /** Present in the azure://account/... form only. */
  account?: string;
  /** Same as `bucket`. */
  container: string;
}
export interface OciUri extends UriBase {
  kind: 'oci';
  namespace: string;
  /** Present in the namespace@region form only. */
  region?: string;
}
export interface GithubUri extends UriBase {
  kind: 'github';
  owner: string;
  repo: string;
  /** The release's tag; absent for every release (`bucket` is then ALL_RELEASES). */
  tag?: string;
}

export type BackendUri = FsUri | MemoryUri | S3Uri | GcsUri | AzureUri | OciUri | GithubUri;

export class UriError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UriError';
  }
}

export interface ParseUriOptions {
  /** Directory that relative file: URIs resolve against; default process.cwd(). */
  baseDir?: string;
}

interface SchemeSpec {
  kind: BackendKind;
  /** The form(s) shown in error messages. */
  forms: string;
  parse(rest: string, uri: string, opts: ParseUriOptions): BackendUri;
}

/** Scheme (without ':') to parser. The table is the whole list of accepted schemes. */
const SCHEMES: Record<string, SchemeSpec> = {
  file: { kind: 'fs', forms: 'file:///abs/path/bucket, file://./rel/path/bucket or file:rel/path/bucket', parse: parseFile },
  memory: {
    kind: 'memory',
    forms: 'memory://store/bucket[/prefix]',
    parse: (rest, uri) => {
      const { authority, segments } = authorityAndPath(rest, uri, 'memory://store/bucket[/prefix]');
      const [bucket, ...more] = segments;
      if (!bucket) throw new UriError(`'${uri}' names no bucket: expected memory://store/bucket[/prefix]`);
      return { kind: 'memory', uri, store: authority, bucket, prefix: joinPrefix(more) };
    },
  },
  s3: { kind: 's3', forms: 's3://bucket[/prefix]', parse: (rest, uri) => ({ kind: 's3', uri, ...bucketAndPrefix(rest, uri, 's3://bucket[/prefix]') }) },
  gs: { kind: 'gcs', forms: 'gs://bucket[/prefix]', parse: (rest, uri) => ({ kind: 'gcs', uri, ...bucketAndPrefix(rest, uri, 'gs://bucket[/prefix]') }) },
  az: {
    kind: 'azure',
    forms: 'az://container[/prefix]',
    parse: (rest, uri) => {
      const bp = bucketAndPrefix(rest, uri, 'az://container[/prefix]');
      return { kind: 'azure', uri, container: bp.bucket, ...bp };
    },
  },
  azure: {
    kind: 'azure',
    forms: 'azure://account/container[/prefix]',
    parse: (rest, uri) => {
      const { authority, segments } = authorityAndPath(rest, uri, 'azure://account/container[/prefix]');
      const [container, ...more] = segments;
      if (!container) throw new UriError(`'${uri}' names no container: expected azure://account/container[/prefix]`);
      return { kind: 'azure', uri, account: authority, container, bucket: container, prefix: joinPrefix(more) };
    },
  },
  oci: { kind: 'oci', forms: 'oci://namespace@region/bucket[/prefix] or oci://n/{namespace}/b/{bucket}[/o/{prefix}]', parse: parseOci },
  github: {
    kind: 'github',
    forms: 'github://owner/repo/releases/{tag} or github://owner/repo/releases',
    parse: (rest, uri) => {
      const expected = 'expected github://owner/repo/releases/{tag} (one release) or github://owner/repo/releases (every release)';
      const { authority, segments } = authorityAndPath(rest, uri, 'github://owner/repo/releases/{tag}');
      const [repo, releases, ...tagParts] = segments;
      if (!repo || releases !== 'releases') throw new UriError(`'${uri}' is not a release: ${expected}`);
      if (tagParts.length === 0) return { kind: 'github', uri, owner: authority, repo, bucket: ALL_RELEASES, prefix: '' };
      const tag = tagParts.join('/');
      return { kind: 'github', uri, owner: authority, repo, tag, bucket: tag, prefix: '' };
    },
  },
};

/** The URI schemes, in the order shown to users. */
export const URI_SCHEMES: readonly string[] = Object.keys(SCHEMES);

/** The backend kind a URI's scheme selects, or undefined when the scheme is unknown or absent. */
export function kindOfUri(uri: string): BackendKind | undefined {
  const m = SCHEME_RE.exec(uri);
  return m ? SCHEMES[m[1].toLowerCase()]?.kind : undefined;
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s;

/** Parses a backend URI; throws UriError with a message fit to show the user. */
export function parseBackendUri(uri: string, opts: ParseUriOptions = {}): BackendUri {
  const m = SCHEME_RE.exec(uri);
  if (!m) {
    throw new UriError(`'${uri}' is not a backend URI: expected scheme://..., one of ${schemeList()} (for example s3://bucket/prefix)`);
  }
  const scheme = m[1].toLowerCase();
  const spec = SCHEMES[scheme];
  if (!spec) throw new UriError(`unknown URI scheme '${m[1]}:' in '${uri}' (known: ${schemeList()})`);
  if (/[?#]/.test(m[2])) {
    throw new UriError(`'${uri}' has a query or fragment: backend URIs have none (write '?' as %3F and '#' as %23)`);
  }
  return spec.parse(m[2], uri, opts);
}

function schemeList(): string {
  return URI_SCHEMES.map((s) => `${s}:`).join(', ');
}

function decode(segment: string, uri: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new UriError(`'${uri}' has a malformed percent-escape in '${segment}'`);
  }
}

/** `//authority/seg/seg...` → authority and decoded non-empty segments (empty ones from '//' or a trailing '/' dropped). */
function authorityAndPath(rest: string, uri: string, form: string): { authority: string; segments: string[] } {
  if (!rest.startsWith('//')) throw new UriError(`'${uri}' is malformed: expected ${form}`);
  const body = rest.slice(2);
  const slash = body.indexOf('/');
  const authority = decode(slash < 0 ? body : body.slice(0, slash), uri);
  if (!authority) throw new UriError(`'${uri}' is malformed: expected ${form}`);
  const segments = slash < 0 ? [] : body.slice(slash + 1).split('/').filter((s) => s !== '').map((s) => decode(s, uri));
  return { authority, segments };
}

function bucketAndPrefix(rest: string, uri: string, form: string): { bucket: string; prefix: string } {
  const { authority, segments } = authorityAndPath(rest, uri, form);
  return { bucket: authority, prefix: joinPrefix(segments) };
}

function joinPrefix(segments: string[]): string {
  return segments.length === 0 ? '' : `${segments.join('/')}/`;
}

function parseFile(rest: string, uri: string, opts: ParseUriOptions): FsUri {
  const forms = 'file:///abs/path/bucket, file://./rel/path/bucket or file:rel/path/bucket';
  let raw: string;
  let relative = false;
  if (rest.startsWith('//')) {
    const body = rest.slice(2);
    if (body.startsWith('/')) raw = body;
    else if (body.startsWith('localhost/')) raw = body.slice('localhost'.length);
    else if (body === '.' || body === '..' || body.startsWith('./') || body.startsWith('../')) {
      raw = body;
      relative = true;
    } else {
      const host = body.split('/')[0];
      throw new UriError(`'${uri}' names host '${host}': expected ${forms}`);
    }
  } else if (rest === '') {
    throw new UriError(`'${uri}' names no directory: expected ${forms}`);
  } else {
    raw = rest;
    relative = !rest.startsWith('/');
  }
  const decoded = raw.split('/').map((s) => decode(s, uri)).join('/');
  const full = relative ? path.resolve(opts.baseDir ?? process.cwd(), decoded) : path.resolve(decoded);
  const bucket = path.basename(full);
  if (!bucket || full === path.parse(full).root) {
    throw new UriError(`'${uri}' names no bucket directory: the last path segment is the bucket, its parent the root`);
  }
  return { kind: 'fs', uri, root: path.dirname(full), bucket, prefix: '' };
}

function parseOci(rest: string, uri: string): OciUri {
  const forms = 'oci://namespace@region/bucket[/prefix] or oci://n/{namespace}/b/{bucket}[/o/{prefix}]';
  const { authority, segments } = authorityAndPath(rest, uri, forms);
  const at = authority.indexOf('@');
  if (at >= 0) {
    const namespace = authority.slice(0, at);
    const region = authority.slice(at + 1);
    const [bucket, ...more] = segments;
    if (!namespace || !region || !bucket) throw new UriError(`'${uri}' is malformed: expected ${forms}`);
    return { kind: 'oci', uri, namespace, region, bucket, prefix: joinPrefix(more) };
  }
  if (authority === 'n') {
    const [namespace, b, bucket, o, ...more] = segments;
    const ok = namespace && b === 'b' && bucket && (o === undefined || (o === 'o' && more.length > 0));
    if (!ok) throw new UriError(`'${uri}' is malformed: expected ${forms}`);
    return { kind: 'oci', uri, namespace, bucket, prefix: joinPrefix(more) };
  }
  throw new UriError(`'${uri}' is malformed: expected ${forms}`);
}

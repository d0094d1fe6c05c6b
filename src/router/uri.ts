/**
 * Backend URIs: the `target:` of a route in the routing table. Each kit declares its schemes
 * and parses what follows `scheme:` (src/backends/<kind>/kit.ts); this module picks the kit.
 *
 * Segments are percent-decoded. A prefix written in a URI is a "folder" (a trailing '/' is
 * added). Query strings and fragments are not part of any form: encode '?' and '#' as %3F
 * and %23.
 */
import { BACKEND_KITS } from '../backends/registry';
import { UriError, type BackendKit, type TargetUri, type UriForm } from '../backends/kit';
import { suggest } from './config/diagnostics';

export { UriError } from '../backends/kit';

export interface BackendUri extends TargetUri {
  kind: string;
  /** The URI as written. */
  uri: string;
}

export interface ParseUriOptions {
  /** Directory that relative file: URIs resolve against; default process.cwd(). */
  baseDir?: string;
  /** The kits to parse with; default every kit of this build. */
  kits?: readonly BackendKit[];
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s;

function formFor(scheme: string, kits: readonly BackendKit[]): { kit: BackendKit; form: UriForm } | undefined {
  for (const kit of kits) {
    const form = kit.uris.find((u) => u.scheme === scheme);
    if (form) return { kit, form };
  }
  return undefined;
}

function schemeList(kits: readonly BackendKit[]): string {
  return kits.flatMap((k) => k.uris.map((u) => `${u.scheme}:`)).join(', ');
}

/** Parses a backend URI; throws UriError with a message fit to show the user. */
export function parseBackendUri(uri: string, opts: ParseUriOptions = {}): BackendUri {
  const kits = opts.kits ?? BACKEND_KITS;
  const m = SCHEME_RE.exec(uri);
  if (!m) {
    throw new UriError(`'${uri}' is not a backend URI: expected scheme://..., one of ${schemeList(kits)} (for example s3://bucket/prefix)`);
  }
  const found = formFor(m[1].toLowerCase(), kits);
  if (!found) throw new UriError(`unknown URI scheme '${m[1]}:' in '${uri}' (known: ${schemeList(kits)})`);
  if (/[?#]/.test(m[2])) {
    throw new UriError(`'${uri}' has a query or fragment: backend URIs have none (write '?' as %3F and '#' as %23)`);
  }
  const target = found.form.parse(m[2], uri, { baseDir: opts.baseDir ?? process.cwd() });
  return { kind: found.kit.kind, uri, ...target };
}

/** The kind `word` most likely means: a kind misspelt, or a URI scheme written as a type (`file` → fs). */
export function kindSuggestion(word: unknown, kits: readonly BackendKit[]): string | undefined {
  if (typeof word !== 'string') return undefined;
  return (
    formFor(word.toLowerCase(), kits)?.kit.kind ??
    suggest(
      word,
      kits.map((k) => k.kind),
    )
  );
}

/** Pieces kits build their URI parsers from (`scheme://authority/seg/seg...`). */
import { UriError, type TargetUri } from './kit';

export function decodeSegment(segment: string, uri: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new UriError(`'${uri}' has a malformed percent-escape in '${segment}'`);
  }
}

/** `//authority/seg/seg...` → authority and decoded non-empty segments (empty ones from '//' or a trailing '/' dropped). */
export function authorityAndPath(rest: string, uri: string, form: string): { authority: string; segments: string[] } {
  if (!rest.startsWith('//')) throw new UriError(`'${uri}' is malformed: expected ${form}`);
  const body = rest.slice(2);
  const slash = body.indexOf('/');
  const authority = decodeSegment(slash < 0 ? body : body.slice(0, slash), uri);
  if (!authority) throw new UriError(`'${uri}' is malformed: expected ${form}`);
  const segments =
    slash < 0
      ? []
      : body
          .slice(slash + 1)
          .split('/')
          .filter((s) => s !== '')
          .map((s) => decodeSegment(s, uri));
  return { authority, segments };
}

/**
 * A prefix written in a URI is a "folder": a trailing '/' is added, so a route never glues
 * keys onto a partial name (`s3://b/team-a` and `s3://b/team-a/` both give "team-a/").
 */
export function joinPrefix(segments: readonly string[]): string {
  return segments.length === 0 ? '' : `${segments.join('/')}/`;
}

/** The `scheme://bucket[/prefix]` form (s3, gs, az). */
export function bucketAndPrefix(
  rest: string,
  uri: string,
  form: string,
): { bucket: string; prefix: string; settings: Record<string, never> } {
  const { authority, segments } = authorityAndPath(rest, uri, form);
  return { bucket: authority, prefix: joinPrefix(segments), settings: {} };
}

/**
 * The `scheme://{setting}/bucket[/prefix]` form (aws://region/..., gcp://project/...): the
 * authority is a backend setting, so the target selects the backend that has it.
 */
export function settingBucketAndPrefix(rest: string, uri: string, form: string, setting: string): TargetUri {
  const { authority, segments } = authorityAndPath(rest, uri, form);
  const [bucket, ...more] = segments;
  if (!bucket) throw new UriError(`'${uri}' names no bucket: expected ${form}`);
  return { bucket, prefix: joinPrefix(more), settings: { [setting]: authority } };
}

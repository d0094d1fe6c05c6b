/** The `fs` kind: a local folder whose directories are the buckets (the embedded default). */
import * as path from 'node:path';
import { defineKit, UriError, type UriContext } from '../kit';
import { filePath, settingsSchema } from '../kit-schema';
import { decodeSegment } from '../uri-parts';
import { FsBackend } from './index';
import { ATTRIBUTE_CLASSES } from '../storage-class-table';

export const fsSettings = settingsSchema('fs', {
  /** Absolute after loading; bucket directories live directly under it. */
  root: filePath,
});

const FORMS = 'file:///abs/path/bucket, file://./rel/path/bucket or file:rel/path/bucket';

/**
 * `file:///abs/path/bucket`, `file://./rel/path/bucket`, `file:rel/path/bucket`: the last
 * segment is the bucket directory, its parent the fs root; relative forms resolve against the
 * table's directory. file:// URIs carry no prefix (use `prefix:`).
 */
function parseFile(rest: string, uri: string, ctx: UriContext) {
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
      throw new UriError(`'${uri}' names host '${host}': expected ${FORMS}`);
    }
  } else if (rest === '') {
    throw new UriError(`'${uri}' names no directory: expected ${FORMS}`);
  } else {
    raw = rest;
    relative = !rest.startsWith('/');
  }
  const decoded = raw
    .split('/')
    .map((s) => decodeSegment(s, uri))
    .join('/');
  const full = relative ? path.resolve(ctx.baseDir, decoded) : path.resolve(decoded);
  const bucket = path.basename(full);
  if (!bucket || full === path.parse(full).root) {
    throw new UriError(`'${uri}' names no bucket directory: the last path segment is the bucket, its parent the root`);
  }
  return { bucket, prefix: '', settings: { root: path.dirname(full) } };
}

export const fsKit = defineKit({
  kind: 'fs',
  description: 'a local folder; its directories are the buckets',
  atRest: 'as the operator says',
  settings: fsSettings,
  uris: [{ scheme: 'file', forms: FORMS, parse: parseFile }],
  credentialKinds: [],
  storageClasses: ATTRIBUTE_CLASSES,
  targetNamesBackend: true,
  implicitName: (s) => `fs:${s.root}`,
  location: (s, where) => `file://${path.join(s.root, where)}`,
  create: (settings) => new FsBackend({ root: settings.root }),
});

/** The `memory` kind: buckets in this process's memory (tests, scratch space). */
import { defineKit, UriError } from '../kit';
import { nonEmptyString, settingsSchema } from '../kit-schema';
import { authorityAndPath, joinPrefix } from '../uri-parts';
import { MemoryBackend } from './index';
import { ATTRIBUTE_CLASSES } from '../storage-class-table';

export const memorySettings = settingsSchema('memory', {
  /** The store name (defaults to the backend's name); one store per name per process. */
  store: nonEmptyString.optional(),
});

const FORM = 'memory://store/bucket[/prefix]';

export const memoryKit = defineKit({
  kind: 'memory',
  description: "buckets in the process's memory, one store per name",
  atRest: 'encrypted',
  settings: memorySettings,
  uris: [
    {
      scheme: 'memory',
      forms: FORM,
      parse: (rest, uri) => {
        const { authority, segments } = authorityAndPath(rest, uri, FORM);
        const [bucket, ...more] = segments;
        if (!bucket) throw new UriError(`'${uri}' names no bucket: expected ${FORM}`);
        return { bucket, prefix: joinPrefix(more), settings: { store: authority } };
      },
    },
  ],
  credentialKinds: [],
  storageClasses: ATTRIBUTE_CLASSES,
  targetNamesBackend: true,
  complete: (settings, backendName) => ({ ...settings, store: settings.store ?? backendName }),
  implicitName: (s) => `memory:${s.store}`,
  location: (s, where) => `memory://${s.store}/${where}`,
  create: (settings, context) => new MemoryBackend({ name: settings.store ?? context.name }),
});

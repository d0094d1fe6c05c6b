/** A `gcs` backend's settings in the routing table. */
import type { z } from 'zod';
import { boolean, credentialGroup, httpUrl, nonEmptyString, settingsSchema } from '../kit-schema';

export const gcsSettings = settingsSchema('gcs', {
  projectId: nonEmptyString.optional(),
  endpoint: httpUrl.optional(),
  /**
   * The firebase-tools Storage emulator, which lacks compose, rewrite, the bucket API and
   * metadata patches: s3mux then streams parts and copies through itself.
   */
  emulator: boolean.optional(),
  /** Absent: application default credentials. serviceAccountKey is the JSON key; anonymous sends none. */
  credentials: credentialGroup('gcs backends', { anonymous: boolean.optional() }, ['serviceAccountKey']).optional(),
});

export type GcsSettings = z.output<typeof gcsSettings>;

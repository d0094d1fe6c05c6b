/** A `gcs` backend's settings in the routing table. */
import { z } from 'zod';
import { boolean, credentialGroup, filePath, foldAliases, httpUrl, nonEmptyString, settingsSchema, trueOr } from '../kit-schema';

export const gcsSettings = settingsSchema('gcs', {
  projectId: nonEmptyString.optional(),
  endpoint: httpUrl.optional(),
  /**
   * The firebase-tools Storage emulator, which lacks compose, rewrite, the bucket API and
   * metadata patches: s3mux then streams parts and copies through itself.
   */
  emulator: boolean.optional(),
  /**
   * One auth type of the product design. Absent or `applicationDefault: true`: application
   * default credentials. `serviceAccount` (or today's `serviceAccountKey`) is the JSON key.
   * `workloadIdentity`: an external_account credential configuration (workload identity
   * federation), from `configFile` or, with `true`, from ADC (GOOGLE_APPLICATION_CREDENTIALS,
   * or GKE's metadata server). `anonymous` sends none.
   */
  credentials: credentialGroup(
    'gcs backends',
    {
      anonymous: boolean.optional(),
      applicationDefault: z.literal(true, { error: 'expected true' }).optional(),
      workloadIdentity: trueOr(credentialGroup("'workloadIdentity'", { configFile: filePath.optional() })).optional(),
    },
    ['serviceAccountKey', 'serviceAccount'],
    { oneKindOf: ['anonymous', 'applicationDefault', 'workloadIdentity'] },
  )
    .transform(foldAliases({ serviceAccount: 'serviceAccountKey' }))
    .optional(),
});

export type GcsSettings = z.output<typeof gcsSettings>;

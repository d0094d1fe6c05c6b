/** An `s3` backend's settings in the routing table. */
import { z } from 'zod';
import { boolean, credentialGroup, httpUrl, nonEmptyString, settingsSchema } from '../kit-schema';

export const s3Settings = settingsSchema('s3', {
  region: nonEmptyString.optional(),
  endpoint: httpUrl.optional(),
  forcePathStyle: boolean.optional(),
  /** 'native' (default): the store enforces If-Match/If-None-Match; 'check': s3mux checks first (stores that ignore them). */
  conditionalWrites: z.enum(['native', 'check'], { error: "expected 'native' or 'check'" }).optional(),
  /** Absent: the AWS SDK's default credential chain. */
  credentials: credentialGroup('s3 backends', { profile: nonEmptyString.optional() }, ['accessKeyId', 'secretAccessKey', 'sessionToken'], {
    together: [['accessKeyId', 'secretAccessKey']],
  }).optional(),
});

export type S3Settings = z.output<typeof s3Settings>;

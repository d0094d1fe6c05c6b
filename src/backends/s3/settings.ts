/** An `s3` backend's settings in the routing table. */
import { z } from 'zod';
import { boolean, credentialGroup, filePath, httpUrl, nonEmptyString, settingsSchema, trueOr } from '../kit-schema';

/** Where STS is, for assumeRole and webIdentity: a regional or VPC endpoint (default: the backend's region's). */
const sts = { stsEndpoint: httpUrl.optional(), stsRegion: nonEmptyString.optional() };

/** The kinds that are a source of credentials on their own (assumeRole takes one of them, or the default chain, as its source). */
const SOURCE_KINDS = ['profile', 'defaultChain', 'webIdentity', 'ecsRole', 'ec2InstanceRole'] as const;

export const s3Settings = settingsSchema('s3', {
  region: nonEmptyString.optional(),
  endpoint: httpUrl.optional(),
  forcePathStyle: boolean.optional(),
  /** 'native' (default): the store enforces If-Match/If-None-Match; 'check': s3mux checks first (stores that ignore them). */
  conditionalWrites: z.enum(['native', 'check'], { error: "expected 'native' or 'check'" }).optional(),
  /** true (default): s3mux's own state (bucket configuration, versions) lives in the store under `.s3mux/r/`; false: those features answer NotImplemented. */
  stateInStore: boolean.optional(),
  /**
   * The auth types of the product design, one kind (assumeRole adds to another: its source).
   * Absent or `defaultChain: true`: the AWS SDK's default credential chain.
   */
  credentials: credentialGroup(
    's3 backends',
    {
      /** A named profile of the shared config files (today's spelling of the default chain with a profile). */
      profile: nonEmptyString.optional(),
      defaultChain: z.literal(true, { error: 'expected true' }).optional(),
      /** STS AssumeRole, with the other credentials given here (or the default chain) as the source. */
      assumeRole: credentialGroup("'assumeRole'", {
        roleArn: nonEmptyString,
        externalId: nonEmptyString.optional(),
        sessionName: nonEmptyString.optional(),
        durationSeconds: z.number().int().min(900).max(43200).optional(),
        ...sts,
      }).optional(),
      /** STS AssumeRoleWithWebIdentity with a token file (EKS IRSA); defaults: AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE. */
      webIdentity: trueOr(
        credentialGroup("'webIdentity'", {
          roleArn: nonEmptyString.optional(),
          tokenFile: filePath.optional(),
          sessionName: nonEmptyString.optional(),
          ...sts,
        }),
      ).optional(),
      /** The ECS task role (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI, as ECS and EKS Pod Identity set them). */
      ecsRole: z.literal(true, { error: 'expected true' }).optional(),
      /** The EC2 instance role, from the instance metadata service (IMDSv2, then v1). */
      ec2InstanceRole: z.literal(true, { error: 'expected true' }).optional(),
    },
    ['accessKeyId', 'secretAccessKey', 'sessionToken'],
    { together: [['accessKeyId', 'secretAccessKey']] },
  )
    .superRefine((c, ctx) => {
      const kinds = [c.accessKeyId || c.secretAccessKey ? 'access keys' : undefined, ...SOURCE_KINDS.filter((k) => c[k] !== undefined)];
      const given = kinds.filter((k) => k !== undefined);
      if (given.length > 1) ctx.addIssue({ code: 'custom', message: `give one kind of credentials, not several: ${given.join(', ')}` });
    })
    .optional(),
});

export type S3Settings = z.output<typeof s3Settings>;

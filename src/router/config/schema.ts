/**
 * The routing table's schema (zod), composed from each kit's settings schema. It validates a
 * table, gives the TypeScript types of what a table holds, and is what
 * `routing-config/schema.json` is generated from (`npm run schema`).
 */
import { z } from 'zod';
import type { BackendKit } from '../../backends/kit';
import { boolean, COMMENT_KEY, credentialGroup, mapping, nonEmptyString, unknownKeyHints } from '../../backends/kit-schema';
import { ACTIONS } from '../../auth/policy';
import { CANNED_ACLS } from '../../access/acl';
import { OWNERSHIPS } from '../../access/decide';
import { kindSuggestion } from '../uri';
import { isPlainObject } from './diagnostics';

/** A mapping of names to entries. */
function named<T extends z.ZodType>(entry: T) {
  return z.record(z.string(), entry, { error: 'expected a mapping' });
}

/** `type: <kind>` and the kit's settings. */
function backendSchema(kit: BackendKit) {
  const schema = z.strictObject({ type: z.literal(kit.kind), ...kit.settings.shape }).describe(`${kit.kind}: ${kit.description}`);
  const hint = unknownKeyHints.get(kit.settings);
  if (hint) schema.register(unknownKeyHints, hint);
  return schema;
}

export function anyBackendSchema(kits: readonly BackendKit[]) {
  const kinds = kits.map((k) => k.kind).join(', ');
  return z.discriminatedUnion(
    'type',
    kits.map(backendSchema) as [ReturnType<typeof backendSchema>, ...ReturnType<typeof backendSchema>[]],
    {
      error: (issue) => {
        if (!isPlainObject(issue.input)) return `expected a mapping with 'type' (one of ${kinds}) and its settings`;
        const type = issue.input.type;
        if (type === undefined) return `one of ${kinds}`;
        const guess = kindSuggestion(type, kits);
        return `expected a backend type, one of ${kinds}${guess ? ` (did you mean '${guess}'?)` : ''}`;
      },
    },
  );
}

const PREFIX_MESSAGE = "expected a string ending in '/' (or '' for none)";
const BUCKET_REF_MESSAGE = "expected a bucket name (no '/')";

const routeObject = mapping({
  /** A backend URI (s3://bucket/prefix, file:///srv/photos ...). */
  target: nonEmptyString.optional(),
  /** The named backend that serves the route (default: the one the target's kind implies, or the default backend). */
  backend: nonEmptyString.optional(),
  /** A bucket on `backend`, instead of a target. */
  bucket: z
    .string({ error: BUCKET_REF_MESSAGE })
    .refine((v) => v !== '' && !v.includes('/') && v !== '.' && v !== '..', { error: BUCKET_REF_MESSAGE })
    .optional(),
  /** '' or ending in '/'. */
  prefix: z
    .string({ error: PREFIX_MESSAGE })
    .refine((v) => v === '' || v.endsWith('/'), { error: PREFIX_MESSAGE })
    .optional(),
  /** Writes answer AccessDenied. */
  readOnly: boolean.optional(),
  /** Anonymous GET/HEAD/List allowed. */
  publicRead: boolean.optional(),
  /** A bucket policy the table fixes (a JSON policy document, as a mapping or as its text); PutBucketPolicy is then refused. */
  policy: z
    .union([z.string(), z.record(z.string(), z.unknown())], { error: 'expected a bucket policy (a mapping or its JSON text)' })
    .optional(),
  /** A canned ACL the table fixes for the bucket; PutBucketAcl is then refused. */
  acl: z.enum(CANNED_ACLS, { error: `expected a canned ACL, one of ${CANNED_ACLS.join(', ')}` }).optional(),
  /** The bucket's public access block, fixed by the table. */
  publicAccessBlock: mapping(
    {
      BlockPublicAcls: boolean.optional(),
      IgnorePublicAcls: boolean.optional(),
      BlockPublicPolicy: boolean.optional(),
      RestrictPublicBuckets: boolean.optional(),
    },
    'expected a mapping of BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets',
  ).optional(),
  /** The bucket's object ownership, fixed by the table. */
  objectOwnership: z.enum(OWNERSHIPS, { error: `expected one of ${OWNERSHIPS.join(', ')}` }).optional(),
}).superRefine(
  (_, ctx) => {
    const value = ctx.value as Record<string, unknown>;
    if (value.target !== undefined && value.bucket !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['bucket'],
        params: { anchor: 'key' },
        message: "give either 'target' (a backend URI) or 'bucket' (a bucket on the backend), not both",
      });
    } else if (value.target === undefined && value.bucket === undefined) {
      ctx.addIssue({
        code: 'custom',
        params: { anchor: 'key' },
        message: "missing 'target' (a backend URI such as file:///srv/photos or s3://bucket/prefix) or 'bucket' (a bucket on the backend)",
      });
    }
  },
  { when: () => true },
);

/** A route: a backend URI, short for `{ target: URI }`, or a mapping. */
export const routeSchema = z.union([z.string(), routeObject], {
  error:
    'expected a backend URI or a mapping with keys target, backend, bucket, prefix, readOnly, publicRead, policy, acl, publicAccessBlock, objectOwnership',
});

const oneOrMore = <T extends z.ZodType>(item: T, message: string) =>
  z.union([item, z.array(item).min(1)], { error: message }).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const policyRule = mapping(
  {
    buckets: oneOrMore(z.string().regex(/^[a-z0-9.*?-]+$/), "expected a bucket name or glob ('*', '?'), or a list of them"),
    allow: oneOrMore(z.enum(ACTIONS), `expected a list of actions, each one of ${ACTIONS.join(', ')}`),
  },
  'expected a rule { buckets, allow }',
);

/** A user besides root: its access key id, its secret by reference, and what it may do. */
export const identitySchema = credentialGroup(
  'identities',
  {
    accessKeyId: z.string().regex(/^[A-Za-z0-9_+=,.@-]{3,128}$/, { error: 'expected an access key id (3-128 letters, digits or _+=,.@-)' }),
    /** What an ACL grant by e-mail address (emailAddress=...) names. */
    email: z
      .string()
      .regex(/^[^\s@]+@[^\s@]+$/, { error: 'expected an e-mail address' })
      .optional(),
    admin: boolean.optional(),
    policy: z.array(policyRule, { error: 'expected a list of rules, each { buckets, allow }' }).optional(),
  },
  ['secretAccessKey'],
  { oneSecretOf: ['secretAccessKey'] },
);

/** The whole table. */
export function tableSchema(kits: readonly BackendKit[]) {
  return mapping(
    {
      /** Where editors find this schema (JSON tables; YAML ones say it in a `# yaml-language-server:` comment). */
      $schema: z.string({ error: 'expected a string' }).optional(),
      /** Named backends; `type` picks the kind, the other keys are its settings. */
      backends: named(anyBackendSchema(kits)).optional(),
      /** The backend CreateBucket and unrouted buckets use; may be omitted when exactly one backend is declared. */
      default: nonEmptyString.optional(),
      /** Virtual bucket (S3 naming rules) → where it lives. */
      routes: named(routeSchema).optional(),
      /** Users besides root. */
      identities: named(identitySchema).optional(),
      /** Access control: the account the identities belong to, and new buckets' object ownership. */
      accessControl: mapping(
        {
          /** 12 digits; appears in every identity's ARN (arn:aws:iam::<accountId>:user/<name>). Default 000000000000. */
          accountId: z
            .string()
            .regex(/^\d{12}$/, { error: 'expected a 12-digit account id' })
            .optional(),
          /** Object ownership of buckets created without x-amz-object-ownership. Default BucketOwnerEnforced (ACLs disabled, as S3 creates buckets). */
          objectOwnership: z.enum(OWNERSHIPS, { error: `expected one of ${OWNERSHIPS.join(', ')}` }).optional(),
        },
        'expected a mapping with accountId, objectOwnership',
      ).optional(),
    },
    'expected a mapping (the routing table)',
  );
}

/** The JSON Schema editors check tables against (routing-config/schema.json). */
export function tableJsonSchema(kits: readonly BackendKit[]): Record<string, unknown> {
  const schema = z.toJSONSchema(tableSchema(kits), { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return { ...(withComments(schema) as Record<string, unknown>), title: 's3mux routing table' };
}

/** Every mapping of a table may hold a `$comment` string (JSON has no comments). */
function withComments(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withComments);
  if (!isPlainObject(node)) return node;
  const out = Object.fromEntries(
    Object.entries(node).map(([k, v]) => [
      k,
      k === 'properties' && isPlainObject(v)
        ? Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, withComments(pv)]))
        : withComments(v),
    ]),
  );
  if (out.type === 'object')
    out.properties = {
      [COMMENT_KEY]: { type: 'string', description: 'ignored' },
      ...(isPlainObject(out.properties) ? out.properties : {}),
    };
  return out;
}

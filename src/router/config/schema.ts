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
import { CORS_METHODS, MAX_CORS_RULES } from '../../bucket-config/cors';
import { kindSuggestion } from '../uri';
import { isPlainObject } from './diagnostics';

/** A mapping of names to entries. */
function named<T extends z.ZodType>(entry: T) {
  return z.record(z.string(), entry, { error: 'expected a mapping' });
}

/** `type: <kind>` and the kit's settings. */
function backendSchema(kit: BackendKit) {
  const schema = z
    .strictObject({
      type: z.literal(kit.kind),
      ...kit.settings.shape,
      /** The tier (of `tiers:`) whose class objects get when a write names none. */
      tier: nonEmptyString.optional(),
    })
    .describe(`${kit.kind}: ${kit.description}`);
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

const stringList = (what: string) =>
  z
    .union([z.string(), z.array(z.string()).min(1)], { error: `expected ${what} or a list of them` })
    .transform((v) => (Array.isArray(v) ? v : [v]));

/** One CORS rule a route fixes (S3's CORSRule; checked further with S3's rules in cross-checks). */
const corsRuleSchema = mapping(
  {
    id: z.string().max(255).optional(),
    allowedOrigins: stringList("an origin ('https://app.example.com', '*', 'https://*.example.com')"),
    allowedMethods: z
      .union([z.enum(CORS_METHODS), z.array(z.enum(CORS_METHODS)).min(1)], { error: `expected methods among ${CORS_METHODS.join(', ')}` })
      .transform((v) => (Array.isArray(v) ? v : [v])),
    allowedHeaders: stringList('a request header name (one * wildcard allowed)').optional(),
    exposeHeaders: stringList('a response header name').optional(),
    maxAgeSeconds: z.number().int().min(0).optional(),
  },
  'expected a CORS rule { allowedOrigins, allowedMethods, allowedHeaders, exposeHeaders, maxAgeSeconds, id }',
);

/** Where one target of a route lives: a backend URI, a bucket on a backend, or both with the backend named. */
const targetFields = {
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
};

/** The keys that make a route one of the composite forms (route-forms.ts builds them). */
export const ROUTE_FORMS = ['migrate', 'mirror', 'failover'] as const;
export type RouteForm = (typeof ROUTE_FORMS)[number];

/** A target given as a mapping needs `target` or `bucket`, not both. */
function checkTargetOrBucket(value: Record<string, unknown>, ctx: z.RefinementCtx, what: string): void {
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
      message: `missing 'target' (a backend URI such as file:///srv/photos or s3://bucket/prefix) or 'bucket' (a bucket on the backend)${what}`,
    });
  }
}

const targetObject = mapping(targetFields).superRefine((_, ctx) => checkTargetOrBucket(ctx.value, ctx, ''), {
  when: () => true,
});

/** One target of a migrate, mirror or failover route: a backend URI, or `{ backend, target }` / `{ backend, bucket, prefix }`. */
export const targetSchema = z.union([nonEmptyString, targetObject], {
  error: 'expected a backend URI or a mapping with keys target, backend, bucket, prefix',
});

const BYTES_MESSAGE = "expected a number of bytes per second, or a string such as '50MiB' or '10MB'";
/** A rate in bytes per second: a number, or a size with a unit ('50MiB', '10MB', '512KiB'). */
export const rateSchema = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?\s*([KMGT]i?B|B)?$/i)], { error: BYTES_MESSAGE });

const migrateObject = mapping(
  {
    /** The old location: read for keys not yet copied, emptied as the copier moves keys. */
    from: targetSchema,
    /** The new location: every write lands here. */
    to: targetSchema,
    /** Whether `s3mux serve` runs the background copier for this route (default true). */
    copy: boolean.optional(),
    /** Keys copied at once (default 4). */
    concurrency: z.number({ error: 'expected an integer from 1 to 64' }).int().min(1).max(64).optional(),
    /** Bandwidth limit of the copier, bytes per second (default: none). */
    rate: rateSchema.optional(),
  },
  'expected a mapping with keys from, to (and optionally copy, concurrency, rate)',
);

const targetList = (what: string) =>
  z
    .array(targetSchema, { error: `expected a list of two or more targets ${what}` })
    .min(2, { error: `expected two or more targets ${what}` });

const routeObject = mapping({
  ...targetFields,
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
  /** Moves the bucket from one location to another while it stays in use. */
  migrate: migrateObject.optional(),
  /** Every object on every target; reads from the first healthy one. */
  mirror: targetList('(the first is the primary)').optional(),
  /** With `mirror`: sync answers after every target holds a write, async after the primary (the rest catch up from a queue). */
  mode: z.enum(['sync', 'async'], { error: "expected 'sync' or 'async'" }).optional(),
  /** Reads and writes the first healthy target. */
  failover: targetList('(in order of preference)').optional(),
  /** CORS rules the routing table fixes: PutBucketCors and DeleteBucketCors are then refused. */
  cors: z.array(corsRuleSchema, { error: 'expected a list of CORS rules' }).min(1).max(MAX_CORS_RULES).optional(),
  /** The tier (of `tiers:`) whose class objects get when a write names none; default: the backend's tier. */
  tier: nonEmptyString.optional(),
}).superRefine(
  (_, ctx) => {
    const value = ctx.value as Record<string, unknown>;
    const forms = ROUTE_FORMS.filter((f) => value[f] !== undefined);
    if (forms.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [forms[1]],
        params: { anchor: 'key' },
        message: `give one of ${forms.join(', ')}, not several`,
      });
      return;
    }
    if (value.mode !== undefined && forms[0] !== 'mirror') {
      ctx.addIssue({ code: 'custom', path: ['mode'], params: { anchor: 'key' }, message: "'mode' goes with 'mirror' only" });
    }
    if (forms.length === 1) {
      for (const k of Object.keys(targetFields)) {
        if (value[k] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [k],
            params: { anchor: 'key' },
            message: `a ${forms[0]} route names its locations inside '${forms[0]}', not with '${k}'`,
          });
        }
      }
      return;
    }
    checkTargetOrBucket(value, ctx, ', or one of migrate, mirror, failover');
  },
  { when: () => true },
);

/** A route: a backend URI, short for `{ target: URI }`, or a mapping. */
export const routeSchema = z.union([z.string(), routeObject], {
  error:
    'expected a backend URI or a mapping with keys target, backend, bucket, prefix, readOnly, publicRead, cors, tier, policy, acl, publicAccessBlock, objectOwnership (or migrate, mirror, failover)',
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
      /** Tier policies: tier name → backend kind → that store's storage class (gold: { s3: STANDARD, azure: Hot }). */
      tiers: named(named(nonEmptyString)).optional(),
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

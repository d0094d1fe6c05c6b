/**
 * Building blocks for kits' settings schemas (zod). Each block carries the message the
 * routing-table loader shows when a value does not fit ("expected ..."); the loader adds what
 * it found, its path and position. Secrets are never values: `secretFields('token')` accepts
 * `tokenEnv` (an environment variable's name) or `tokenFile` (a path), and the settings hold a
 * SecretRef under `token`.
 */
import * as path from 'node:path';
import { z } from 'zod';
import type { SecretRef } from '../auth/secrets';

export type { SecretRef } from '../auth/secrets';

/** A key allowed in any mapping and ignored: JSON has no comments. */
export const COMMENT_KEY = '$comment';

export const nonEmptyString = z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' });
export const boolean = z.boolean({ error: 'expected true or false' });
export const httpUrl = z
  .string({ error: 'expected an http:// or https:// URL' })
  .regex(/^https?:\/\/[^\s/]+/, { error: 'expected an http:// or https:// URL' });
export const httpsUrl = z.string({ error: 'expected an https:// URL' }).regex(/^https:\/\/[^\s/]+/, { error: 'expected an https:// URL' });
const ENV_NAME_MESSAGE = "expected the NAME of an environment variable (letters, digits and '_'), not its value";
/** Values under a key ending in `Env` are never echoed in messages: one may be a secret put where its name belongs. */
export const envName = z.string({ error: ENV_NAME_MESSAGE }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: ENV_NAME_MESSAGE });

let baseDir: string | undefined;

/** Runs `fn` with relative `filePath` values resolved against `dir` (the routing table's directory). */
export function resolvingPathsAgainst<T>(dir: string, fn: () => T): T {
  const saved = baseDir;
  baseDir = dir;
  try {
    return fn();
  } finally {
    baseDir = saved;
  }
}

/** A file-system path; relative ones resolve against the routing table's directory. */
export const filePath = nonEmptyString.transform((p) => path.resolve(baseDir ?? process.cwd(), p));

/**
 * A strict mapping: unknown keys are reported. (`$comment` keys are taken out before the
 * schema sees a table, and added to every mapping of the published JSON Schema.)
 */
export function mapping<Shape extends z.ZodRawShape>(shape: Shape, what?: string) {
  return z.strictObject(shape, what ? { error: what } : undefined);
}

/** What an unknown key in a mapping means, beyond "did you mean": registered per schema, read by the loader. */
export const unknownKeyHints = z.registry<{ hint: (key: string) => string | undefined }>();

/** Keys that hold a secret value wherever they appear; never accepted literally. */
const SECRET_NAMES = [
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'serviceAccountKey',
  'serviceAccount',
  'privateKey',
  'accountKey',
  'sharedKey',
  'sasToken',
  'sas',
  'connectionString',
  'token',
  'password',
  'passphrase',
  'clientSecret',
  'apiKey',
  'secret',
];

type SecretShape<N extends string> = { [K in `${N}Env`]: z.ZodOptional<typeof envName> } & {
  [K in `${N}File`]: z.ZodOptional<typeof filePath>;
};

/** `<name>Env` and `<name>File` for each secret name. */
export function secretFields<const N extends string>(names: readonly N[]): SecretShape<N> {
  const shape: Record<string, z.ZodType> = {};
  for (const n of names) {
    shape[`${n}Env`] = envName.optional();
    shape[`${n}File`] = filePath.optional();
  }
  return shape as SecretShape<N>;
}

/** Output of a group with secrets: `<name>Env`/`<name>File` folded into `<name>: SecretRef`. */
export type WithSecrets<T, N extends string> = Omit<T, `${N}Env` | `${N}File` | N> & { [K in N]?: SecretRef };

/** A key that must never hold a value: a secret written literally. Its value is never echoed. */
function literalSecret(name: string) {
  return z
    .never({
      error: `a literal secret is not allowed in the config: use '${name}Env' (the name of an environment variable) or '${name}File' (the path of a file holding it)`,
    })
    .optional()
    .describe(`not allowed: give ${name}Env or ${name}File`);
}

export interface CredentialRules<N extends string> {
  /** Exactly one of these secrets. */
  oneSecretOf?: readonly N[];
  /** [a, b]: a and b go together (both or neither). */
  together?: readonly (readonly [N, N])[];
  /** [a, b]: a only makes sense with b. */
  needs?: readonly (readonly [N, N])[];
  /** At most one of these keys. */
  atMostOneOf?: readonly string[];
  /** At most one kind of credentials: one secret or one of these keys (nested groups). */
  oneKindOf?: readonly string[];
  /** What an unknown key means, before the literal-secret and did-you-mean messages. */
  hint?: (key: string) => string | undefined;
}

function quoteList(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

/**
 * A mapping of credentials (or a nested group of them): plain fields plus secrets by
 * reference, with the rules about which go together. Literal secrets get a message saying to
 * use `<name>Env` or `<name>File`.
 */
export function credentialGroup<Shape extends z.ZodRawShape, const N extends string = never>(
  what: string,
  shape: Shape,
  secrets: readonly N[] = [],
  rules: CredentialRules<N> = {},
) {
  const literals = Object.fromEntries(secrets.map((s) => [s, literalSecret(s)])) as { [K in N]: ReturnType<typeof literalSecret> };
  const fields = { ...shape, ...secretFields(secrets), ...literals };
  const allowed = Object.keys(fields).filter((k) => !(secrets as readonly string[]).includes(k));
  const object = mapping(fields).superRefine(
    (_, ctx) => {
      // The rules look at what was written, including fields that failed their own checks.
      const value = ctx.value as Record<string, unknown>;
      const has = (s: string) => [`${s}Env`, `${s}File`, s].some((k) => value[k] !== undefined);
      const issue = (message: string, at: string[] = []) => ctx.addIssue({ code: 'custom', message, path: at, params: { anchor: 'key' } });
      for (const s of secrets) {
        if (value[`${s}Env`] !== undefined && value[`${s}File`] !== undefined)
          issue(`give one of '${s}Env' or '${s}File', not both`, [`${s}File`]);
      }
      if (rules.oneSecretOf) {
        const given = rules.oneSecretOf.filter(has);
        const ways = rules.oneSecretOf.map((s) => `'${s}Env' or '${s}File'`).join(', or ');
        if (given.length === 0) issue(`missing the secret: add ${ways}`);
        else if (given.length > 1) issue(`give one of ${quoteList(given)}, not several`);
      }
      for (const [a, b] of rules.together ?? []) {
        if (has(a) !== has(b)) {
          const missing = has(a) ? b : a;
          issue(`'${a}' and '${b}' go together: add '${missing}Env' or '${missing}File'`);
        }
      }
      for (const [a, b] of rules.needs ?? []) {
        if (has(a) && !has(b)) issue(`'${a}' needs '${b}': add '${b}Env' or '${b}File', or drop '${a}'`);
      }
      if (rules.atMostOneOf) {
        const given = rules.atMostOneOf.filter((k) => value[k] !== undefined);
        if (given.length > 1) issue(`give at most one of ${quoteList(rules.atMostOneOf)}, got ${quoteList(given)}`);
      }
      if (rules.oneKindOf) {
        const given = [...secrets.flatMap((s) => [s, `${s}Env`, `${s}File`]), ...rules.oneKindOf].filter((k) => value[k] !== undefined);
        if (given.length > 1) issue(`give one kind of credentials, not several: ${given.map((k) => `'${k}'`).join(', ')}`);
      }
    },
    { when: () => true },
  );
  object.register(unknownKeyHints, {
    hint: (key) => {
      const custom = rules.hint?.(key);
      if (custom) return custom;
      const secret =
        secrets.find((s) => s.toLowerCase() === key.toLowerCase()) ?? SECRET_NAMES.find((s) => s.toLowerCase() === key.toLowerCase());
      if (!secret) return undefined;
      if ((secrets as readonly string[]).includes(secret)) {
        return `a literal secret is not allowed in the config: use '${secret}Env' (the name of an environment variable) or '${secret}File' (the path of a file holding it)`;
      }
      return `a literal secret is not allowed in the config, and ${what} take${what.endsWith('s') ? '' : 's'} no '${key}'${allowed.length ? `: give credentials by reference (${allowed.join(', ')})` : ''}`;
    },
  });
  return object.transform((value) => foldSecrets(value, secrets));
}

function foldSecrets<T extends Record<string, unknown>, N extends string>(value: T, secrets: readonly N[]): WithSecrets<T, N> {
  const out: Record<string, unknown> = { ...value };
  for (const s of secrets) {
    const env = out[`${s}Env`] as string | undefined;
    const file = out[`${s}File`] as string | undefined;
    delete out[`${s}Env`];
    delete out[`${s}File`];
    if (env !== undefined) out[s] = { env } satisfies SecretRef;
    else if (file !== undefined) out[s] = { file } satisfies SecretRef;
  }
  return out as WithSecrets<T, N>;
}

/**
 * Another spelling of a credential (the product design's word beside today's key): the group
 * accepts both, and its output holds only `to`, so the code behind it sees one name. A table
 * giving both spellings is refused by the group's one-kind rule.
 */
export function foldAliases<const A extends Record<string, string>>(aliases: A) {
  return <T extends Record<string, unknown>>(value: T): Omit<T, keyof A> => {
    const out: Record<string, unknown> = { ...value };
    for (const [from, to] of Object.entries(aliases)) {
      if (out[from] !== undefined) out[to] = out[from];
      delete out[from];
    }
    return out as Omit<T, keyof A>;
  };
}

/** A credentials group that `true` may stand for, with every field defaulted (`managedIdentity: true`). */
export function trueOr<T extends z.ZodType>(group: T) {
  return z.union([z.literal(true), group], { error: 'expected true or a mapping' }).transform((v) => (v === true ? group.parse({}) : v));
}

/**
 * A kit's settings: its fields (and `credentials` when it takes any). Unknown keys that name a
 * secret are told to go under `credentials`, by reference.
 */
export function settingsSchema<Shape extends z.ZodRawShape>(kind: string, shape: Shape) {
  const object = mapping(shape);
  const credentials = (shape as unknown as Record<string, z.ZodType | undefined>).credentials;
  object.register(unknownKeyHints, {
    hint: (key) => {
      const secret = SECRET_NAMES.find((s) => s.toLowerCase() === key.toLowerCase());
      if (!secret) return undefined;
      const inner = credentials ? unknownKeyHints.get(innerObject(credentials))?.hint(key) : undefined;
      if (inner?.startsWith('a literal secret is not allowed in the config: use')) return `${inner} under 'credentials'`;
      return `a literal secret is not allowed in the config, and ${kind} backends take no '${key}'`;
    },
  });
  return object;
}

/** The strict object inside optional/pipe/union wrappers (the one `unknownKeyHints` is registered on). */
export function innerObject(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (let i = 0; i < 10; i++) {
    const def = (
      s as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; schema?: z.ZodType; options?: z.ZodType[] } }
    ).def;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') s = def.innerType as z.ZodType;
    else if (def.type === 'pipe') s = def.in as z.ZodType;
    else if (def.type === 'union') s = (def.options ?? []).find((o) => innerObject(o) instanceof z.ZodObject) ?? s;
    else break;
    if (def.type === 'union') return innerObject(s);
  }
  return s;
}

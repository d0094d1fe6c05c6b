/**
 * A backend kit: everything s3mux knows about one kind of store, in the store's own folder
 * (`src/backends/<kind>/kit.ts`). The routing-table loader, the URI parser, `s3mux check` and
 * the router are generic over the list of kits in `src/backends/registry.ts`; adding a kind is
 * one folder and one line there.
 *
 * A kit file stays light: it imports its adapter (and that adapter's SDK) only inside
 * `create`, so a table that does not use a kind never loads its SDK.
 */
import type { z } from 'zod';
import type { Backend } from './types';
import type { StorageClassTable } from './storage-class-table';

/** Settings as the routing table gives them to a factory: `kind` plus the kit's settings. */
export interface BackendSpec {
  kind: string;
  [setting: string]: unknown;
}

/** A kit's settings type with its kind: what `create` receives. */
export type SpecOf<Settings extends z.ZodType, Kind extends string = string> = z.output<Settings> & { kind: Kind };

export interface BackendContext {
  /** The backend's name in the routing table (declared or implicit), for messages and metrics. */
  name: string;
  /** Where SecretRef { env } values are looked up; default process.env. */
  env: NodeJS.ProcessEnv;
}

export interface UriContext {
  /** Directory that relative paths in a URI resolve against (the routing table's directory). */
  baseDir: string;
}

/** What one `target:` URI names. */
export interface TargetUri {
  /** The real bucket (directory, container, release) on the backend. */
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  /**
   * Backend settings the URI itself names (an fs root, an azure account, an OCI namespace):
   * merged into the serving backend's settings, and a conflict with them is an error.
   */
  settings: Record<string, unknown>;
}

/** One URI scheme of a kit. */
export interface UriForm {
  /** Lowercase, without ':' (`s3`, `az`). */
  scheme: string;
  /** The accepted forms, shown in error messages (`az://container[/prefix]`). */
  forms: string;
  /**
   * Parses what follows `scheme:` (query and fragment already refused). Throws UriError with
   * a message fit to show the user.
   */
  parse(rest: string, uri: string, ctx: UriContext): TargetUri;
}

export interface BackendKit<Settings extends z.ZodObject = z.ZodObject> {
  /** The `type:` of a backend in the routing table. */
  readonly kind: string;
  /** One line for `s3mux check` and the JSON Schema. */
  readonly description: string;
  /**
   * The settings besides `type`, as a strict zod object (build it with `settingsSchema` from
   * kit-schema.ts). Its output type is the config type; the routing table's JSON Schema is
   * generated from it. Secrets appear only as references (`secretFields`).
   */
  readonly settings: Settings;
  /** The URI forms a route's `target:` may use for this kind. */
  readonly uris: readonly UriForm[];
  /** The ways the kit gets credentials, in the words its docs use ('default chain' when none are given). */
  readonly credentialKinds: readonly string[];
  /**
   * The auth type these settings use, in the product design's words (`s3mux check --probe`
   * names it per backend); absent: the kind takes no credentials.
   */
  authType?(settings: z.output<Settings>): string;
  /**
   * True when a target URI names the whole backend (an fs root, a memory store): such a target
   * gets a backend of its own unless a declared one has exactly these settings. Otherwise a
   * target without `backend:` uses the one declared backend of its kind (or one with default
   * settings when none is declared).
   */
  readonly targetNamesBackend?: boolean;
  /** Fills settings that default to something else in the table (memory: the store is the backend's name). */
  complete?(settings: z.output<Settings>, backendName: string): z.output<Settings>;
  /** The name of the backend made for targets that no declared backend serves; default `<kind>:default`. */
  implicitName?(settings: z.output<Settings>): string;
  /**
   * Why `bucket` cannot be a bucket (container, release) on this store, naming the rule it
   * breaks, or undefined when it can. `s3mux check` applies it to every route's real bucket.
   */
  bucketNameProblem?(bucket: string): string | undefined;
  /**
   * The S3 storage classes this store can hold and its own name for each (storage-classes.ts);
   * absent: STANDARD only.
   */
  readonly storageClasses?: StorageClassTable;
  /**
   * How the store keeps objects at rest, which decides SSE-S3 (src/s3/request-features.ts):
   * 'encrypted', every object whether asked or not (the clouds; memory, never on a disk); 'when
   * asked', each write that requests it is encrypted or refused (the s3 backend checks the store's
   * answer); 'as the operator says', encrypted only when s3mux is told its volume is (fs,
   * `serve --fs-encrypted-at-rest`). Absent: s3mux vouches for nothing, and SSE-S3 is refused.
   */
  readonly atRest?: 'encrypted' | 'when asked' | 'as the operator says';
  /**
   * Where `where` (`bucket/prefix`) is on this store, for people (`s3mux routes`, the start-up
   * banner); default `<first URI scheme>://where`.
   */
  location?(settings: z.output<Settings>, where: string): string;
  /** Makes the backend; may throw (a secret that cannot be read) with a message naming the setting. */
  create(settings: SpecOf<Settings>, context: BackendContext): Backend;
}

/**
 * The auth type of a `credentials` mapping: the name of the first key of `table` it holds
 * (the settings allow one kind), else `otherwise` (what the kind does when none is given).
 */
export function authTypeOf(credentials: object | undefined, table: readonly (readonly [string, string])[], otherwise: string): string {
  const c = (credentials ?? {}) as Record<string, unknown>;
  return table.find(([key]) => c[key] !== undefined && c[key] !== false)?.[1] ?? otherwise;
}

/** Identity function that checks a kit against the interface while keeping its precise types. */
export function defineKit<Settings extends z.ZodObject>(kit: BackendKit<Settings>): BackendKit<Settings> {
  return kit;
}

export class UriError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UriError';
  }
}

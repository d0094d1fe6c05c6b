/** What a validated routing table holds, after its cross-references are resolved. */
import type { BackendKit, BackendSpec } from '../../backends/kit';
import type { SecretRef } from '../../auth/secrets';
import type { PolicyRule } from '../../auth/policy';
import type { FixedAccess } from '../../access/fixed';
import type { Ownership } from '../../access/decide';
import type { CorsRule } from '../../bucket-config/cors';

export type { BackendSpec } from '../../backends/kit';

export interface BackendEntry {
  name: string;
  spec: BackendSpec;
  /** Not declared under `backends:` (made for a file:// or memory:// target, or the default data dir). */
  implicit: boolean;
  /** The S3 storage class of the backend's default tier, when it names one. */
  storageClass?: string;
}

/** One place a route's objects live: a backend, a real bucket on it and a key prefix. */
export interface TargetSpec {
  /** Name of the entry in RoutingTable.backends. */
  backend: string;
  /**
   * The settings of the backend instance serving this target: the named backend's, completed
   * with what the target URI names (an azure account ...).
   */
  spec: BackendSpec;
  /** The real bucket on the backend. */
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  /** The target URI as written, when the route has one. */
  target?: string;
  /** The S3 storage class of the route's default tier (its own or its backend's), for writes that name none. */
  storageClass?: string;
}

/** How a route with several targets uses them (src/router/forms/). */
export type RouteComposite =
  | {
      form: 'migrate';
      /** [to, from]: the new location first, as it is the route's primary. */
      targets: [TargetSpec, TargetSpec];
      /** Whether serve runs the background copier. */
      copy: boolean;
      concurrency: number;
      /** Bytes per second; undefined: no limit. */
      rate?: number;
    }
  | { form: 'mirror'; mode: 'sync' | 'async'; targets: TargetSpec[] }
  | { form: 'failover'; targets: TargetSpec[] };

/**
 * A route. Its own target fields are those of its primary (the only target of a plain route,
 * `to` of a migration, the first of a mirror or failover), so code that looks at one place
 * (the reserved area, the routes listing) sees the one that holds the route's state.
 */
export interface RouteSpec extends TargetSpec {
  /** The virtual bucket. */
  name: string;
  readOnly: boolean;
  publicRead: boolean;
  /** CORS rules the table fixes for this bucket (S3 clients cannot change them). */
  cors?: CorsRule[];
  /** What the table fixes of the bucket's access control (the S3 API cannot change it). */
  fixed?: FixedAccess;
  composite?: RouteComposite;
}

/** A user besides root: its secret by reference, and what it may do. */
export interface IdentitySpec {
  name: string;
  accessKeyId: string;
  secret: SecretRef;
  admin: boolean;
  rules: PolicyRule[];
  email?: string;
}

export interface AccessControlSettings {
  /** 12 digits. */
  accountId: string;
  /** Object ownership of new buckets that do not ask for one. */
  objectOwnership: Ownership;
}

export interface RoutingTable {
  /** Users besides root, in file order. */
  identities?: IdentitySpec[];
  /** Account id and new buckets' ownership; defaults when absent (src/access/fixed.ts). */
  accessControl?: AccessControlSettings;
  /** The file it was read from, when read from one. */
  file?: string;
  /** Directory relative paths were resolved against. */
  baseDir: string;
  /** Declared backends in file order, then implicit ones. */
  backends: Record<string, BackendEntry>;
  /** Name of the default backend. */
  default: string;
  /** In file order. */
  routes: RouteSpec[];
  /** Tier policies: tier → backend kind → the store's class. */
  tiers?: Record<string, Record<string, string>>;
}

export interface LoadOptions {
  /** When the table declares no backend: use an fs backend at this directory as the default. */
  defaultDataDir?: string;
  /** The backend kinds the table may use; default every kit of this build. */
  kits?: readonly BackendKit[];
}

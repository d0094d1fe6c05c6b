/** What a validated routing table holds, after its cross-references are resolved. */
import type { BackendKit, BackendSpec } from '../../backends/kit';
import type { SecretRef } from '../../auth/secrets';
import type { PolicyRule } from '../../auth/policy';
import type { FixedAccess } from '../../access/fixed';
import type { Ownership } from '../../access/decide';

export type { BackendSpec } from '../../backends/kit';

export interface BackendEntry {
  name: string;
  spec: BackendSpec;
  /** Not declared under `backends:` (made for a file:// or memory:// target, or the default data dir). */
  implicit: boolean;
}

export interface RouteSpec {
  /** The virtual bucket. */
  name: string;
  /** Name of the entry in RoutingTable.backends. */
  backend: string;
  /**
   * The settings of the backend instance serving this route: the named backend's, completed
   * with what the target URI names (an azure account ...).
   */
  spec: BackendSpec;
  /** The real bucket on the backend. */
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  readOnly: boolean;
  publicRead: boolean;
  /** What the table fixes of the bucket's access control (the S3 API cannot change it). */
  fixed?: FixedAccess;
  /** The target URI as written, when the route has one. */
  target?: string;
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
}

export interface LoadOptions {
  /** When the table declares no backend: use an fs backend at this directory as the default. */
  defaultDataDir?: string;
  /** The backend kinds the table may use; default every kit of this build. */
  kits?: readonly BackendKit[];
}

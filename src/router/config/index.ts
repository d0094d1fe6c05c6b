/**
 * The routing table (see routing-config/*.yaml for commented examples, schema.json for the
 * schema editors check them against):
 *
 *   backends:                  # named backends; `type` picks the kind (a kit), other keys its settings
 *     disk: { type: fs, root: ./data }          # paths are relative to the table's file
 *     aws:
 *       type: s3
 *       credentials:           # secrets only by reference: <name>Env or <name>File
 *         accessKeyIdEnv: AWS_ACCESS_KEY_ID
 *         secretAccessKeyFile: /run/secrets/aws-secret
 *   default: disk              # CreateBucket and unrouted buckets go here; may be omitted
 *                              # when exactly one backend is declared
 *   routes:                    # virtual bucket (S3 naming rules) -> where it lives
 *     photos: { target: file:///srv/photos, prefix: 2024/, readOnly: true, publicRead: false }
 *     archive: { backend: aws, target: s3://real-archive/team-a/ }
 *     alias: { bucket: photos-2023 }   # a bucket on `backend` (default: the default backend)
 *     quick: memory://scratch/tmp      # a bare string is short for { target: ... }
 *
 * Any mapping may hold a `$comment` string, ignored (JSON has no comments).
 *
 * load.ts reads files, schema.ts is the shape (composed from the kits' schemas),
 * cross-checks.ts resolves what entries say about each other, diagnostics.ts turns all of it
 * into `file:line:col: path: message`.
 */
export { ConfigError, formatProblem, type ConfigProblem } from './diagnostics';
export { backendSpecKey } from './cross-checks';
export { defaultRoutingTable, loadRoutingTable, parseRoutingTable, validateRoutingTable } from './load';
export type { BackendEntry, BackendSpec, IdentitySpec, LoadOptions, RouteComposite, RouteSpec, RoutingTable, TargetSpec } from './types';

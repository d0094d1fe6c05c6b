/**
 * What the schema cannot say about one entry alone: names that refer to each other (a route's
 * backend, the default), which backend serves a target URI (adding implicit ones), virtual
 * bucket names, access key ids used twice. Runs on every entry that passed its schema, so the
 * problems of a table come all at once.
 */
import * as path from 'node:path';
import type { z } from 'zod';
import type { BackendKit, BackendSpec } from '../../backends/kit';
import { s3BucketNameProblem } from '../../backends/bucket-names';
import { classProblem, nativeClasses, tierClassFor } from '../../backends/storage-classes';
import { receivingTargets } from '../forms/receivers';
import { parseBackendUri, UriError, type BackendUri } from '../uri';
import { accessControlSettings, fixedAccessOf } from '../../access/fixed';
import { isPlainObject, suggest, type Problems, type Seg } from './diagnostics';
import { anyBackendSchema, identitySchema, routeSchema } from './schema';
import type { BackendEntry, IdentitySpec, RouteComposite, RouteSpec, RoutingTable, TargetSpec } from './types';
import { parseBytes } from '../../cli/values';
import { validateCorsRule, type CorsRule } from '../../bucket-config/cors';

type RouteCorsRule = NonNullable<Exclude<z.output<typeof routeSchema>, string>['cors']>[number];

export interface TableContext {
  file?: string;
  baseDir: string;
  defaultDataDir?: string;
  kits: readonly BackendKit[];
}

const BACKEND_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Drops undefined values, at every depth. */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (!isPlainObject(v)) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => [k, clean(x)]),
  );
}

function entries(v: unknown): [string, unknown][] {
  return isPlainObject(v) ? Object.entries(v) : [];
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function quoteList(names: Iterable<string>): string {
  return [...names].join(', ');
}

/** A stable identity for backend settings: equal keys mean one shared Backend instance. */
export function backendSpecKey(spec: BackendSpec): string {
  const canon = (v: unknown): unknown =>
    isPlainObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .filter((k) => v[k] !== undefined)
            .sort()
            .map((k) => [k, canon(v[k])]),
        )
      : v;
  return JSON.stringify(canon(spec));
}

/** Two targets on one backend instance, bucket and overlapping prefixes would read and write the same keys. */
function sameLocation(a: TargetSpec, b: TargetSpec): boolean {
  return (
    backendSpecKey(a.spec) === backendSpecKey(b.spec) &&
    a.bucket === b.bucket &&
    (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix))
  );
}

export class CrossChecks {
  private readonly kitOf: Map<string, BackendKit>;
  private readonly backendSchema;
  /** Tier policies as written (tier → kind → native class), once checked. */
  private tiers: Record<string, Record<string, string>> = {};
  /** The tier each declared backend names. */
  private readonly backendTiers = new Map<string, string>();

  constructor(
    private readonly problems: Problems,
    private readonly ctx: TableContext,
  ) {
    this.kitOf = new Map(ctx.kits.map((k) => [k.kind, k]));
    this.backendSchema = anyBackendSchema(ctx.kits);
  }

  table(raw: unknown): RoutingTable | undefined {
    const top = isPlainObject(raw) ? raw : {};
    const p = this.problems;

    this.tiers = this.checkTiers(top.tiers);

    // -- backends
    const declared = new Map<string, BackendSpec | undefined>(); // undefined: declared but invalid
    for (const [name, value] of entries(top.backends)) {
      if (!BACKEND_NAME.test(name))
        p.report(['backends', name], `invalid backend name '${name}': use letters, digits, '-' and '_', starting with a letter`, 'key');
      declared.set(name, this.backend(name, value));
    }
    const backends: Record<string, BackendEntry> = {};
    for (const [name, spec] of declared) {
      if (!spec) continue;
      const tier = this.backendTiers.get(name);
      const storageClass = tier === undefined ? undefined : this.tierClass(['backends', name, 'tier'], tier, [spec.kind]);
      backends[name] = { name, spec, implicit: false, ...(storageClass ? { storageClass } : {}) };
    }

    // -- default
    let defaultName: string | undefined;
    if (typeof top.default === 'string' && top.default !== '') {
      if (this.backendRef(['default'], top.default, declared)) defaultName = top.default;
    } else if (!('default' in top)) {
      if (declared.size === 1) defaultName = [...declared.keys()][0];
      else if (declared.size === 0 && this.ctx.defaultDataDir !== undefined) {
        defaultName = 'local';
        backends.local = { name: 'local', spec: { kind: 'fs', root: path.resolve(this.ctx.defaultDataDir) }, implicit: true };
        declared.set('local', backends.local.spec);
      } else if (declared.size === 0) {
        // When 'backends' itself is malformed, that is the problem already reported.
        if (top.backends === undefined || isPlainObject(top.backends)) {
          p.report([], "no backend to use as the default: declare one under 'backends' (for example `local: { type: fs, root: ./data }`)");
        }
      } else {
        p.report(
          [],
          `missing 'default': name the backend (one of ${quoteList(declared.keys())}) that receives new buckets and unrouted names`,
        );
      }
    }

    // -- routes
    const routes: RouteSpec[] = [];
    for (const [name, value] of entries(top.routes)) {
      const route = this.route(name, value, declared, defaultName, backends);
      if (route) routes.push(route);
    }

    // -- identities
    const identities: IdentitySpec[] = [];
    for (const [name, value] of entries(top.identities)) {
      const parsed = identitySchema.safeParse(value);
      if (!parsed.success) continue; // reported by the schema
      const i = parsed.data;
      identities.push({
        name,
        accessKeyId: i.accessKeyId,
        secret: i.secretAccessKey!,
        admin: i.admin ?? false,
        rules: (i.policy ?? []).map((r) => ({ buckets: r.buckets, allow: r.allow })),
        ...(i.email !== undefined ? { email: i.email } : {}),
      });
    }
    const keys = new Map<string, string>();
    for (const i of identities) {
      const other = keys.get(i.accessKeyId);
      if (other) p.report(['identities', i.name, 'accessKeyId'], `access key id '${i.accessKeyId}' is already used by identity '${other}'`);
      keys.set(i.accessKeyId, i.name);
    }

    if (p.count > 0) return undefined;
    return {
      file: this.ctx.file,
      baseDir: this.ctx.baseDir,
      backends,
      default: defaultName as string,
      routes,
      ...(identities.length ? { identities } : {}),
      ...(isPlainObject(top.accessControl) ? { accessControl: accessControlSettings(top.accessControl) } : {}),
      ...(Object.keys(this.tiers).length ? { tiers: this.tiers } : {}),
    };
  }

  /** Each tier's entries must name a kind this build serves and one of that store's classes. */
  private checkTiers(raw: unknown): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [tier, classes] of entries(raw)) {
      out[tier] = {};
      for (const [kind, native] of entries(classes)) {
        if (typeof native !== 'string') continue; // reported by the schema
        if (!this.kitOf.has(kind)) {
          this.problems.report(['tiers', tier, kind], `unknown backend kind '${kind}' (known: ${quoteList(this.kitOf.keys())})`, 'key');
          continue;
        }
        const held = nativeClasses(kind);
        if (!held.includes(native)) {
          this.problems.report(['tiers', tier, kind], `${kind} has no storage class '${native}' (it has ${held.join(', ')})`);
          continue;
        }
        out[tier][kind] = native;
      }
    }
    return out;
  }

  /**
   * The S3 class that tier `tier` gives stores of `kinds` (one, or every target a composite
   * route's writes reach: one class for all); reports an unknown tier, one without a class for
   * a kind, or one giving the kinds different S3 classes.
   */
  private tierClass(segs: Seg[], tier: string, kinds: readonly string[]): string | undefined {
    const classes = this.tiers[tier];
    if (!classes) {
      const known = Object.keys(this.tiers);
      this.problems.report(segs, `unknown tier '${tier}' (${known.length ? `known: ${quoteList(known)}` : "no 'tiers' are defined"})`);
      return undefined;
    }
    const missing = kinds.find((k) => classes[k] === undefined);
    if (missing !== undefined) {
      this.problems.report(
        segs,
        `tier '${tier}' names no storage class for ${missing} stores: add '${missing}: <class>' under tiers.${tier}`,
      );
      return undefined;
    }
    const resolved = tierClassFor(tier, classes, kinds);
    if ('problem' in resolved) {
      this.problems.report(segs, resolved.problem);
      return undefined;
    }
    return resolved.storageClass;
  }

  /**
   * A composite route's default class: its own `tier`, for every target its writes reach; else
   * its primary's backend tier, which those targets must all hold.
   */
  private compositeClass(segs: Seg[], form: RouteComposite['form'], tier: string | undefined, targets: TargetSpec[]): string | undefined {
    const receivers = receivingTargets(form, targets);
    if (tier !== undefined)
      return this.tierClass(
        [...segs, 'tier'],
        tier,
        receivers.map((t) => t.spec.kind),
      );
    const primary = targets[0];
    if (primary.storageClass === undefined) return undefined;
    const problem = classProblem(
      receivers.map((t) => ({ label: `target ${t.target ?? `${t.backend}:${t.bucket}`} (${t.spec.kind})`, kind: t.spec.kind })),
      primary.storageClass,
    );
    if (problem) {
      this.problems.report(
        [...segs, form],
        `the tier of backend '${primary.backend}' gives this ${form} route ${primary.storageClass}, which not every target holds: ${problem} Name a route 'tier' its targets share.`,
      );
      return undefined;
    }
    return primary.storageClass;
  }

  private backend(name: string, value: unknown): BackendSpec | undefined {
    const parsed = this.backendSchema.safeParse(value);
    if (!parsed.success) return undefined; // reported by the schema
    const { type, tier, ...settings } = clean(parsed.data) as { type: string; tier?: string } & Record<string, unknown>;
    if (tier !== undefined) this.backendTiers.set(name, tier);
    const kit = this.kitOf.get(type) as BackendKit;
    const completed = kit.complete?.(settings, name) ?? settings;
    return { kind: type, ...completed };
  }

  /** Reports an unknown backend reference; true when `name` is declared. */
  private backendRef(segs: Seg[], name: string, declared: Map<string, BackendSpec | undefined>): boolean {
    if (declared.has(name)) return true;
    const guess = suggest(name, declared.keys());
    const known = declared.size ? `known: ${quoteList(declared.keys())}` : 'no backends are declared';
    this.problems.report(segs, `unknown backend '${name}' (${known})${guess ? ` — did you mean '${guess}'?` : ''}`);
    return false;
  }

  /** A route's `cors:` rules checked with S3's own rules (wildcards, methods), as PutBucketCors would. */
  private corsRules(segs: Seg[], rules: RouteCorsRule[]): CorsRule[] | undefined {
    const out: CorsRule[] = [];
    rules.forEach((r, i) => {
      const rule: CorsRule = {
        ...(r.id !== undefined ? { id: r.id } : {}),
        allowedOrigins: r.allowedOrigins,
        allowedMethods: r.allowedMethods,
        allowedHeaders: r.allowedHeaders ?? [],
        exposeHeaders: r.exposeHeaders ?? [],
        ...(r.maxAgeSeconds !== undefined ? { maxAgeSeconds: r.maxAgeSeconds } : {}),
      };
      try {
        out.push(validateCorsRule(rule));
      } catch (err) {
        this.problems.report([...segs, String(i)], err instanceof Error ? err.message : String(err));
      }
    });
    return out.length === rules.length ? out : undefined;
  }

  private route(
    name: string,
    value: unknown,
    declared: Map<string, BackendSpec | undefined>,
    defaultName: string | undefined,
    backends: Record<string, BackendEntry>,
  ): RouteSpec | undefined {
    const p = this.problems;
    const segs = ['routes', name];
    const before = p.count;
    const nameProblem = s3BucketNameProblem(name);
    if (nameProblem) p.report(segs, `invalid virtual bucket name '${name}': ${nameProblem}`, 'key');

    const parsed = routeSchema.safeParse(value);
    if (!parsed.success) return undefined; // reported by the schema
    if (parsed.data === '') {
      p.report(segs, 'expected a backend URI, got an empty string');
      return undefined;
    }
    const fields = typeof parsed.data === 'string' ? { target: parsed.data } : parsed.data;
    const cors = fields.cors && this.corsRules([...segs, 'cors'], fields.cors);
    const fixed = fixedAccessOf(fields, name, (reason) => p.report([...segs, 'policy'], `not a valid bucket policy: ${reason}`));
    const mode = {
      readOnly: fields.readOnly ?? false,
      publicRead: fields.publicRead ?? false,
      ...(cors ? { cors } : {}),
      ...(fixed ? { fixed } : {}),
    };
    const resolve = (at: Seg[], raw: unknown) => this.target(at, raw, declared, defaultName, backends);

    if ('migrate' in fields && fields.migrate) {
      const m = fields.migrate;
      const raw = (value as { migrate: Record<string, unknown> }).migrate;
      const to = resolve([...segs, 'migrate', 'to'], raw.to);
      const from = resolve([...segs, 'migrate', 'from'], raw.from);
      if (!to || !from || p.count > before) return undefined;
      if (sameLocation(to, from)) p.report([...segs, 'migrate', 'to'], "'from' and 'to' name the same place");
      let rate: number | undefined;
      try {
        rate = m.rate === undefined ? undefined : parseBytes(m.rate, 'rate');
      } catch (err) {
        p.report([...segs, 'migrate', 'rate'], (err as Error).message);
      }
      const storageClass = this.compositeClass(segs, 'migrate', fields.tier, [to, from]);
      if (p.count > before) return undefined;
      const { storageClass: _primary, ...primary } = to;
      return {
        name,
        ...primary,
        ...(storageClass ? { storageClass } : {}),
        ...mode,
        composite: { form: 'migrate', targets: [to, from], copy: m.copy ?? true, concurrency: m.concurrency ?? 4, rate },
      };
    }
    for (const form of ['mirror', 'failover'] as const) {
      const list = (fields as Record<string, unknown>)[form];
      if (list === undefined) continue;
      const raw = (value as Record<string, unknown[]>)[form];
      const targets = raw.map((t, i) => resolve([...segs, form, String(i)], t));
      if (p.count > before || targets.some((t) => !t)) return undefined;
      const ok = targets as TargetSpec[];
      ok.forEach((t, i) => {
        if (ok.slice(0, i).some((o) => sameLocation(o, t))) p.report([...segs, form, String(i)], 'this target is listed twice');
      });
      const storageClass = this.compositeClass(segs, form, fields.tier, ok);
      if (p.count > before) return undefined;
      const composite: RouteComposite =
        form === 'mirror' ? { form, mode: (fields as { mode?: 'sync' | 'async' }).mode ?? 'sync', targets: ok } : { form, targets: ok };
      const { storageClass: _primary, ...primary } = ok[0];
      return { name, ...primary, ...(storageClass ? { storageClass } : {}), ...mode, composite };
    }

    const target = resolve(segs, value);
    if (!target || p.count > before) return undefined;
    return { name, ...target, ...mode };
  }

  /** Resolves one target (a URI or a mapping with target/backend/bucket/prefix) to the backend serving it. */
  private target(
    segs: Seg[],
    value: unknown,
    declared: Map<string, BackendSpec | undefined>,
    defaultName: string | undefined,
    backends: Record<string, BackendEntry>,
  ): TargetSpec | undefined {
    const p = this.problems;
    const before = p.count;
    const fields = (typeof value === 'string' ? { target: value } : value) as {
      target?: string;
      backend?: string;
      bucket?: string;
      prefix?: string;
      /** A plain route's own tier (a composite route's is checked against all its targets: compositeClass). */
      tier?: string;
    };
    if (fields.backend !== undefined && !this.backendRef([...segs, 'backend'], fields.backend, declared)) return undefined;

    let backendName: string;
    let spec: BackendSpec;
    let bucket: string;
    let prefix = fields.prefix ?? '';
    if (fields.target !== undefined) {
      const targetSegs = typeof value === 'string' ? segs : [...segs, 'target'];
      let uri: BackendUri;
      try {
        uri = parseBackendUri(fields.target, { baseDir: this.ctx.baseDir, kits: this.ctx.kits });
      } catch (err) {
        if (!(err instanceof UriError)) throw err;
        p.report(targetSegs, err.message);
        return undefined;
      }
      const resolved = this.backendForUri(uri, targetSegs, fields.backend, declared, backends);
      if (!resolved) return undefined;
      ({ name: backendName, spec } = resolved);
      bucket = uri.bucket;
      if (uri.prefix && prefix) {
        p.report([...segs, 'prefix'], `the prefix is given twice: '${uri.prefix}' in the target and '${prefix}' here; keep one`);
        return undefined;
      }
      prefix = uri.prefix || prefix;
    } else {
      const ref = fields.backend ?? defaultName;
      if (ref === undefined || fields.bucket === undefined) return undefined; // no default: reported already
      const named = declared.get(ref);
      if (!named) return undefined; // declared but invalid: reported already
      backendName = ref;
      spec = named;
      bucket = fields.bucket;
    }
    const rule = this.kitOf.get(spec.kind)?.bucketNameProblem?.(bucket);
    if (rule) {
      const at = fields.target !== undefined ? (typeof value === 'string' ? segs : [...segs, 'target']) : [...segs, 'bucket'];
      p.report(at, `${spec.kind} bucket '${bucket}' breaks the store's naming rules: ${rule}`);
    }
    const tier = fields.tier ?? this.backendTiers.get(backendName);
    const storageClass =
      tier === undefined ? undefined : this.tierClass([...segs, fields.tier !== undefined ? 'tier' : 'backend'], tier, [spec.kind]);
    if (p.count > before) return undefined;
    return {
      backend: backendName,
      spec,
      bucket,
      prefix,
      ...(fields.target !== undefined ? { target: fields.target } : {}),
      ...(storageClass ? { storageClass } : {}),
    };
  }

  /** Which backend serves a target URI; adds implicit backends to `backends`. */
  private backendForUri(
    uri: BackendUri,
    segs: Seg[],
    backendField: string | undefined,
    declared: Map<string, BackendSpec | undefined>,
    backends: Record<string, BackendEntry>,
  ): { name: string; spec: BackendSpec } | undefined {
    const p = this.problems;
    const kit = this.kitOf.get(uri.kind) as BackendKit;
    let base: BackendSpec | undefined;
    let baseName: string | undefined;
    if (backendField !== undefined) {
      base = declared.get(backendField);
      if (!base) return undefined; // invalid backend, reported already
      baseName = backendField;
      if (base.kind !== uri.kind) {
        p.report(segs, `'${uri.uri}' needs a backend of type ${uri.kind}, but backend '${backendField}' has type ${base.kind}`);
        return undefined;
      }
    } else if (!kit.targetNamesBackend) {
      const candidates = [...declared].filter(([, s]) => s?.kind === uri.kind).map(([n]) => n);
      if (candidates.length > 1) {
        p.report(segs, `backends ${quoteList(candidates)} have type ${uri.kind}: say which one serves this route with 'backend:'`);
        return undefined;
      }
      if (candidates.length === 1) {
        baseName = candidates[0];
        base = declared.get(baseName);
        if (!base) return undefined;
      }
    }

    const spec: BackendSpec = { ...(base ?? { kind: uri.kind }) };
    for (const [f, v] of Object.entries(uri.settings)) {
      if (spec[f] !== undefined && spec[f] !== v) {
        p.report(segs, `'${uri.uri}' names ${f} '${show(v)}' but backend '${baseName}' has ${f} '${show(spec[f])}'`);
        return undefined;
      }
      spec[f] = v;
    }
    if (baseName !== undefined) return { name: baseName, spec };

    // Implicit: reuse a declared backend with exactly these settings, else make one.
    const key = backendSpecKey(spec);
    for (const [n, s] of declared) if (s && backendSpecKey(s) === key) return { name: n, spec: s };
    const implicitName = kit.implicitName?.(spec) ?? `${kit.kind}:default`;
    if (!backends[implicitName]) backends[implicitName] = { name: implicitName, spec, implicit: true };
    return { name: implicitName, spec: backends[implicitName].spec };
  }
}

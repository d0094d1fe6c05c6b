/**
 * The Owner S3 names on each listed object and version (ListObjects, ListObjectsV2 with
 * fetch-owner, ListObjectVersions): the object's owner, not the caller, who may be any identity
 * allowed to list. Under BucketOwnerEnforced (S3's default ownership) that is the bucket owner
 * for every object. Otherwise an object written with an ACL of its own (ObjectWriter, or
 * BucketOwnerPreferred without bucket-owner-full-control) belongs to its writer, as its ACL
 * document says; one without a document belongs to the bucket owner.
 */
import type { S3Context } from './context';
import { bucketAccess, callerOfCtx, directoryOf, readObjectAcl } from './access';

/** A type, not an interface: the XML writer takes it as a plain object. */
export type Person = { ID: string; DisplayName: string | undefined };

/** ACL documents read at once for one page (a page holds up to 1000 objects). */
const LOOKUPS_AT_ONCE = 16;

export async function listedOwners(ctx: S3Context, items: ReadonlyArray<{ key: string; versionId?: string }>): Promise<Person[]> {
  if (!items.length) return [];
  const view = ctx.bucket();
  const access = await bucketAccess(ctx, view);
  if (!access) {
    const caller = callerOfCtx(ctx);
    return items.map(() => ({ ID: caller.canonicalId, DisplayName: caller.name }));
  }
  const dir = directoryOf(ctx);
  const person = (id: string): Person => ({ ID: id, DisplayName: dir.displayName(id) });
  const bucketOwner = person(access.owner);
  if (access.ownership === 'BucketOwnerEnforced' || !view.backend.reserved) return items.map(() => bucketOwner);
  const out = new Array<Person>(items.length);
  let next = 0;
  const lookups = async () => {
    while (next < items.length) {
      const i = next++;
      const acl = await readObjectAcl(view, items[i].key, items[i].versionId);
      out[i] = acl ? person(acl.owner) : bucketOwner;
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_AT_ONCE, items.length) }, lookups));
  return out;
}

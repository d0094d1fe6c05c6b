/**
 * What a CreateMultipartUpload asked for that the upload's store does not keep (its ACL, its
 * object lock), held until Complete applies it or Abort drops it: one JSON document per upload
 * in the bucket's reserved area, so any replica completing the upload finds it.
 */
import { readReservedBody, reservedSegment } from '../backends/reserved-store';
import type { BucketView } from '../router/bucket-view';

export class UploadStash<T> {
  constructor(
    /** The reserved area's feature name (what an error about a missing area names). */
    private readonly feature: string,
    private readonly folder: string,
  ) {}

  private name(uploadId: string): string {
    return `${this.folder}/${reservedSegment(uploadId)}`;
  }

  /** Keeps `value` for the upload (nothing when undefined). */
  async put(view: BucketView, uploadId: string, value: T | undefined): Promise<void> {
    if (value !== undefined) await view.reservedArea(this.feature).put(this.name(uploadId), Buffer.from(JSON.stringify(value), 'utf8'));
  }

  /** What was kept for the upload (undefined: nothing, or the store has no reserved area). */
  async get(view: BucketView, uploadId: string): Promise<T | undefined> {
    if (!view.backend.reserved) return undefined;
    const doc = await view.reservedArea(this.feature).get(this.name(uploadId));
    if (!doc) return undefined;
    return JSON.parse((await readReservedBody(doc)).toString('utf8')) as T;
  }

  /** Forgets it (after Complete or Abort). */
  async drop(view: BucketView, uploadId: string): Promise<void> {
    if (view.backend.reserved) await view.reservedArea(this.feature).delete(this.name(uploadId));
  }
}

/**
 * Every backend kind this build serves: one kit per kind (src/backends/<kind>/kit.ts).
 * Adding a kind is its folder and one line here.
 */
import { azureKit } from './azure/kit';
import { fsKit } from './fs/kit';
import { gcsKit } from './gcs/kit';
import { githubKit } from './github/kit';
import { memoryKit } from './memory/kit';
import { ociKit } from './oci/kit';
import { s3Kit } from './s3/kit';

export const BACKEND_KITS = [fsKit, memoryKit, s3Kit, gcsKit, azureKit, ociKit, githubKit] as const;

/** A `github` backend's settings in the routing table. */
import { z } from 'zod';
import { boolean, credentialGroup, httpUrl, nonEmptyString, settingsSchema } from '../kit-schema';

const POSITIVE_MESSAGE = 'expected a positive whole number';
const positiveInteger = z.number({ error: POSITIVE_MESSAGE }).int({ error: POSITIVE_MESSAGE }).positive({ error: POSITIVE_MESSAGE });

export const githubSettings = settingsSchema('github', {
  /** The repository; a github://owner/repo/... target names them. */
  owner: nonEmptyString.optional(),
  repo: nonEmptyString.optional(),
  /** API root; GitHub Enterprise Server: https://HOST/api/v3. Default https://api.github.com. */
  baseUrl: httpUrl.optional(),
  /** Default true: uploads, deletes and release creation answer AccessDenied. */
  readOnly: boolean.optional(),
  /** A write into a release that does not exist creates it (and its tag). Default false. */
  createRelease: boolean.optional(),
  /** The branch holding s3mux's own documents (bucket configuration, versions, object lock); made from the default branch on first write. Default s3mux-state. */
  stateBranch: z
    .string()
    .regex(/^(?![-/.])(?!.*(?:\.\.|\/\/|@\{|\.lock$))[A-Za-z0-9._/-]+(?<![/.])$/, { error: 'expected a git branch name' })
    .optional(),
  /** A token (classic or fine-grained, GITHUB_TOKEN) or a GitHub App installation; none: anonymous. */
  credentials: credentialGroup(
    'github backends',
    {
      app: credentialGroup("'app'", { appId: positiveInteger, installationId: positiveInteger }, ['privateKey'], {
        oneSecretOf: ['privateKey'],
      }).optional(),
    },
    ['token'],
    { oneKindOf: ['app'] },
  ).optional(),
});

export type GithubSettings = z.output<typeof githubSettings>;

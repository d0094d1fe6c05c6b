/** The `github` kind: GitHub release assets; a release (or the whole repository) is the bucket. */
import { authTypeOf, defineKit, UriError } from '../kit';
import { authorityAndPath } from '../uri-parts';
import { ALL_RELEASES } from './names';
import { githubSettings } from './settings';

/** What git refuses in a tag name (git check-ref-format), and the empty name. */
const BAD_TAG = /^$|[\s~^:?*[\\]|\.\.|@\{|^[-/.]|[/.]$|\.lock$/;

const FORMS = 'github://owner/repo/releases/{tag} (one release) or github://owner/repo/releases (every release)';

export const githubKit = defineKit({
  kind: 'github',
  description: 'GitHub release assets',
  atRest: 'encrypted',
  settings: githubSettings,
  uris: [
    {
      scheme: 'github',
      forms: FORMS,
      parse: (rest, uri) => {
        const { authority, segments } = authorityAndPath(rest, uri, FORMS);
        const [repo, releases, ...tagParts] = segments;
        if (!repo || releases !== 'releases') throw new UriError(`'${uri}' is not a release: expected ${FORMS}`);
        // Tags may hold '/': everything after releases/ is the tag.
        const bucket = tagParts.length === 0 ? ALL_RELEASES : tagParts.join('/');
        return { bucket, prefix: '', settings: { owner: authority, repo } };
      },
    },
  ],
  credentialKinds: ['token', 'app', 'anonymous'],
  authType: (s) =>
    authTypeOf(
      s.credentials,
      [
        ['app', 'app'],
        ['token', 'token'],
      ],
      'anonymous',
    ),
  implicitName: (s) => `github:${s.owner ?? ''}/${s.repo ?? ''}`,
  bucketNameProblem: (bucket) =>
    bucket === ALL_RELEASES || !BAD_TAG.test(bucket)
      ? undefined
      : "is not a git tag name (no spaces, '~^:?*[\\', '..', '@{', and no leading '-', '/' or '.')",
  // Loaded on first use: Octokit is only needed when a table uses the kind.
  create: (settings, context) => (require('./index') as typeof import('./index')).githubBackendFromSpec(settings, context),
});

/**
 * Bucket naming rules, written once: S3's (which virtual buckets follow too) and each store's
 * rules for the real buckets (containers) a route targets. Each function says which rule a
 * name breaks, or undefined when it breaks none.
 */

/** Why `name` is not a valid S3 bucket name (general purpose buckets), or undefined when it is. */
export function s3BucketNameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'bucket names are strings';
  if (name.length < 3 || name.length > 63) return 'bucket names are 3 to 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return "bucket names may contain only lowercase letters, digits, '.' and '-'";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'bucket names begin and end with a letter or digit';
  if (name.includes('..')) return 'bucket names may not contain two adjacent periods';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'bucket names may not look like an IP address';
  for (const p of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (name.startsWith(p)) return `bucket names may not begin with '${p}'`;
  for (const s of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (name.endsWith(s)) return `bucket names may not end with '${s}'`;
  return undefined;
}

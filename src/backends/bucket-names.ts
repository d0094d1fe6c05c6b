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
  for (const s of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'])
    if (name.endsWith(s)) return `bucket names may not end with '${s}'`;
  return undefined;
}

/** Why `name` cannot be an Azure Blob container, or undefined when it can. */
export function azureContainerNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'Azure container names are 3 to 63 characters long';
  if (!/^[a-z0-9-]+$/.test(name)) return "Azure container names may contain only lowercase letters, digits and '-'";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'Azure container names begin and end with a letter or digit';
  if (name.includes('--')) return "Azure container names may not contain two hyphens in a row ('--')";
  return undefined;
}

/** Why `name` cannot be a Google Cloud Storage bucket, or undefined when it can. */
export function gcsBucketNameProblem(name: string): string | undefined {
  if (!/^[a-z0-9._-]+$/.test(name)) return "GCS bucket names may contain only lowercase letters, digits, '-', '_' and '.'";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'GCS bucket names begin and end with a letter or digit';
  if (name.length < 3) return 'GCS bucket names are at least 3 characters long';
  if (name.includes('.')) {
    if (name.length > 222) return 'GCS bucket names with dots are at most 222 characters long';
    if (name.split('.').some((part) => part.length === 0 || part.length > 63))
      return 'each dot-separated part of a GCS bucket name is 1 to 63 characters long';
  } else if (name.length > 63) {
    return 'GCS bucket names without dots are at most 63 characters long';
  }
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'GCS bucket names may not look like an IP address';
  if (name.startsWith('goog')) return "GCS bucket names may not begin with 'goog'";
  if (/g[o0]{2}g[l1]e/.test(name)) return "GCS bucket names may not contain 'google' or a look-alike of it";
  return undefined;
}

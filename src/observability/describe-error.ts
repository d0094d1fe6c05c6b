/** An error for a log line or a health report: its code, message and, for a store's error mapped to an S3 one, what the store said. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: string; cause?: { message?: string } };
  const cause = e.cause?.message && e.cause.message !== e.message ? ` (${e.cause.message})` : '';
  return `${typeof e.code === 'string' ? `${e.code}: ` : ''}${e.message ?? String(err)}${cause}`;
}

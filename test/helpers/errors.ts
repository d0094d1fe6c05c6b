import type { S3ServiceException } from '@aws-sdk/client-s3';

/** The error a request fails with; the test fails if it succeeds. */
export async function errorOf(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (err) {
    return err as S3ServiceException;
  }
  throw new Error('expected the request to fail');
}

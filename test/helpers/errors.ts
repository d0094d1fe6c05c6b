import { expect } from 'chai';
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

/** The request fails with S3 error `code` (and HTTP `status`, when given). */
export async function expectSdkError(p: Promise<unknown>, code: string, status?: number): Promise<void> {
  const err = await errorOf(p);
  expect(err.name, err.message).to.equal(code);
  if (status !== undefined) expect(err.$metadata.httpStatusCode).to.equal(status);
}

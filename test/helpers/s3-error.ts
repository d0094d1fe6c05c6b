/** Assertions on the S3Error a call throws (sync) or a promise rejects with (async). */
import { expect } from 'chai';
import { S3Error } from '../../src/errors';

function checked(caught: unknown, code: string, message?: RegExp): S3Error {
  expect(caught, `expected ${code}`).to.be.instanceOf(S3Error);
  const err = caught as S3Error;
  expect(err.code, err.message).to.equal(code);
  if (message) expect(err.message).to.match(message);
  return err;
}

export function expectS3Error(fn: () => unknown, code: string, message?: RegExp): S3Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  return checked(caught, code, message);
}

export async function expectFailure(p: Promise<unknown>, code: string, message?: RegExp): Promise<S3Error> {
  let caught: unknown;
  await p.catch((e: unknown) => {
    caught = e;
  });
  return checked(caught, code, message);
}

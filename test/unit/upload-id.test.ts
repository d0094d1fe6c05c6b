/**
 * Upload ids s3mux makes: random, base64url, and never beginning with '-' (a command line
 * takes such an id for an option; one random id in 64 began with one).
 */
import { expect } from 'chai';
import { newUploadId } from '../../src/backends/multipart/upload-id';

describe('newUploadId', () => {
  it("gives random base64url ids of the length asked for, none beginning with '-'", () => {
    // 20,000 ids: without the rule about 312 would begin with '-'.
    const ids = Array.from({ length: 20_000 }, () => newUploadId(24));
    expect(ids.filter((id) => id.startsWith('-'))).to.deep.equal([]);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{32}$/.test(id))).to.equal(true);
    expect(new Set(ids).size).to.equal(ids.length);
    // '-' still appears elsewhere in an id: only the first character is drawn again.
    expect(ids.some((id) => id.includes('-'))).to.equal(true);
  });
});

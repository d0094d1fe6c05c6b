/** Access control across processes: two s3mux servers on one fs root see the same bucket and object ACLs. */
import { expect } from 'chai';
import { CreateBucketCommand, PutBucketAclCommand, PutObjectAclCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CONFIG_TTL_MS } from '../../src/bucket-config/store';
import { childServersPerTest } from '../helpers/child-server';

describe('protocol: access control across processes', function () {
  this.timeout(120_000);
  const servers = childServersPerTest('s3mux-acl-');

  it('an object ACL set through one process holds in the other at once; an overwrite without one makes it private in both', async () => {
    const [a, b] = [await servers.start(), await servers.start()];
    const anon = async (url: string, path: string) => (await fetch(`${url}${path}`)).status;
    // The default table disables ACLs (BucketOwnerEnforced): this bucket asks for them.
    await a.client.send(new CreateBucketCommand({ Bucket: 'shared', ObjectOwnership: 'ObjectWriter' }));
    await a.client.send(new PutObjectCommand({ Bucket: 'shared', Key: 'k', Body: 'one', ACL: 'public-read' }));
    expect(await anon(b.url, '/shared/k')).to.equal(200);
    expect(await anon(a.url, '/shared/k')).to.equal(200);
    // Object ACLs are not cached: b's overwrite counts in a at once.
    await b.client.send(new PutObjectCommand({ Bucket: 'shared', Key: 'k', Body: 'two' }));
    expect(await anon(a.url, '/shared/k')).to.equal(403);
    expect(await anon(b.url, '/shared/k')).to.equal(403);
    await b.client.send(new PutObjectAclCommand({ Bucket: 'shared', Key: 'k', ACL: 'public-read' }));
    expect(await anon(a.url, '/shared/k')).to.equal(200);

    // A bucket ACL is bucket configuration: it reaches the other process within CONFIG_TTL_MS.
    expect(await anon(b.url, '/shared')).to.equal(403);
    await a.client.send(new PutBucketAclCommand({ Bucket: 'shared', ACL: 'public-read' }));
    expect(await anon(a.url, '/shared')).to.equal(200);
    await new Promise((r) => setTimeout(r, CONFIG_TTL_MS + 100));
    expect(await anon(b.url, '/shared')).to.equal(200);
  });
});

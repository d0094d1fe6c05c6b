/** CORS and lifecycle documents: S3's validation, and the matching the front door and the worker rely on. */
import { expect } from 'chai';
import { S3Error } from '../../src/errors';
import { corsHeaders, matchCorsRule, parseCorsConfiguration, requestedHeaders, type CorsRule } from '../../src/bucket-config/cors';
import {
  dueTransition,
  expiryTime,
  filterMatchesWithoutTags,
  lifecycleConfigurationXml,
  parseLifecycleConfiguration,
  tagsMatch,
} from '../../src/bucket-config/lifecycle';
import { toXml } from '../../src/s3/xml';

const MEMORY = { kind: 'memory', canChangeClass: true };

function s3Error(fn: () => unknown): S3Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof S3Error) return err;
    throw err;
  }
  throw new Error('expected an S3Error');
}

const cors = (rules: string) => `<CORSConfiguration>${rules}</CORSConfiguration>`;
const life = (rules: string) => `<LifecycleConfiguration>${rules}</LifecycleConfiguration>`;

describe('bucket configuration: CORS', () => {
  it('parses every element of a rule', () => {
    const [r] = parseCorsConfiguration(
      cors(
        '<CORSRule><ID>web</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedOrigin>http://a.test</AllowedOrigin>' +
          '<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>' +
          '<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>',
      ),
    );
    expect(r).to.deep.equal({
      id: 'web',
      allowedOrigins: ['https://*.example.com', 'http://a.test'],
      allowedMethods: ['GET', 'PUT'],
      allowedHeaders: ['x-amz-*'],
      exposeHeaders: ['ETag'],
      maxAgeSeconds: 600,
    });
  });

  it("refuses what S3 refuses, with S3's codes", () => {
    const one = (body: string) => s3Error(() => parseCorsConfiguration(cors(body)));
    expect(one('<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>').message).to.contain(
      'Unsupported method is PATCH',
    );
    expect(one('<CORSRule><AllowedOrigin>http://*.*.a</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>').code).to.equal(
      'InvalidRequest',
    );
    expect(
      one('<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>a*b*</AllowedHeader></CORSRule>')
        .code,
    ).to.equal('InvalidRequest');
    expect(
      one('<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>x-*</ExposeHeader></CORSRule>').code,
    ).to.equal('InvalidRequest');
    expect(one('<CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>').code).to.equal('MalformedXML');
    expect(one('<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>').code).to.equal('MalformedXML');
    expect(one('').code).to.equal('MalformedXML');
    expect(one('<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><Bogus/></CORSRule>').code).to.equal(
      'MalformedXML',
    );
    const many = '<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>'.repeat(101);
    expect(one(many).code).to.equal('InvalidRequest');
  });

  it('picks the first rule allowing origin, method and every requested header', () => {
    const rules: CorsRule[] = [
      {
        allowedOrigins: ['https://*.example.com'],
        allowedMethods: ['PUT'],
        allowedHeaders: ['content-type', 'x-amz-*'],
        exposeHeaders: ['ETag'],
      },
      { allowedOrigins: ['*'], allowedMethods: ['GET'], allowedHeaders: [], exposeHeaders: [] },
    ];
    const put = { origin: 'https://app.example.com', method: 'PUT', headers: requestedHeaders('Content-Type, X-Amz-Date') };
    expect(matchCorsRule(rules, put)).to.equal(rules[0]);
    expect(matchCorsRule(rules, { ...put, headers: ['authorization'] })).to.equal(undefined);
    expect(matchCorsRule(rules, { ...put, origin: 'https://example.com' })).to.equal(undefined);
    expect(matchCorsRule(rules, { ...put, origin: 'HTTPS://APP.EXAMPLE.COM' })).to.equal(undefined);
    expect(matchCorsRule(rules, { origin: 'http://x', method: 'GET', headers: [] })).to.equal(rules[1]);
    expect(matchCorsRule(rules, { origin: 'http://x', method: 'DELETE', headers: [] })).to.equal(undefined);

    const h = corsHeaders(rules[0], put, true);
    expect(h).to.include({
      'Access-Control-Allow-Origin': 'https://app.example.com',
      'Access-Control-Allow-Methods': 'PUT',
      'Access-Control-Allow-Headers': 'content-type, x-amz-date',
      'Access-Control-Expose-Headers': 'ETag',
      'Access-Control-Allow-Credentials': 'true',
    });
    expect(h.Vary).to.contain('Origin');
    const any = corsHeaders(rules[1], { origin: 'http://x', method: 'GET', headers: [] }, false);
    expect(any['Access-Control-Allow-Origin']).to.equal('*');
    expect(any).to.not.have.property('Access-Control-Allow-Credentials');
  });
});

describe('bucket configuration: lifecycle', () => {
  it('parses filters and actions, and writes them back as S3 does', () => {
    const rules = parseLifecycleConfiguration(
      life(
        '<Rule><ID>logs</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter>' +
          '<Status>Enabled</Status><Expiration><Days>30</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays></NoncurrentVersionExpiration></Rule>' +
          '<Rule><ID>mpu</ID><Filter><Prefix>up/</Prefix></Filter><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>' +
          '<Rule><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>',
      ),
      MEMORY,
    );
    expect(rules[0].filter).to.deep.include({ prefix: 'logs/', tags: [{ key: 'k', value: 'v' }], sizeGreaterThan: 10 });
    expect(rules[0].expiration).to.deep.equal({ days: 30 });
    expect(rules[0].noncurrentVersionExpiration).to.deep.equal({ noncurrentDays: 5 });
    expect(rules[1]).to.include({ enabled: false, abortIncompleteMultipartUploadDays: 2 });
    expect(rules[2].expiration).to.deep.equal({ date: '2030-01-01T00:00:00.000Z' });
    const xml = toXml('LifecycleConfiguration', lifecycleConfigurationXml(rules));
    expect(xml).to.contain('<Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>');
    expect(xml).to.contain('<Prefix>old/</Prefix>');
    // What it writes parses back to the same rules.
    expect(parseLifecycleConfiguration(xml, MEMORY)).to.deep.equal(rules);
  });

  it("refuses what S3 refuses, with S3's codes", () => {
    const one = (body: string) => s3Error(() => parseLifecycleConfiguration(life(body), MEMORY));
    const exp = (e: string, extra = '') => `<Rule><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>${e}${extra}</Rule>`;
    expect(one(exp('<Expiration><Days>0</Days></Expiration>'))).to.include({ code: 'InvalidArgument' });
    expect(one(exp('<Expiration><Days>0</Days></Expiration>')).message).to.equal("'Days' for Expiration action must be a positive integer");
    expect(one(exp('<Expiration><Days>-3</Days></Expiration>')).code).to.equal('InvalidArgument');
    expect(one(exp('<Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>')).message).to.contain('midnight');
    expect(one(exp('<Expiration><Date>2030-02-30</Date></Expiration>')).code).to.equal('InvalidArgument');
    expect(one(exp('<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>')).code).to.equal('MalformedXML');
    expect(one(exp('')).code).to.equal('InvalidRequest');
    expect(one('<Rule><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>').code).to.equal('MalformedXML');
    expect(one('<Rule><Prefix>a</Prefix><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>').code).to.equal(
      'MalformedXML',
    );
    expect(one(exp('<Expiration><Days>1</Days></Expiration>').replace('<Rule>', '<Rule><ID>x</ID>').repeat(2)).code).to.equal(
      'InvalidArgument',
    );
    const tagged = '<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>';
    expect(
      one(`${tagged}<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`)
        .code,
    ).to.equal('InvalidRequest');
    const glacier = exp('<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>');
    expect(parseLifecycleConfiguration(life(glacier), MEMORY)[0].transitions).to.deep.equal([{ days: 30, storageClass: 'GLACIER' }]);
    const onGithub = s3Error(() => parseLifecycleConfiguration(life(glacier), { kind: 'github', canChangeClass: false }));
    expect(onGithub).to.include({ code: 'InvalidStorageClass' });
    expect(onGithub.message).to.equal('The github backend of this bucket has no storage class for GLACIER (it has STANDARD).');
    const fixed = s3Error(() => parseLifecycleConfiguration(life(glacier), { kind: 'azure', canChangeClass: false }));
    expect(fixed.message).to.contain('cannot change an object');
    expect(parseLifecycleConfiguration(life(glacier), { kind: 'azure', canChangeClass: true })).to.have.length(1);
    expect(one(exp('<Transition><Days>29</Days><StorageClass>STANDARD_IA</StorageClass></Transition>')).code).to.equal('InvalidArgument');
    expect(one(exp('<Transition><Days>1</Days><StorageClass>STANDARD</StorageClass></Transition>')).code).to.equal('InvalidStorageClass');
    const two = '<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>'.repeat(2);
    expect(one(exp(two)).message).to.contain('must be different');
    const lateExpiry = one(
      exp('<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>', '<Expiration><Days>10</Days></Expiration>'),
    );
    expect(lateExpiry.message).to.contain("'Days' in the Expiration action");
    const noncurrent =
      '<NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>';
    expect(one(exp(noncurrent)).message).to.contain('noncurrent versions');
    expect(one('').code).to.equal('MalformedXML');
  });

  it('matches objects by prefix, size and tags, and rounds expiry up to the next midnight', () => {
    const [r] = parseLifecycleConfiguration(
      life(
        '<Rule><Filter><And><Prefix>a/</Prefix><ObjectSizeLessThan>100</ObjectSizeLessThan><Tag><Key>t</Key><Value>1</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>',
      ),
      MEMORY,
    );
    const o = { key: 'a/x', size: 5, lastModified: new Date('2030-01-01T10:00:00Z') };
    expect(filterMatchesWithoutTags(r.filter, o)).to.equal(true);
    expect(filterMatchesWithoutTags(r.filter, { ...o, size: 100 })).to.equal(false);
    expect(filterMatchesWithoutTags(r.filter, { ...o, key: 'b/x' })).to.equal(false);
    expect(
      tagsMatch(r.filter, [
        { key: 't', value: '1' },
        { key: 'u', value: '2' },
      ]),
    ).to.equal(true);
    expect(tagsMatch(r.filter, [{ key: 't', value: '2' }])).to.equal(false);
    expect(new Date(expiryTime(r, o.lastModified, 86_400_000)!).toISOString()).to.equal('2030-01-04T00:00:00.000Z');
  });

  it('picks the coldest due transition, and never moves an object to a warmer class', () => {
    const rules = parseLifecycleConfiguration(
      life(
        '<Rule><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status>' +
          '<Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>' +
          '<Transition><Days>90</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>',
      ),
      MEMORY,
    );
    const day = 86_400_000;
    const o = { key: 'a/x', size: 5, lastModified: new Date('2030-01-01T10:00:00Z') };
    const at = (d: number) => o.lastModified.getTime() + d * day;
    expect(dueTransition(rules, o, undefined, at(29), day)).to.equal(undefined);
    expect(dueTransition(rules, o, undefined, at(31), day)).to.equal('STANDARD_IA');
    expect(dueTransition(rules, o, 'STANDARD_IA', at(31), day)).to.equal(undefined);
    expect(dueTransition(rules, o, undefined, at(91), day)).to.equal('GLACIER');
    expect(dueTransition(rules, o, 'STANDARD_IA', at(91), day)).to.equal('GLACIER');
    expect(dueTransition(rules, o, 'DEEP_ARCHIVE', at(91), day)).to.equal(undefined);
    expect(dueTransition(rules, { ...o, key: 'b/x' }, undefined, at(91), day)).to.equal(undefined);
  });
});

/** The object lock rules (src/object-lock): what a request may ask for, and what may change a protection. */
import { expect } from 'chai';
import { S3Error } from '../../src/errors';
import { defaultRetention, parseLockConfiguration } from '../../src/object-lock/config';
import { checkRemovable, checkRetentionChange, isLocked, requestedLock, type Retention } from '../../src/object-lock/lock';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const at = (days: number) => new Date(T0 + days * 86_400_000).toISOString();
const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return (err as S3Error).code;
  }
};

describe('object lock rules', () => {
  it('a retention in force: extended always; shortened, removed or changed in mode only for GOVERNANCE with the bypass', () => {
    const gov: Retention = { mode: 'GOVERNANCE', until: at(10) };
    const comp: Retention = { mode: 'COMPLIANCE', until: at(10) };
    const cases: Array<[Retention, Retention | undefined, boolean, string]> = [
      [gov, { mode: 'GOVERNANCE', until: at(20) }, false, 'ok'],
      [gov, { mode: 'GOVERNANCE', until: at(5) }, false, 'AccessDenied'],
      [gov, { mode: 'GOVERNANCE', until: at(5) }, true, 'ok'],
      [gov, undefined, false, 'AccessDenied'],
      [gov, undefined, true, 'ok'],
      [gov, { mode: 'COMPLIANCE', until: at(20) }, false, 'AccessDenied'],
      [comp, { mode: 'COMPLIANCE', until: at(20) }, false, 'ok'],
      [comp, { mode: 'COMPLIANCE', until: at(10) }, false, 'ok'],
      [comp, { mode: 'COMPLIANCE', until: at(5) }, true, 'AccessDenied'],
      [comp, { mode: 'GOVERNANCE', until: at(20) }, true, 'AccessDenied'],
      [comp, undefined, true, 'AccessDenied'],
      // A retention that has run out protects nothing any more.
      [{ mode: 'COMPLIANCE', until: at(-1) }, undefined, false, 'ok'],
    ];
    for (const [current, next, bypass, want] of cases) {
      expect(
        codeOf(() => checkRetentionChange(current, next, bypass, T0)),
        JSON.stringify([current, next, bypass]),
      ).to.equal(want);
    }
  });

  it('removal: a legal hold stops everyone, COMPLIANCE too, GOVERNANCE yields to the bypass', () => {
    expect(codeOf(() => checkRemovable(undefined, false, T0))).to.equal('ok');
    expect(codeOf(() => checkRemovable({ legalHold: 'ON' }, true, T0))).to.equal('AccessDenied');
    expect(codeOf(() => checkRemovable({ legalHold: 'OFF' }, false, T0))).to.equal('ok');
    expect(codeOf(() => checkRemovable({ retention: { mode: 'GOVERNANCE', until: at(1) } }, false, T0))).to.equal('AccessDenied');
    expect(codeOf(() => checkRemovable({ retention: { mode: 'GOVERNANCE', until: at(1) } }, true, T0))).to.equal('ok');
    expect(codeOf(() => checkRemovable({ retention: { mode: 'COMPLIANCE', until: at(1) } }, true, T0))).to.equal('AccessDenied');
    expect(isLocked({ retention: { mode: 'COMPLIANCE', until: at(-1) } }, T0)).to.equal(false);
    expect(isLocked({ retention: { mode: 'COMPLIANCE', until: at(-1) }, legalHold: 'ON' }, T0)).to.equal(true);
  });

  it('lock headers: refused in a bucket without lock before they are parsed; mode and date together', () => {
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    expect(codeOf(() => requestedLock(headers({ 'x-amz-object-lock-mode': 'NOPE' }), false))).to.equal('InvalidRequest');
    expect(requestedLock(headers({}), false)).to.equal(undefined);
    expect(codeOf(() => requestedLock(headers({ 'x-amz-object-lock-mode': 'GOVERNANCE' }), true))).to.equal('InvalidArgument');
    expect(
      codeOf(() =>
        requestedLock(headers({ 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': 'tomorrow' }), true),
      ),
    ).to.equal('InvalidArgument');
    const until = new Date(Date.now() + 86_400_000).toISOString();
    expect(
      requestedLock(
        headers({
          'x-amz-object-lock-mode': 'COMPLIANCE',
          'x-amz-object-lock-retain-until-date': until,
          'x-amz-object-lock-legal-hold': 'ON',
        }),
        true,
      ),
    ).to.deep.equal({ retention: { mode: 'COMPLIANCE', until }, legalHold: 'ON' });
  });

  it('default retention in days or years, counted in UTC calendar terms', () => {
    const years = parseLockConfiguration(
      '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>',
    );
    expect(years).to.deep.equal({ enabled: true, rule: { mode: 'GOVERNANCE', years: 1 } });
    expect(defaultRetention(years, T0)).to.deep.equal({ mode: 'GOVERNANCE', until: '2027-03-01T12:00:00.000Z' });
    expect(defaultRetention({ enabled: true, rule: { mode: 'COMPLIANCE', days: 30 } }, T0)?.until).to.equal('2026-03-31T12:00:00.000Z');
    expect(defaultRetention({ enabled: true }, T0)).to.equal(undefined);
    expect(codeOf(() => parseLockConfiguration('<ObjectLockConfiguration><Rule/></ObjectLockConfiguration>'))).to.equal('MalformedXML');
    expect(
      codeOf(() =>
        parseLockConfiguration(
          '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>101</Years></DefaultRetention></Rule></ObjectLockConfiguration>',
        ),
      ),
    ).to.equal('InvalidArgument');
  });
});

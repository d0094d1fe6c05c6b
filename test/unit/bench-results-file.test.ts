/** bench/RESULTS.md: a run replaces only its own generated block (or the fs report on top), never hand-written text. */
import { expect } from 'chai';
import { OTHER_BACKENDS_HEADING, replaceHead, replaceSection, sectionBlock } from '../../bench/results-file';

const FILE = `# s3mux benchmark results

phases table (generated)

${sectionBlock('ceiling', 'ceiling v1')}

Hand-written note between two sections.

${sectionBlock('issue15', '## Issue 15 notes')}

${OTHER_BACKENDS_HEADING}

intro

${sectionBlock('backend:memory', 'memory v1')}

## Issue 11: written by hand after the backends

${sectionBlock('transfer', 'transfer v1')}
`;

describe('bench RESULTS.md writer', () => {
  it('replaces a section in place and keeps every other byte', () => {
    const out = replaceSection(FILE, 'ceiling', sectionBlock('ceiling', 'ceiling v2\nsecond line'));
    expect(out).to.equal(FILE.replace('ceiling v1', 'ceiling v2\nsecond line'));
    const again = replaceSection(out, 'transfer', sectionBlock('transfer', 'transfer v2'));
    expect(again).to.equal(FILE.replace('ceiling v1', 'ceiling v2\nsecond line').replace('transfer v1', 'transfer v2'));
    expect(replaceSection(FILE, 'backend:memory', sectionBlock('backend:memory', 'memory v2'))).to.equal(
      FILE.replace('memory v1', 'memory v2'),
    );
  });

  it('adds a new section after the last of its kind, before the backends; a new backend after the backends', () => {
    const out = replaceSection(FILE, 'ceiling-cells-list', sectionBlock('ceiling-cells-list', 'cells'));
    expect(out).to.include('Hand-written note between two sections.');
    expect(out).to.include('## Issue 11: written by hand after the backends');
    const order = [
      'ceiling v1',
      'Hand-written note',
      '## Issue 15 notes',
      'cells',
      OTHER_BACKENDS_HEADING,
      'memory v1',
      '## Issue 11',
      'transfer v1',
    ];
    expect(order.map((s) => out.indexOf(s))).to.deep.equal(order.map((s) => out.indexOf(s)).sort((a, b) => a - b));
    expect(out.replace(`${sectionBlock('ceiling-cells-list', 'cells')}\n\n`, '')).to.equal(FILE);

    const s3 = replaceSection(FILE, 'backend:s3', sectionBlock('backend:s3', 's3 v1'));
    expect(s3.indexOf('s3 v1')).to.be.within(s3.indexOf('memory v1'), s3.indexOf('## Issue 11'));
    expect(s3.replace(`${sectionBlock('backend:s3', 's3 v1')}\n\n`, '')).to.equal(FILE);
  });

  it('starts the backends part when there is none, and replaces only the report on top', () => {
    const bare = '# s3mux benchmark results\n\nreport\n';
    const withBackend = replaceSection(bare, 'backend:gcs', sectionBlock('backend:gcs', 'gcs'));
    expect(withBackend.indexOf(OTHER_BACKENDS_HEADING)).to.be.within(bare.length - 1, withBackend.indexOf('gcs'));

    const head = replaceHead(FILE, '# s3mux benchmark results\n\nnew phases table\n');
    expect(head).to.equal(FILE.replace('phases table (generated)', 'new phases table'));
    expect(replaceHead('', 'report\n')).to.equal('report\n');
  });
});

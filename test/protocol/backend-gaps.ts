/**
 * Mocha root hooks for the protocol suite on a store backend (S3MUX_TEST_BACKEND): a test the
 * store has a declared gap for (helpers/protocol-backends.ts) is skipped, and the gap is
 * written, with its reason, to S3MUX_GAPS_OUT for the fidelity report. A suite gap skips a
 * whole suite, its setup included (a store that refuses what the suite's `before` writes).
 */
import { appendFileSync } from 'node:fs';
import type { Context, Suite } from 'mocha';
import { protocolBackend } from '../helpers/protocol-backends';

const gaps = Object.entries(protocolBackend().gaps ?? {});
const suiteGaps = Object.entries(protocolBackend().suiteGaps ?? {});

function record(title: string, fragment: string, reason: string): void {
  if (process.env.S3MUX_GAPS_OUT) appendFileSync(process.env.S3MUX_GAPS_OUT, JSON.stringify({ title, fragment, reason }) + '\n');
}

/** Marks the suites a suite gap names pending (their hooks do not run either), each of their tests recorded as a gap. */
function skipSuites(suite: Suite): void {
  const gap = suiteGaps.find(([fragment]) => suite.fullTitle().includes(fragment));
  if (gap) {
    const tests = (s: Suite): string[] => [...s.tests.map((t) => t.fullTitle()), ...s.suites.flatMap(tests)];
    for (const title of tests(suite)) record(title, gap[0], gap[1]);
    suite.pending = true;
    return;
  }
  suite.suites.forEach(skipSuites);
}

export const mochaHooks = {
  beforeAll(this: Context): void {
    let root = this.test?.parent;
    while (root?.parent) root = root.parent;
    if (root && suiteGaps.length > 0) skipSuites(root);
  },
  beforeEach(this: Context): void {
    const title = this.currentTest?.fullTitle() ?? '';
    const gap = gaps.find(([fragment]) => title.includes(fragment));
    if (!gap) return;
    record(title, gap[0], gap[1]);
    this.skip();
  },
};

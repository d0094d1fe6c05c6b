/**
 * Mocha root hooks for the protocol suite on a store backend (S3MUX_TEST_BACKEND): a test the
 * store has a declared gap for (helpers/protocol-backends.ts) is skipped, and the gap is
 * written, with its reason, to S3MUX_GAPS_OUT for the fidelity report.
 */
import { appendFileSync } from 'node:fs';
import type { Context } from 'mocha';
import { protocolBackend } from '../helpers/protocol-backends';

const gaps = Object.entries(protocolBackend().gaps ?? {});

export const mochaHooks = {
  beforeEach(this: Context): void {
    const title = this.currentTest?.fullTitle() ?? '';
    const gap = gaps.find(([fragment]) => title.includes(fragment));
    if (!gap) return;
    if (process.env.S3MUX_GAPS_OUT)
      appendFileSync(process.env.S3MUX_GAPS_OUT, JSON.stringify({ title, fragment: gap[0], reason: gap[1] }) + '\n');
    this.skip();
  },
};

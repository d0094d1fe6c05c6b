/** The log formats: JSON lines with ISO times and level names; pretty lines from the same entries. */
import { expect } from 'chai';
import { createLogger, prettyLine } from '../../src/observability/logger';

describe('logger', () => {
  it('writes one JSON object a line, level by name, ISO time, at or above the level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (l: string) => lines.push(l) } });
    log.info({ reqId: 'A' }, 'request');
    log.warn({ reqId: 'B', status: 503 }, 'slow store');
    expect(lines).to.have.length(1);
    const entry = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(entry).to.include({ level: 'warn', reqId: 'B', status: 503, msg: 'slow store' });
    expect(entry.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('pretty: time, level, message, then the fields, quoting values with spaces; stacks indented', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'pretty', destination: { write: (l: string) => lines.push(l) } });
    log.info({ reqId: 'R1', operation: 'GetObject', status: 200, path: '/b/a key' }, 'request');
    log.error({ err: new Error('boom') }, 'unexpected error');
    expect(lines[0]).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}request reqId=R1 operation=GetObject status=200 path="\/b\/a key"\n$/);
    expect(lines[1]).to.match(/^\S+ ERROR unexpected error err="boom"\n {2}Error: boom\n\s+at /);
    expect(prettyLine('not json')).to.equal('not json');
  });
});

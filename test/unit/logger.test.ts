/** The log formats: JSON lines with ISO times and level names; pretty lines from the same entries. */
import { expect } from 'chai';
import { batchedWriter, createLogger, prettyLine, STDOUT_FLUSH_BYTES, STDOUT_FLUSH_MS } from '../../src/observability/logger';

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

describe('logger: batched standard output', () => {
  it('holds lines until STDOUT_FLUSH_MS, then writes them with one call, in order', async () => {
    const out: string[] = [];
    const w = batchedWriter((t) => out.push(t));
    w.write('a\n');
    w.write('b\n');
    expect(out).to.deep.equal([]);
    await new Promise((r) => setTimeout(r, STDOUT_FLUSH_MS + 30));
    expect(out).to.deep.equal(['a\nb\n']);
  });

  it('writes at once when STDOUT_FLUSH_BYTES are held, and on flush()', () => {
    const out: string[] = [];
    const w = batchedWriter((t) => out.push(t));
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < STDOUT_FLUSH_BYTES / 1024; i++) w.write(line);
    expect(out).to.have.length(1);
    expect(out[0]).to.have.length(STDOUT_FLUSH_BYTES);
    w.write('c\n');
    w.flush?.();
    expect(out).to.deep.equal([out[0], 'c\n']);
  });

  it('flushes the destination after a warning or an error line, not after an info line', () => {
    const events: string[] = [];
    const log = createLogger({ destination: { write: () => events.push('write'), flush: () => events.push('flush') } });
    log.info({ reqId: 'A' }, 'request');
    expect(events).to.deep.equal(['write']);
    log.warn('slow');
    log.error('bad');
    expect(events).to.deep.equal(['write', 'write', 'flush', 'write', 'flush']);
  });
});

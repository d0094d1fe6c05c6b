/**
 * Writing bench/RESULTS.md: a run replaces only what it generated — its own
 * `<!-- bench:KEY:start -->` … `<!-- bench:KEY:end -->` block, or the fs phases' report at the
 * top of the file — and leaves every other byte (hand-written notes between sections, their
 * order) as it was.
 */

export const OTHER_BACKENDS_HEADING = '# Other backends';

export const OTHER_BACKENDS_INTRO = `${OTHER_BACKENDS_HEADING}

\`npm run bench -- --backend NAME\` runs the same phases through s3mux onto another store
(the targets of test/e2e/targets.ts). The stores are local emulators in their own processes on the same machine,
so these figures are s3mux's overhead plus the emulator's, not a cloud's. Server RSS is s3mux's process only.`;

export const sectionStart = (key: string): string => `<!-- bench:${key}:start -->`;
export const sectionEnd = (key: string): string => `<!-- bench:${key}:end -->`;

/** `content` between KEY's markers. */
export function sectionBlock(key: string, content: string): string {
  return `${sectionStart(key)}\n${content.trimEnd()}\n${sectionEnd(key)}`;
}

const isBackendKey = (key: string): boolean => key.startsWith('backend:');

/** Where the first generated section or the backends' heading begins (the end of the fs report). */
function headEnd(text: string): number {
  const cuts = [text.indexOf('<!-- bench:'), text.indexOf(`\n${OTHER_BACKENDS_HEADING}\n`)].filter((i) => i >= 0);
  return cuts.length ? Math.min(...cuts) : text.length;
}

/** The span [start, end) of KEY's block, if the text has one. */
function findSection(text: string, key: string): [number, number] | undefined {
  const a = text.indexOf(sectionStart(key));
  if (a < 0) return undefined;
  const b = text.indexOf(sectionEnd(key), a);
  return b < 0 ? undefined : [a, b + sectionEnd(key).length];
}

/** The end of the last block whose key passes `pick`, or -1. */
function lastSectionEnd(text: string, pick: (key: string) => boolean): number {
  let last = -1;
  const re = /<!-- bench:([\w:-]+):end -->/g;
  for (let m = re.exec(text); m; m = re.exec(text)) if (pick(m[1])) last = m.index + m[0].length;
  return last;
}

const splice = (text: string, at: number, insert: string): string =>
  `${text.slice(0, at).trimEnd()}\n\n${insert}\n${text.slice(at).trim() ? `\n${text.slice(at).trimStart()}` : ''}`;

/**
 * Replaces KEY's block with `block` where it stands. A new block goes after the last block of
 * its kind: a backend's after the other backends (under "# Other backends", added when
 * missing), any other after the last non-backend block (or after the fs report).
 */
export function replaceSection(text: string, key: string, block: string): string {
  const at = findSection(text, key);
  if (at) return text.slice(0, at[0]) + block + text.slice(at[1]);
  if (isBackendKey(key)) {
    const after = lastSectionEnd(text, isBackendKey);
    if (after >= 0) return splice(text, after, block);
    return `${text.trimEnd()}\n\n${OTHER_BACKENDS_INTRO}\n\n${block}\n`;
  }
  // Before "# Other backends" when the file has that part (sections after it stay after it).
  const backends = text.indexOf(`\n${OTHER_BACKENDS_HEADING}\n`);
  const after = lastSectionEnd(backends >= 0 ? text.slice(0, backends) : text, (k) => !isBackendKey(k));
  return splice(text, after >= 0 ? after : headEnd(text), block);
}

/** Replaces the fs phases' report (the text before the first generated block) with `report`. */
export function replaceHead(text: string, report: string): string {
  const rest = text.slice(headEnd(text));
  return rest ? `${report.trimEnd()}\n\n${rest.trimStart()}` : `${report.trimEnd()}\n`;
}

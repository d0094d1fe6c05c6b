/**
 * Include/exclude patterns as `aws s3 cp/sync` reads them: every key is included, then each
 * pattern in the order given includes or excludes the keys it matches, the last match
 * winning. `*` matches any run of characters, '/' included; `?` one character; `[abc]` and
 * `[!abc]` a class. Patterns match the key relative to the source prefix.
 */
export interface KeyPattern {
  kind: 'include' | 'exclude';
  glob: string;
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        const negate = body.startsWith('!');
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** The filter the patterns describe, or undefined when there are none (every key). */
export function keyFilter(patterns: readonly KeyPattern[]): ((key: string) => boolean) | undefined {
  if (patterns.length === 0) return undefined;
  const compiled = patterns.map((p) => ({ include: p.kind === 'include', re: globToRegExp(p.glob) }));
  return (key) => {
    let included = true;
    for (const p of compiled) if (p.re.test(key)) included = p.include;
    return included;
  };
}

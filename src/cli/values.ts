/** Parsers for option values: each throws a message naming what it expected. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `7d`, `12h`, `30m`, `25s`, `500ms`; `0` turns a periodic job off. */
export function parseDuration(value: string, what: string): number {
  if (value.trim() === '0') return 0;
  const m = /^(\d+)(ms|[smhd])$/.exec(value.trim());
  if (!m) throw new Error(`${what} expects a duration such as 7d, 12h, 30m or 25s, got '${value}'`);
  return Number(m[1]) * UNITS[m[2]];
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `50MiB`, `10MB`, `512KiB`, `1000` (bytes); for rates, bytes per second. */
export function parseBytes(value: string | number, what: string): number {
  if (typeof value === 'number' && value > 0) return value;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?$/i.exec(String(value).trim());
  const n = m ? Math.floor(Number(m[1]) * BYTE_UNITS[(m[2] ?? '').toLowerCase()]) : 0;
  if (!m || n < 1) throw new Error(`${what} expects a size such as 50MiB, 10MB or 4096, got '${value}'`);
  return n;
}

export function parseAddress(address: string, what = '--address'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address) ?? /^()()(\d+)$/.exec(address);
  if (!m || Number(m[3]) > 65535) throw new Error(`${what} expects HOST:PORT (or :PORT), got '${address}'`);
  return { host: m[1] || m[2] || '0.0.0.0', port: Number(m[3]) };
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off', ''];

/** A boolean from the environment (flags are present or absent). */
export function parseBoolean(value: string, what: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new Error(`${what} expects true or false, got '${value}'`);
}

export function parseChoice<T extends string>(choices: readonly T[]): (value: string, what: string) => T {
  return (value, what) => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw new Error(`${what} expects one of ${choices.join(', ')}, got '${value}'`);
  };
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** `1048576`, `64MiB`, `10MB`, `1.5G`; `/s` may follow (a rate). */
export function parseSize(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?$/i.exec(value.trim());
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || !(Number(m[1]) > 0))
    throw new Error(`${what} expects a size such as 10MB, 64MiB, 1.5G or a number of bytes, got '${value}'`);
  return Math.round(Number(m[1]) * unit);
}

/** A whole number from `min` to `max`. */
export function parseCount(min: number, max: number): (value: string, what: string) => number {
  return (value, what) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max)
      throw new Error(`${what} expects a whole number from ${min} to ${max}, got '${value}'`);
    return n;
  };
}

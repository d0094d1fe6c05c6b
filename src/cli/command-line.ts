/**
 * How `s3mux ARGV` names its command, in a module that loads nothing else: src/cli.ts asks it
 * whether the process will serve before it loads the commands (the server's process settings
 * must be in place before the heap grows), and main.ts dispatches by the same words.
 */

export const isHelp = (a: string): boolean => a === '--help' || a === '-h';
export const isVersion = (a: string): boolean => a === '--version' || a === '-v';

/**
 * Whether `s3mux ARGV` starts the server: `serve`, named or implied (no command, or options
 * first), and not asked for its help.
 */
export function startsServer(argv: readonly string[]): boolean {
  const [first, ...rest] = argv;
  const implied = first === undefined || (first.startsWith('-') && !isHelp(first) && !isVersion(first));
  const args = implied ? argv : first === 'serve' ? rest : undefined;
  return args !== undefined && !args.some(isHelp);
}

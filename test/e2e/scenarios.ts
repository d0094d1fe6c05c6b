/**
 * The end-to-end scenarios: one real client each, one file each under test/e2e/clients/.
 *
 * Every scenario is a child process that talks to a running s3mux and reports on stdout:
 *   OP <name> ok              an operation it exercised and verified
 *   OP <name> FAIL <message>  an operation that failed (the first one becomes the FAIL line)
 *   OP <name> skip            an operation not run because E2E_SKIP_OPS (comma-separated) names it:
 *                             a store gap the backend target declares (targets.ts)
 *   VERSION <text>            the client's version, for the compatibility report
 *   SKIP <reason>             with exit code 77: the scenario cannot run on this machine
 * It exits 0 when everything passed, 77 when skipped, anything else on failure.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface Scenario {
  /** Client name as shown in the output and the report. */
  name: string;
  /** Short slug for bucket names and work directories. */
  slug: string;
  /** The file holding the scenario, relative to the repository root. */
  file: string;
  /** Whole-scenario time limit, seconds (each client command inside has its own, shorter one). */
  timeoutSec: number;
  /** How to start it; `root` is the repository root, `dist` the compiled output root. */
  command(root: string, dist: string): { cmd: string; args: string[] };
  /** Executables (absolute paths or names on PATH) that must exist, else the scenario is skipped. */
  requires: string[];
}

const PYTHON = process.env.E2E_PYTHON ?? '/usr/bin/python3';
const AWS = process.env.E2E_AWS ?? '/usr/bin/aws';

const shell = (file: string) => (root: string) => ({ cmd: 'bash', args: [path.join(root, file)] });
const node = (file: string) => (_root: string, dist: string) => ({
  cmd: process.execPath,
  args: ['--enable-source-maps', path.join(dist, file.replace(/\.ts$/, '.js'))],
});

export const SCENARIOS: Scenario[] = [
  {
    name: 'aws-cli',
    slug: 'awscli',
    file: 'test/e2e/clients/awscli.sh',
    timeoutSec: 300,
    command: shell('test/e2e/clients/awscli.sh'),
    requires: [AWS, 'curl', PYTHON],
  },
  {
    name: 'boto3',
    slug: 'boto3',
    file: 'test/e2e/clients/boto3_scenario.py',
    timeoutSec: 240,
    command: (root) => ({ cmd: PYTHON, args: [path.join(root, 'test/e2e/clients/boto3_scenario.py')] }),
    requires: [PYTHON],
  },
  {
    name: 's3cmd',
    slug: 's3cmd',
    file: 'test/e2e/clients/s3cmd.sh',
    timeoutSec: 240,
    command: shell('test/e2e/clients/s3cmd.sh'),
    requires: ['s3cmd'],
  },
  {
    name: 'rclone',
    slug: 'rclone',
    file: 'test/e2e/clients/rclone.sh',
    timeoutSec: 240,
    command: shell('test/e2e/clients/rclone.sh'),
    requires: ['rclone', 'curl'],
  },
  {
    name: 's3fs',
    slug: 's3fs',
    file: 'test/e2e/clients/s3fs.sh',
    timeoutSec: 240,
    command: shell('test/e2e/clients/s3fs.sh'),
    requires: ['s3fs', 'curl'],
  },
  {
    name: 'aws-sdk-js-v3',
    slug: 'jsv3',
    file: 'test/e2e/clients/aws-sdk-js-v3.ts',
    timeoutSec: 180,
    command: node('test/e2e/clients/aws-sdk-js-v3.ts'),
    requires: [],
  },
  {
    name: 'minio-js',
    slug: 'minio',
    file: 'test/e2e/clients/minio-js.ts',
    timeoutSec: 180,
    command: node('test/e2e/clients/minio-js.ts'),
    requires: [],
  },
];

/** The first missing executable among `names`, or undefined when all are there. */
export function missingExecutable(names: string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of names) {
    const found = name.includes('/') ? existsSync(name) : dirs.some((d) => existsSync(path.join(d, name)));
    if (!found) return name;
  }
  return undefined;
}

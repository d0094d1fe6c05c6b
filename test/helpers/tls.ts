/** A throwaway self-signed certificate for 127.0.0.1 and localhost, made with openssl. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCert {
  cert: string;
  key: string;
  pem: string;
  dir: string;
}

/** In `dir` when given (the caller removes it), else in a new temp folder. */
export function makeSelfSignedCert(dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-tls-'))): TestCert {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore', timeout: 60_000 },
  );
  return { cert, key, pem: readFileSync(cert, 'utf8'), dir };
}

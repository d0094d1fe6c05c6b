/**
 * The container's HEALTHCHECK: asks the running server's /minio/health/live on the address
 * and scheme `serve` was given through the environment (S3MUX_ADDRESS, S3MUX_TLS_CERT).
 * Exit 0 when it answers 200, else 1. Kept apart from the CLI so it starts in milliseconds.
 */
import http from 'node:http';
import https from 'node:https';

const address = process.env.S3MUX_ADDRESS || '127.0.0.1:9000';
const port = Number(/(\d+)$/.exec(address)?.[1] ?? 9000);
const host = /^\[?(.*?)\]?:\d+$/.exec(address)?.[1] || '127.0.0.1';
const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const tls = Boolean(process.env.S3MUX_TLS_CERT);

const req = (tls ? https : http).request(
  { host: target, port, path: '/minio/health/live', method: 'GET', timeout: 4000, rejectUnauthorized: false },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();

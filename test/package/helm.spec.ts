/**
 * The Helm chart, with real helm (fetched into .cache/ by scripts/fetch-tools.sh): lint,
 * template with the default values and with a multi-cloud values file, schema enforcement,
 * and the rendered Deployment's args, env, mounts and probe paths run against a local s3mux,
 * so the chart cannot drift from the binary. Run by test/package/run.sh (npm run test:package),
 * not by `npm test`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parseAllDocuments, stringify } from 'yaml';
import { envName, SERVE_OPTIONS } from '../../src/cli/serve-options';
import { checkConfigFile } from '../../src/router/check';
import { freePort, stopChild, waitForExit } from '../helpers/processes';

const REPO = path.resolve(__dirname, '../../..');
const HELM = path.join(REPO, '.cache/helm/helm');
const CHART = path.join(REPO, 'helm/s3mux');
const CLI = path.join(REPO, 'dist/src/cli.js');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function helm(args: string[]): string {
  return execFileSync(HELM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function helmFails(args: string[]): string {
  try {
    helm(args);
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
  throw new Error(`helm ${args.join(' ')} succeeded`);
}
function render(...valueFiles: string[]): Obj[] {
  const out = helm(['template', 'rel', CHART, '--namespace', 'objects', ...valueFiles.flatMap((f) => ['--values', path.join(REPO, f)])]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}
const ofKind = (docs: Obj[], kind: string) => docs.filter((d) => d.kind === kind);
const one = (docs: Obj[], kind: string) => {
  const found = ofKind(docs, kind);
  expect(found, kind).to.have.length(1);
  return found[0];
};
const container = (docs: Obj[]) => one(docs, 'Deployment').spec.template.spec.containers[0] as Obj;

describe('package: helm chart', function () {
  this.timeout(120_000);

  it('passes helm lint --strict with the default values and with the multi-cloud values', () => {
    expect(helm(['lint', '--strict', CHART])).to.contain('0 chart(s) failed');
    expect(helm(['lint', '--strict', CHART, '--values', path.join(REPO, 'test/package/values-multi-cloud.yaml')])).to.contain(
      '0 chart(s) failed',
    );
  });

  it('default values: one non-root pod with a read-only root filesystem, probes on /healthz and /readyz, a PVC and a generated root Secret', () => {
    const docs = render();
    expect(docs.map((d) => d.kind).sort()).to.deep.equal(['Deployment', 'PersistentVolumeClaim', 'Secret', 'Service', 'ServiceAccount']);
    const dep = one(docs, 'Deployment');
    const pod = dep.spec.template.spec;
    const c = container(docs);
    expect(dep.spec.replicas).to.equal(1);
    expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    expect(c.securityContext).to.deep.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(c.securityContext.capabilities).to.deep.equal({ drop: ['ALL'] });
    expect(c.livenessProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'http' });
    expect(c.ports).to.deep.equal([{ name: 'http', containerPort: 9000, protocol: 'TCP' }]);
    expect(pod.terminationGracePeriodSeconds).to.equal(30);
    expect(c.env.find((e: Obj) => e.name === 'S3MUX_SHUTDOWN_GRACE').value).to.equal('25s');
    expect(c.env.find((e: Obj) => e.name === 'S3MUX_IDLE_TIMEOUT').value).to.equal('20s');
    expect(c.env.find((e: Obj) => e.name === 'S3MUX_MAX_CONNECTIONS').value).to.equal('1024');
    expect(
      c.env.find((e: Obj) => e.name === 'S3MUX_TRUST_FORWARDED'),
      'off unless asked',
    ).to.equal(undefined);
    expect(c.image).to.equal('s3mux:0.1.0');
    expect(one(docs, 'Service').spec.ports).to.deep.equal([{ name: 'http', port: 9000, targetPort: 'http', protocol: 'TCP' }]);
    expect(one(docs, 'PersistentVolumeClaim').spec.accessModes).to.deep.equal(['ReadWriteOnce']);
    expect(pod.volumes.find((v: Obj) => v.name === 'data').persistentVolumeClaim.claimName).to.equal('rel-s3mux-data');
    const secret = one(docs, 'Secret');
    expect(secret.stringData.rootUser).to.equal('s3mux-root');
    expect(secret.stringData.rootPassword).to.match(/^[A-Za-z0-9]{32}$/);
    expect(c.env.find((e: Obj) => e.name === 'S3MUX_ROOT_PASSWORD').valueFrom).to.deep.equal({
      secretKeyRef: { name: 'rel-s3mux-root', key: 'rootPassword' },
    });
    // Every S3MUX_* variable the chart sets is one the binary reads.
    const known = new Set([...SERVE_OPTIONS.map((o) => envName(o.flag)), 'S3MUX_ROOT_USER', 'S3MUX_ROOT_PASSWORD']);
    for (const e of c.env as Obj[]) if (e.name.startsWith('S3MUX_')) expect(known.has(e.name), e.name).to.equal(true);
  });

  it('multi-cloud values: HPA, PDB, Ingress, ServiceMonitor, the table in a ConfigMap that s3mux accepts, credentials only by reference', () => {
    const docs = render('test/package/values-multi-cloud.yaml');
    expect(docs.map((d) => d.kind).sort()).to.deep.equal([
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Ingress',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    const dep = one(docs, 'Deployment');
    expect(dep.spec.replicas, 'the HPA owns replicas').to.equal(undefined);
    expect(one(docs, 'HorizontalPodAutoscaler').spec).to.include({ minReplicas: 3, maxReplicas: 12 });
    expect(one(docs, 'PodDisruptionBudget').spec.minAvailable).to.equal(2);
    expect(one(docs, 'Ingress').spec.rules.map((r: Obj) => r.host)).to.deep.equal(['s3.example.com', '*.s3.example.com']);
    expect(one(docs, 'ServiceMonitor').spec.endpoints).to.deep.equal([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
    expect(one(docs, 'ServiceMonitor').metadata.labels.release).to.equal('prometheus');
    const c = container(docs);
    const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).to.deep.include({
      S3MUX_CONFIG: '/etc/s3mux/routing.yaml',
      S3MUX_DOMAIN: 's3.example.com',
      S3MUX_METRICS_ADDRESS: '0.0.0.0:9464',
    });
    expect(env.AWS_ACCESS_KEY_ID).to.deep.equal({ secretKeyRef: { name: 'aws-creds', key: 'accessKeyId' } });
    expect(env.S3MUX_ROOT_USER).to.deep.equal({ secretKeyRef: { name: 's3mux-root', key: 'rootUser' } });
    expect(c.volumeMounts).to.deep.include({ name: 'gcp', mountPath: '/run/secrets/gcp', readOnly: true });
    expect(dep.spec.template.spec.volumes.find((v: Obj) => v.name === 'data')).to.deep.equal({ name: 'data', emptyDir: {} });
    // The binary validates the rendered table (no store is contacted).
    const dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-helm-'));
    try {
      writeFileSync(path.join(dir, 'routing.yaml'), one(docs, 'ConfigMap').data['routing.yaml']);
      const result = checkConfigFile(path.join(dir, 'routing.yaml'));
      expect(result.ok, result.text).to.equal(true);
      expect(result.text).to.contain('3 backends, 3 routes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses values the schema forbids, and an fs volume only one replica can mount with several replicas', () => {
    expect(helmFails(['template', 'rel', CHART, '--set', 'server.logFormat=xml'])).to.match(/logFormat/);
    expect(helmFails(['template', 'rel', CHART, '--set', 'replicaCount=three'])).to.match(/replicaCount/);
    expect(helmFails(['template', 'rel', CHART, '--set', 'server.shutdownGrace=soon'])).to.match(/shutdownGrace/);
    expect(helmFails(['template', 'rel', CHART, '--set', 'nonsense=1'])).to.match(/nonsense/);
    expect(helmFails(['template', 'rel', CHART, '--set', 'server.idleTimeout=long'])).to.match(/idleTimeout/);
    expect(helmFails(['template', 'rel', CHART, '--set', 'server.maxConnections=-1'])).to.match(/maxConnections/);
    expect(helmFails(['template', 'rel', CHART, '--set-string', 'server.trustForwarded=yes'])).to.match(/trustForwarded/);
    // server.trustForwarded: behind a proxy that rewrites Host, s3mux reads its X-Forwarded-* headers.
    const behindProxy = parseAllDocuments(helm(['template', 'rel', CHART, '--set', 'server.trustForwarded=true']))
      .map((d) => d.toJS() as Obj)
      .filter(Boolean);
    expect(container(behindProxy).env.find((e: Obj) => e.name === 'S3MUX_TRUST_FORWARDED').value).to.equal('true');
    expect(helmFails(['template', 'rel', CHART, '--set', 'replicaCount=2'])).to.contain('ReadWriteMany');
    expect(ofKind(render(), 'Deployment')).to.have.length(1);
    helm(['template', 'rel', CHART, '--set', 'replicaCount=2', '--set', 'persistence.accessModes={ReadWriteMany}']);
  });

  describe('the rendered container, run', () => {
    let dir: string;
    let child: ChildProcess | undefined;
    let out = '';
    after(async () => {
      if (child) await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    });

    it("starts s3mux with the Deployment's args, env and mounts; its probe and scrape paths answer; aws-cli works with the Secret's credentials; SIGTERM exits 0 in time", async () => {
      const docs = render('test/package/values-run.yaml');
      const dep = one(docs, 'Deployment');
      const pod = dep.spec.template.spec;
      const c = container(docs);
      dir = mkdtempSync(path.join(os.tmpdir(), 's3mux-helm-run-'));
      // The pod's mounts, as folders here: ConfigMaps and Secrets written out, emptyDirs and PVCs empty.
      const mounts = new Map<string, string>();
      for (const m of c.volumeMounts as Obj[]) {
        const host = path.join(dir, m.name);
        mkdirSync(host, { recursive: true });
        mounts.set(m.mountPath, host);
        const vol = (pod.volumes as Obj[]).find((v) => v.name === m.name)!;
        if (vol.configMap) {
          const cm = ofKind(docs, 'ConfigMap').find((d) => d.metadata.name === vol.configMap.name)!;
          for (const [file, text] of Object.entries(cm.data as Record<string, string>)) writeFileSync(path.join(host, file), text);
        }
      }
      const hostPath = (p: string) => {
        const mount = [...mounts.keys()].filter((m) => p === m || p.startsWith(`${m}/`)).sort((a, b) => b.length - a.length)[0];
        return mount ? mounts.get(mount)! + p.slice(mount.length) : p;
      };
      // Paths inside the table (an fs backend's root) are container paths too.
      for (const [file] of [['routing.yaml']]) {
        const f = path.join(mounts.get('/etc/s3mux')!, file);
        const table = parseAllDocuments(execFileSync('cat', [f], { encoding: 'utf8' }))[0].toJS() as Obj;
        for (const b of Object.values(table.backends as Obj)) if (b.root) b.root = hostPath(b.root);
        writeFileSync(f, stringify(table));
      }
      // Container ports -> free ports here.
      const ports = new Map<number, number>();
      for (const p of c.ports as Obj[]) ports.set(p.containerPort, await freePort());
      const portOf = (name: string) => ports.get((c.ports as Obj[]).find((p) => p.name === name)!.containerPort)!;
      const secrets = ofKind(docs, 'Secret');
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
      for (const e of c.env as Obj[]) {
        let value: string;
        if (e.valueFrom?.secretKeyRef) {
          const s = secrets.find((x) => x.metadata.name === e.valueFrom.secretKeyRef.name)!;
          value = s.stringData[e.valueFrom.secretKeyRef.key];
        } else {
          value = String(e.value);
        }
        const addr = /^0\.0\.0\.0:(\d+)$/.exec(value);
        env[e.name] = addr ? `127.0.0.1:${ports.get(Number(addr[1]))}` : hostPath(value);
      }
      child = spawn(process.execPath, [CLI, ...(c.args as string[])], { env, cwd: dir });
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const end = Date.now() + 15_000;
      while (!out.includes('health: ') && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out).to.contain(`s3mux listening on http://127.0.0.1:${portOf('http')}`);
      expect(out).to.contain('root credentials: from S3MUX_ROOT_USER / S3MUX_ROOT_PASSWORD (access key chart-admin)');
      expect(out).to.match(/^route tmp +-> scratch \(memory\) memory:\/\/scratch\/tmp\/ \[read-write\]$/m);

      for (const probe of [c.livenessProbe, c.readinessProbe]) {
        const res = await fetch(`http://127.0.0.1:${portOf(probe.httpGet.port)}${probe.httpGet.path}`);
        expect(res.status, probe.httpGet.path).to.equal(200);
      }
      const aws = (...args: string[]) =>
        promisify(execFile)('/usr/bin/aws', ['--endpoint-url', `http://127.0.0.1:${portOf('http')}`, ...args], {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: 'chart-admin',
            AWS_SECRET_ACCESS_KEY: 'chart-password-123',
            AWS_DEFAULT_REGION: 'us-east-1',
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        });
      await aws('s3', 'mb', 's3://made-here');
      await aws('s3', 'mb', 's3://tmp');
      writeFileSync(path.join(dir, 'hello.txt'), 'hello from the chart');
      await aws('s3', 'cp', path.join(dir, 'hello.txt'), 's3://tmp/hello.txt');
      expect((await aws('s3', 'ls', 's3://tmp/')).stdout).to.contain('hello.txt');
      expect((await aws('s3', 'ls')).stdout).to.contain('made-here');
      const denied = await aws('s3', 'cp', path.join(dir, 'hello.txt'), 's3://photos/x.txt').then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
      expect(denied).to.contain('AccessDenied');

      const monitor = { port: 'metrics', path: '/metrics' };
      const scrape = await (await fetch(`http://127.0.0.1:${portOf(monitor.port)}${monitor.path}`)).text();
      expect(scrape).to.match(/s3mux_requests_total\{operation="PutObject",backend="scratch",status="200"\} 1/);
      // The Service's target ports are container ports.
      for (const p of one(docs, 'Service').spec.ports as Obj[]) expect((c.ports as Obj[]).map((x) => x.name)).to.include(p.targetPort);

      const start = Date.now();
      child.kill('SIGTERM');
      expect(await waitForExit(child, pod.terminationGracePeriodSeconds * 1000)).to.equal(true);
      expect(child.exitCode).to.equal(0);
      expect(Date.now() - start).to.be.below(pod.terminationGracePeriodSeconds * 1000);
      child = undefined;
    });
  });
});

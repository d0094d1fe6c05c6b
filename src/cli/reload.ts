/**
 * Hot reload triggers: SIGHUP, and a change of the routing table file. The file is polled
 * (stat every second) rather than watched with inotify: Kubernetes updates a mounted ConfigMap
 * by swapping a symlink, which inotify on the old file never reports.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';

export function watchReloads(file: string | undefined, reload: (reason: string) => void, intervalMs = 1000): () => void {
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  const onChange = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) reload('file changed');
  };
  if (file) watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  return () => {
    process.off('SIGHUP', onHup);
    if (file) unwatchFile(file, onChange);
  };
}

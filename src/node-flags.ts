/**
 * The options node is started with by s3mux's own launchers: the container image's ENTRYPOINT
 * (Dockerfile; the Helm chart runs that image) and `npm start` (package.json). They cannot be set
 * from inside the process: V8 sizes its young generation once, when the heap is set up. Node 24
 * sizes it from the machine's memory (two 64 MiB semi-spaces on a 23 GiB machine, 128 MiB of RSS
 * once a few hundred requests have run), Node 20 and 22 at two of 16 MiB. A server's requests
 * die young either way: 8 MiB semi-spaces cost no measurable throughput on 4 KiB requests (4 MiB
 * ones made 1,000-key listing pages cost 20-50 % more CPU) and keep the peak RSS of the whole
 * benchmark well under 150 MiB (bench/RESULTS.md, issue 15, eighth pass).
 * test/unit/node-flags.test.ts keeps the launchers in step with this list; the bench starts
 * s3mux with it, as the image does.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

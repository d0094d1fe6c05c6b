/**
 * The options node is started with by s3mux's own launchers: the container image's ENTRYPOINT
 * (Dockerfile; the Helm chart runs that image) and `npm start` (package.json). They cannot be set
 * from inside the process: V8 sizes its young generation once, when the heap is set up. Node 24
 * sizes it from the machine's memory (two 64 MiB semi-spaces on a 23 GiB machine, 128 MiB of RSS
 * once a few hundred requests have run), Node 20 and 22 at two of 16 MiB. A server's requests
 * die young either way: 8 MiB semi-spaces cost no measurable throughput on 4 KiB requests (4 MiB
 * ones made 1,000-key listing pages cost 20-50 % more CPU) and keep the peak RSS of the whole
 * benchmark well under 150 MiB (bench/RESULTS.md, issue 15, eighth pass).
 * --no-concurrent-recompilation: TurboFan compiles on the main thread instead of a helper thread,
 * whose malloc arena otherwise stays resident: 12-26 MiB less peak RSS in every cell of the
 * Node 24 bench, with no CPU per request or throughput difference that the same run could tell
 * from noise on Node 24 or 20 (a server compiles its hot paths once; seventeenth pass). It
 * cannot be set from inside: V8 starts the compiler thread with the isolate.
 * test/unit/node-flags.test.ts keeps the launchers in step with this list; the bench starts
 * s3mux with it, as the image does.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--no-concurrent-recompilation'];

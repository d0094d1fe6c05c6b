#!/usr/bin/env node
/** The s3mux command: see src/cli/main.ts for the commands, `s3mux --help` for usage. */
// First: libuv sizes its thread pool from the environment when the pool starts.
import './threadpool-size';
// And, for serve, V8's old-generation growth, before the heap has grown (src/cli/serve-first.ts).
import './cli/serve-first';
import { main } from './cli/main';

if (require.main === module) {
  void main(process.argv.slice(2)).then((outcome) => {
    if (outcome !== 'running') process.exit(outcome);
  });
}

export { main };

/**
 * What `s3mux serve` sets before anything else loads, and only serve: V8's old-generation
 * growth, before the heap has grown (src/heap-growing.ts). src/cli.ts loads this module right
 * after the thread pool's size; the command line decides (command-line.ts), as main.ts will.
 */
import { installHeapGrowing } from '../heap-growing';
import { startsServer } from './command-line';

if (startsServer(process.argv.slice(2))) installHeapGrowing();

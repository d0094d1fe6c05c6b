/**
 * Frees spent body chunks sooner than V8 would on its own, so a large upload does not grow the
 * process's memory.
 *
 * Node's HTTP parser copies every request body chunk into a buffer of its own, and a relayed
 * response's chunks arrive the same way. Those buffers are malloc'd outside V8's heap and freed
 * only after a collection finds the Buffer objects that own them dead. Such objects are small,
 * so they fill the young generation slowly: under eight 64 MiB PUTs, Node 24 ran 7 young
 * collections where Node 20 ran 25. Meanwhile tens of MiB of spent chunks wait, malloc's arena
 * grows to hold them, and it stays grown: s3mux peaked at 160-165 MiB on Node 24 against 118 on
 * Node 20 (bench/RESULTS.md, issue 15, fourteenth and fifteenth passes). A smaller young
 * generation would collect more often, but it makes every small request cost more.
 *
 * So s3mux watches the memory held outside V8's heap, those chunks among it, and asks for a
 * young-generation collection when it has grown by GROWTH_BYTES since its low point. Such a
 * collection is cheap with few live objects in the young generation, as under a large transfer,
 * but one asked for while V8 is marking makes it finish the marking: a 64 MiB PUT cost 8 % more
 * CPU with a 16 MiB threshold and 10-19 % with 4 MiB, which held the peak at most 7 MiB lower.
 * Small requests hardly move the reading, so they hardly ever cause one.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** How often the reading is taken. */
export const SWEEP_INTERVAL_MS = 20;
/** How much growth since the low point brings a collection. */
export const GROWTH_BYTES = 16 * 1024 * 1024;
/**
 * Readings in a row that did not move before the sweep rests (one second): an idle server's
 * timer would otherwise wake the process 50 times a second for nothing. Resting, it reads once
 * a RESTING_INTERVAL_MS (a body that resumes after a pause is seen then), and a request wakes it.
 */
export const QUIET_TICKS = 50;
export const RESTING_INTERVAL_MS = 1000;

/** Decides, from readings of the memory held outside V8's heap, when to ask for a young-generation collection. */
export class BufferSweep {
  private low = Infinity;
  private last = NaN;
  private unchanged = 0;
  /** How many collections it has asked for. */
  collections = 0;

  constructor(
    private readonly readHeld: () => number,
    private readonly collectYoung: () => void,
    private readonly growthBytes = GROWTH_BYTES,
  ) {}

  /** True once QUIET_TICKS readings in a row were the same: nothing is being allocated or freed. */
  get quiet(): boolean {
    return this.unchanged >= QUIET_TICKS;
  }

  /** Counts quiet readings from zero again (a request came: its body may be on the way). */
  resume(): void {
    this.unchanged = 0;
  }

  tick(): void {
    const now = this.readHeld();
    this.unchanged = now === this.last ? this.unchanged + 1 : 0;
    this.last = now;
    if (now < this.low) this.low = now;
    if (now - this.low <= this.growthBytes) return;
    this.collectYoung();
    this.collections++;
    // What the collection freed is counted later: later readings lower this.
    this.low = this.readHeld();
  }
}

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/**
 * V8's collection function, without putting `gc` in s3mux's own global scope: V8 installs it
 * only in contexts made while `--expose-gc` is set, so one new context is made under it.
 */
export function youngCollector(): () => void {
  const gc = (globalThis as { gc?: GcFunction }).gc ?? gcFromNewContext();
  return () => gc({ type: 'minor' });
}

function gcFromNewContext(): GcFunction {
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as GcFunction;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/**
 * The bytes V8 counts as held outside its heap, Buffers' among them: a new buffer counts at once,
 * a freed one by a later collection, so the low point is found late, which the sweep allows for.
 * `process.memoryUsage().arrayBuffers` counts frees at once but reads /proc for the RSS with it
 * (9 µs against 0.3, and it throws where /proc is not mounted); both gave the same peaks.
 */
export function externalMemory(): number {
  return v8.getHeapStatistics().external_memory;
}

/**
 * Starts the sweep for a serving process. Its timer does not keep the process alive. While the
 * reading does not move it rests (one reading a second); `wake` (each request) and any movement
 * bring it back to SWEEP_INTERVAL_MS; `stop` ends it. Should a tick ever throw, the sweep stops
 * and `onError` hears why: it must not end the server.
 */
export function startBufferSweep(
  onError: (err: unknown) => void,
  sweep = new BufferSweep(externalMemory, youngCollector()),
): { stop: () => void; wake: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let awake = false;
  let stopped = false;
  const every = (ms: number): void => {
    clearInterval(timer);
    timer = setInterval(tick, ms);
    timer.unref();
  };
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
  };
  const tick = (): void => {
    try {
      sweep.tick();
    } catch (err) {
      stop();
      onError(err);
      return;
    }
    if (awake === sweep.quiet) {
      awake = !awake;
      every(awake ? SWEEP_INTERVAL_MS : RESTING_INTERVAL_MS);
    }
  };
  const wake = (): void => {
    if (awake || stopped) return;
    sweep.resume();
    awake = true;
    every(SWEEP_INTERVAL_MS);
  };
  wake();
  return { stop, wake };
}

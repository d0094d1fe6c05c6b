/**
 * A request body that can be sent again: when a target fails while taking a write, the same
 * bytes go to the next target. What was read is kept up to `cap` bytes (memory stays bounded
 * whatever the object's size); a body longer than that can be sent once only.
 */
import { Readable } from 'node:stream';

export class ReplayableBody {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private overflow = false;
  private ended = false;
  private attempts = 0;
  private pulling: Promise<IteratorResult<Buffer>> | undefined;
  private readonly source: AsyncIterator<Buffer>;

  constructor(
    src: Readable,
    private readonly cap = 1024 * 1024,
  ) {
    this.source = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Whether another attempt can be made (the bytes read so far are all kept). */
  get replayable(): boolean {
    return !this.overflow;
  }

  /** One pull at a time from the source, whoever asks: each chunk is kept before anyone sees it. */
  private pull(): Promise<IteratorResult<Buffer>> {
    this.pulling ??= this.source.next().then((r) => {
      this.pulling = undefined;
      if (r.done) this.ended = true;
      else if (!this.overflow) {
        this.keptBytes += r.value.length;
        if (this.keptBytes > this.cap) {
          this.overflow = true;
          this.kept.length = 0;
        } else this.kept.push(r.value);
      }
      return r;
    });
    return this.pulling;
  }

  /** The body for one attempt: the bytes kept so far, then the rest of the source. */
  attempt(): Readable {
    if (this.attempts++ > 0 && this.overflow) throw new Error('the body was longer than can be replayed');
    const self = this;
    return Readable.from(
      (async function* () {
        let i = 0;
        for (;;) {
          if (!self.overflow && i < self.kept.length) {
            yield self.kept[i++];
            continue;
          }
          if (self.ended) return;
          const r = await self.pull();
          if (r.done) return;
          if (!self.overflow) i++;
          yield r.value;
        }
      })(),
      { objectMode: false },
    );
  }
}

// A virtual clock for retry() tests: time moves only when every pending callback
// has run and something is waiting on a timer, so tests never depend on real time.

const flush = () => new Promise((resolve) => setImmediate(resolve));

export class FakeClock {
  #now;
  #timers = [];
  #seq = 0;
  /** Every sleep requested, in order: { ms, at } (including attempt timeouts). */
  sleeps = [];

  constructor(now = 0) {
    this.#now = now;
  }

  now() {
    return this.#now;
  }

  sleep(ms, signal) {
    this.sleeps.push({ ms, at: this.#now });
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = { at: this.#now + ms, seq: this.#seq++, resolve };
      this.#timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.#timers = this.#timers.filter((t) => t !== timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Timers waiting to fire. */
  get pending() {
    return this.#timers.length;
  }

  /** Run every callback that is ready without moving time. */
  async idle() {
    await flush();
    await flush();
  }

  /** Move to the earliest timer and fire it (ties in the order they were set). */
  fireNext() {
    this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const timer = this.#timers.shift();
    if (timer === undefined) throw new Error('no timer to fire');
    this.#now = Math.max(this.#now, timer.at);
    timer.resolve();
  }

  /** Drive `promise` to settlement, firing timers only when nothing else can run. */
  async run(promise) {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (;;) {
      await this.idle();
      if (settled) return promise;
      if (this.#timers.length === 0) throw new Error('deadlock: the promise is pending and no timer is set');
      this.fireNext();
    }
  }
}

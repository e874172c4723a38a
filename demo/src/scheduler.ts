// One queue for all the page's GPU work (forwards, drawing, the comparison, per-kernel times, model
// swaps): jobs run one at a time, in the order they were asked for, so no job frees a tensor another
// one is reading. A job asked for with a key is superseded by a later job with the same key that is
// asked for before it starts: it is dropped (its promise resolves to undefined), so a burst of
// requests (webcam frames, layer changes) runs the last one only, once the job in flight is done.

export class Scheduler {
  /** The last job queued: the next one starts when it settles. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Per key, the token of the latest request: an older token finds itself superseded. */
  private readonly latest = new Map<string, symbol>();

  /** Queues `job`; rejects with its error, resolves to its result, or to undefined when superseded. */
  run<T>(job: () => Promise<T>, key?: string): Promise<T | undefined> {
    const token = Symbol(key);
    if (key !== undefined) this.latest.set(key, token);
    const superseded = () => key !== undefined && this.latest.get(key) !== token;
    const result = this.tail.then(() => (superseded() ? undefined : job()));
    this.tail = result.catch(() => undefined);
    return result;
  }
}

// transformers.js' Callable: an instance that is also a function, so `processor(images)` calls
// `processor._call(images)` as `processor.preprocess(img)` calls a method.
export abstract class Callable<Args extends unknown[], Result> {
  constructor() {
    const closure = (...args: Args): Result => (closure as unknown as Callable<Args, Result>)._call(...args);
    // biome-ignore lint/correctness/noConstructorReturn: the instance is the closure, with this class's prototype
    return Object.setPrototypeOf(closure, new.target.prototype);
  }

  abstract _call(...args: Args): Result;
}

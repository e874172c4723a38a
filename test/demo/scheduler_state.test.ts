// The page's one queue of GPU work and its state helpers: jobs run one at a time in the order asked
// for, a request superseded before it starts is dropped, an error reaches its caller only.
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../demo/src/scheduler.js';
import { createState, shownLayer, shownPatch } from '../../demo/src/state.js';
import { tokenLayout } from '../../demo/src/views/tokens.js';

/** A job that logs its start and end, and finishes when `release` is called. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((ok) => (release = ok));
  return {
    release: () => release(),
    job: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
  };
}

const tick = () => new Promise((ok) => setTimeout(ok, 0));

describe('Scheduler', () => {
  it('runs jobs one at a time, in the order they were asked for', async () => {
    const s = new Scheduler();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const pa = s.run(a.job);
    const pb = s.run(b.job);
    await tick();
    expect(log).toEqual(['start a']);
    b.release(); // b may not start before a is done, however early it could finish
    await tick();
    expect(log).toEqual(['start a']);
    a.release();
    expect(await pa).toBe('a');
    expect(await pb).toBe('b');
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('drops a keyed request superseded before it started, and runs the last one', async () => {
    const s = new Scheduler();
    const log: string[] = [];
    const busy = gate(log, 'busy');
    const running = s.run(busy.job, 'forward');
    await tick();
    const frames = [1, 2, 3].map((i) => s.run(async () => log.push(`frame ${i}`), 'forward'));
    const other = s.run(async () => log.push('draw'), 'draw');
    busy.release();
    expect(await running).toBe('busy'); // already started: never dropped
    const results = await Promise.all(frames);
    expect(results.slice(0, 2)).toEqual([undefined, undefined]);
    expect(await other).toBeGreaterThan(0);
    expect(log).toEqual(['start busy', 'end busy', 'frame 3', 'draw']);
  });

  it('an error rejects that job only; the queue goes on', async () => {
    const s = new Scheduler();
    const failing = s.run(async () => {
      throw new Error('boom');
    });
    const next = s.run(async () => 'after');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('after');
  });
});

describe('page state', () => {
  it('starts with nothing loaded, one scheduler, no comparison', () => {
    const s = createState();
    expect(s.current).toBeUndefined();
    expect(s.run).toBeUndefined();
    expect(s.compare).toEqual({ on: false });
    expect(s.scheduler).toBeInstanceOf(Scheduler);
    expect([s.draws, s.modelRequests]).toEqual([0, 0]);
    expect(createState().scheduler).not.toBe(s.scheduler);
  });

  it('shows the clicked patch while it is on the grid, else the centre', () => {
    const layout = tokenLayout(4, 16, 12);
    expect(shownPatch(undefined, layout)).toBe(8 * 12 + 6);
    expect(shownPatch(5, layout)).toBe(5);
    expect(shownPatch(16 * 12, layout)).toBe(8 * 12 + 6); // from a larger grid before
    expect(shownPatch(0, tokenLayout(0, 1, 1))).toBe(0);
  });

  it('clamps the selected layer to the model’s', () => {
    expect(shownLayer(11, 12)).toBe(11);
    expect(shownLayer(11, 3)).toBe(2);
    expect(shownLayer(-1, 3)).toBe(0);
  });
});

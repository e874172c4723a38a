// The per-kernel table: the timed dispatches of one forward summed per kernel, slowest first.

export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
  /** Share of the summed time, 0..1 (0 when nothing took time). */
  share: number;
}

export function kernelRows(
  times: readonly { kernel: string; beginNs: number; endNs: number }[],
): KernelRow[] {
  const byKernel = new Map<string, { calls: number; ns: number }>();
  for (const t of times) {
    const k = byKernel.get(t.kernel) ?? { calls: 0, ns: 0 };
    k.calls++;
    k.ns += t.endNs - t.beginNs;
    byKernel.set(t.kernel, k);
  }
  const total = [...byKernel.values()].reduce((a, k) => a + k.ns, 0);
  return [...byKernel.entries()]
    .map(([kernel, k]) => ({ kernel, calls: k.calls, ms: k.ns / 1e6, share: total ? k.ns / total : 0 }))
    .sort((a, b) => b.ms - a.ms || (a.kernel < b.kernel ? -1 : 1));
}

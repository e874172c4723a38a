// The memory bound of streaming (weights/README.md): while from_pretrained loads a checkpoint, the
// JavaScript memory it holds (heapUsed + external, above the baseline, measured after a full
// collection at each MiB of progress) stays under
//     host-kept tensors (the position embeddings) + one chunk + 12 MiB,
// whatever the size of the file. bench/load-memory.ts measures it (npm run bench:load runs it on
// 1 GB); here it runs on two checkpoints, the second four times the first, downloaded from the
// loopback hub (then read back from the cache), and both must stay under the same bound.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const MiB = 2 ** 20;
const CHUNK = 4 * MiB;

interface Report {
  fileBytes: number;
  chunkBytes: number;
  hostBytes: number;
  results: Record<string, { jsPeak: number; ms: number }>;
}

function bench(size: string): Report {
  const r = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      'bench/load-memory.ts',
      '--size',
      size,
      '--chunk',
      String(CHUNK),
      '--mode',
      'live',
      '--json',
    ],
    {
      encoding: 'utf8',
      maxBuffer: 16 * MiB,
    },
  );
  if (r.status !== 0)
    throw new Error(`bench/load-memory.ts --size ${size} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Report;
}

describe('streaming keeps JavaScript memory bounded by a chunk, not by the file', () => {
  it('a 64 MB and a 256 MB checkpoint: downloaded and cached loads both under host tensors + chunk + 12 MiB', () => {
    const small = bench('64MB');
    const large = bench('256MB');
    expect(large.fileBytes / small.fileBytes).toBeGreaterThan(3.5);
    const bound = small.hostBytes + CHUNK + 12 * MiB;
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    for (const report of [small, large]) {
      for (const [how, r] of Object.entries(report.results)) {
        console.log(`${mib(report.fileBytes)} ${how}: peak +${mib(r.jsPeak)} (bound ${mib(bound)})`);
        expect(
          r.jsPeak,
          `${mib(report.fileBytes)} ${how}: peak +${mib(r.jsPeak)} > ${mib(bound)}`,
        ).toBeLessThan(bound);
      }
    }
    // Four times the file, not four times the memory: the peaks differ by noise, not by megabytes of weights.
    for (const how of Object.keys(small.results)) {
      expect(large.results[how].jsPeak - small.results[how].jsPeak, how).toBeLessThan(4 * MiB);
    }
  });
});

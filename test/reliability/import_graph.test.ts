// The import graph, as dependency-cruiser reads it with the rules of .dependency-cruiser.cjs: no
// cycle in any folder, src/io below src/model, the library free of tests, benchmarks and tools,
// the benchmarks free of tests. Type-only imports count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/chromium.js';

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

/** Every violation in `folders`, one line each (a cycle as its path of modules). */
function run(...folders: string[]): string[] {
  // depcruise exits non-zero when it finds violations; the JSON on stdout is what counts.
  const result = spawnSync(
    join(REPO_ROOT, 'node_modules/.bin/depcruise'),
    ['--config', '.dependency-cruiser.cjs', '--output-type', 'json', ...folders],
    { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  if (!result.stdout) throw new Error(`depcruise printed nothing: ${result.stderr}`);
  const found = (JSON.parse(result.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  return found.map((v) =>
    v.cycle
      ? `${v.rule.name}: ${[v.from, ...v.cycle.map((c) => c.name)].join(' -> ')}`
      : `${v.rule.name}: ${v.from} -> ${v.to}`,
  );
}

describe('import graph', () => {
  it('has no cycle and keeps every folder rule', () => {
    expect(run('src', 'demo', 'bench', 'test', 'scripts', 'tools')).toEqual([]);
  }, 120_000);

  it('reports a cycle, type-only imports included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycle-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport type A = B[];\n");
      writeFileSync(join(dir, 'b.ts'), "import type { A } from './a.js';\nexport type B = A | number;\n");
      const found = run(dir);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^no-circular: .*a\.ts -> .*b\.ts -> .*a\.ts$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

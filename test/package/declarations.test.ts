// What the build hands to users, checked on dist/ without installing it: the files package.json's
// exports name exist, the declarations have no `any`, chunks are named (no hashes), and the browser
// entry's module graph imports no Node-only module.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/chromium.js';

const DIST = join(REPO_ROOT, 'dist');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** The relative modules `file` imports statically or dynamically, and the bare specifiers. */
function imports(file: string): { local: string[]; bare: string[] } {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((m) => m[1]);
  return {
    local: specs.filter((s) => s.startsWith('.')).map((s) => join(dirname(file), s)),
    bare: specs.filter((s) => !s.startsWith('.')),
  };
}

describe('the built package', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, Record<string, string> | string>;
    types: string;
    main: string;
  };

  it('every file package.json names exists', () => {
    const targets = [pkg.types, pkg.main, ...Object.values(pkg.exports['.'] as Record<string, string>)];
    for (const t of targets) expect(existsSync(join(REPO_ROOT, t)), t).toBe(true);
  });

  it('the declarations have no any', () => {
    const leaks: string[] = [];
    for (const file of files(join(DIST, 'types')).filter((f) => f.endsWith('.d.ts'))) {
      const code = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      code.split('\n').forEach((line, i) => {
        if (/\bany\b/.test(line)) leaks.push(`${relative(DIST, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(leaks).toEqual([]);
  });

  it('chunks are named, not hashed', () => {
    const js = readdirSync(DIST).filter((f) => f.endsWith('.js'));
    expect(js.filter((f) => /-[\w-]{8}\.js$/.test(f))).toEqual([]);
    expect(js).toContain('engine.js');
  });

  it('the browser entry imports no Node-only module, anywhere in its graph', () => {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const { local, bare: b } = imports(file);
      for (const s of b) bare.add(s);
      for (const f of local) visit(f);
    };
    visit(join(REPO_ROOT, (pkg.exports['.'] as Record<string, string>).browser));
    expect([...seen].map((f) => relative(DIST, f)).sort()).toEqual(['engine.js', 'index.js']);
    expect([...bare]).toEqual([]);
    // The Node entry does reach them, through the Node platform.
    const node = imports(join(DIST, 'platform_node.js')).bare;
    expect(node).toEqual(expect.arrayContaining(['node:fs', 'webgpu', 'sharp']));
  });
});

// The demo uses the library as its users do: every import of library code is the package entry
// ('dinov2-webgpu'), never a file of src/ nor a deep path into the package. Imports are read with
// TypeScript's own pre-processor (static, dynamic, `export ... from` and type-only alike).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEMO = join(REPO_ROOT, 'demo');
const DEMO_SRC = join(DEMO, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : /\.(ts|tsx|js|mjs)$/.test(e.name)
        ? [join(dir, e.name)]
        : [],
  );
}

/** Every module specifier in `text`. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Why `spec`, imported by `file`, is not allowed (undefined when it is). */
function violation(file: string, spec: string): string | undefined {
  if (spec.startsWith('.')) {
    const target = resolve(dirname(file), spec);
    return target === DEMO || target.startsWith(DEMO + sep)
      ? undefined
      : `reaches ${relative(REPO_ROOT, target)} outside demo/: import it from 'dinov2-webgpu'`;
  }
  if (spec === 'dinov2-webgpu') return undefined;
  if (spec.startsWith('dinov2-webgpu/')) return 'a deep import: only the package entry is public';
  if (spec.startsWith('/') || spec.includes('src/')) return 'a path into the repository';
  return undefined; // another package
}

describe('the demo imports the library only through its public entry', () => {
  const files = sources(DEMO_SRC);

  it('finds the demo sources and their imports of the package', () => {
    expect(files.length).toBeGreaterThan(10);
    const users = files.filter((f) => specifiers(readFileSync(f, 'utf8')).includes('dinov2-webgpu'));
    expect(users.length).toBeGreaterThan(3);
  });

  it('no file under demo/src imports src/ or a deep path', () => {
    const bad = files.flatMap((f) =>
      specifiers(readFileSync(f, 'utf8')).flatMap((spec) => {
        const why = violation(f, spec);
        return why ? [`${relative(REPO_ROOT, f)}: '${spec}' ${why}`] : [];
      }),
    );
    expect(bad).toEqual([]);
  });

  it('the check catches each kind of forbidden import', () => {
    const main = join(DEMO_SRC, 'main.ts');
    const text = [
      "import { loadModel } from '../../src/index.js';",
      "export { x } from '../../src/io/sharded.js';",
      "const m = await import('../../src/image/decode_browser.js');",
      "import type { RgbImage } from 'dinov2-webgpu/image';",
      "import { ok } from './views/index.js';",
      "import { AutoModel } from 'dinov2-webgpu';",
    ].join('\n');
    const found = specifiers(text).map((s) => violation(main, s) !== undefined);
    expect(found).toEqual([true, true, true, true, false, false]);
  });
});

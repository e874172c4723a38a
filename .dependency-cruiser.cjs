// The import graph's rules (checked by test/reliability/import_graph.test.ts): no cycle anywhere,
// and folders that depend one way only.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module must not import, directly or through others, a module that imports it.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'io-below-model',
      severity: 'error',
      comment: 'src/io reads checkpoints; src/model builds on it, never the other way.',
      from: { path: '^src/io/' },
      to: { path: '^src/model/' },
    },
    {
      name: 'library-stands-alone',
      severity: 'error',
      comment: 'The library imports nothing from the tests, benchmarks, demo, scripts or tools.',
      from: { path: '^src/' },
      to: { path: '^(test|bench|demo|scripts|tools)/' },
    },
    {
      name: 'bench-not-test',
      severity: 'error',
      comment: 'The tests may run the benchmarks; the benchmarks import nothing from the tests.',
      from: { path: '^bench/' },
      to: { path: '^test/' },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment: 'Every import of a file of ours resolves (else the rules above could not see it).',
      from: {},
      to: { couldNotResolve: true, path: '^[.]' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|test/fixtures|demo/models)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.json'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};

/**
 * Import rules, checked by `npm run check:deps` (scripts/check-deps.ts, through dependency-cruiser's API: its CLI
 * refuses Node 20, which this project supports). tests/unit/deps.test.ts shows each rule failing on a fixture.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules that import each other (type-only imports included) cannot be read, tested or moved alone.',
      from: { path: '^(src|canisters)/' },
      to: { circular: true }
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'src/core is pure, deterministic domain logic that runs in the canisters and in tests: it imports only src/core ' +
        'and a few pure packages (zod, yaml, js-sha256, @noble/hashes, @noble/curves); never node: built-ins, azle, @dfinity/agent or another folder of src.',
      from: { path: '^src/core/' },
      to: { pathNot: ['^src/core/', '(^|/)node_modules/(zod|yaml|js-sha256|@noble/hashes|@noble/curves)/'] }
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing cannot be checked by the rules above.',
      from: { path: '^(src|canisters)/' },
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '(^|/)(\\.azle|\\.deai|dist)/' },
    // Type-only imports count: a circle through types still ties the modules together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings']
    }
  }
};

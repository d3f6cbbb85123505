import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cruiseDeps } from '../../scripts/check-deps.ts';

/** The violations of a cruise that fail it (a cycle is reported once), as `rule: from -> to`, sorted. */
const broken = (result: Awaited<ReturnType<typeof cruiseDeps>>): string[] =>
  result.summary.violations
    .filter((v) => v.rule.severity === 'error')
    .map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)
    .sort();

describe('import rules (.dependency-cruiser.cjs)', () => {
  let fixture: string;

  beforeAll(() => {
    fixture = mkdtempSync(join(tmpdir(), 'deai-deps-'));
    const write = (path: string, text: string): void => {
      mkdirSync(join(fixture, path, '..'), { recursive: true });
      writeFileSync(join(fixture, path), text);
    };
    write('src/sdk/a.ts', "import { b } from './b.ts';\nexport const a = (): number => b() + 1;\n");
    write('src/sdk/b.ts', "import type { a } from './a.ts';\nexport const b = (): number => 1;\nexport type A = typeof a;\n");
    write(
      'src/core/reads-files.ts',
      "import { readFileSync } from 'node:fs';\nexport const read = (p: string): string => readFileSync(p, 'utf8');\n"
    );
    write('src/core/uses-runner.ts', "import { run } from '../runner/run.ts';\nexport const go = (): void => run();\n");
    write('src/runner/run.ts', 'export const run = (): void => undefined;\n');
    write('src/core/pure.ts', "import { b } from './pure-b.ts';\nexport const pure = (): number => b;\n");
    write('src/core/pure-b.ts', 'export const b = 2;\n');
  });

  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  it('fails on two modules that import each other, even through a type-only import', async () => {
    const result = await cruiseDeps(['src/sdk'], fixture, false);
    expect(result.summary.error).toBeGreaterThan(0);
    expect(broken(result)).toEqual(['no-circular: src/sdk/a.ts -> src/sdk/b.ts']);
  });

  it('fails on src/core importing a Node built-in or another src folder, and passes a core module that does neither', async () => {
    const result = await cruiseDeps(['src/core'], fixture, false);
    expect(broken(result)).toEqual([
      'core-is-pure: src/core/reads-files.ts -> fs',
      'core-is-pure: src/core/uses-runner.ts -> src/runner/run.ts'
    ]);
  });

  it(
    'finds no violation in src and canisters, beyond the known ones (.dependency-cruiser-known-violations.json)',
    { timeout: 60_000 },
    async () => {
      const result = await cruiseDeps(['src', 'canisters']);
      expect(broken(result)).toEqual([]);
      expect(result.summary.error).toBe(0);
      expect(result.summary.totalCruised).toBeGreaterThan(200);
    }
  );
});

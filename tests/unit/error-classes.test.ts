import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CodedError } from '../../src/core/errors/coded-error.ts';

const root = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !/\.(test|d)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** Block and line comments blanked (JSDoc examples declare classes too). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');
}

/** Every `class X ... extends Y` declared in src, by file: an error class anywhere must extend CodedError. */
const declared = sourceFiles(join(root, 'src')).flatMap((file) =>
  [...withoutComments(readFileSync(file, 'utf8')).matchAll(/\bclass\s+(\w+)([^{]*)\{/g)]
    .filter((match) => /\bextends\b/.test(match[2] ?? ''))
    .map((match) => ({ file, name: match[1] ?? '' }))
);

describe('every error class in src extends CodedError', () => {
  it('finds the error classes (the scan itself works)', () => {
    const names = declared.map((entry) => entry.name);
    for (const known of [
      'DeaiError',
      'IcError',
      'RunnerError',
      'ManifestError',
      'StateCorruptError',
      'LlamaServerStartError',
      'CliError',
      'HttpError'
    ])
      expect(names).toContain(known);
  });

  for (const file of new Set(declared.map((entry) => entry.file))) {
    it(relative(root, file), async () => {
      const module = (await import(file)) as Record<string, unknown>;
      for (const { name } of declared.filter((entry) => entry.file === file)) {
        const value = module[name];
        // A class that is not exported cannot be checked here: export it (error classes are part of an area's API).
        expect(value, `${name} in ${relative(root, file)} is not exported`).toBeTypeOf('function');
        const prototype: unknown = (value as { prototype?: unknown }).prototype;
        if (!(prototype instanceof Error)) continue;
        expect(value === CodedError || prototype instanceof CodedError, `${name} extends Error but not CodedError`).toBe(true);
      }
    });
  }
});

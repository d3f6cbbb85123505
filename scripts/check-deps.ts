/**
 * Checks the import rules of .dependency-cruiser.cjs (no circles; src/core pure) over src and canisters, through
 * dependency-cruiser's API.
 *
 *   tsx scripts/check-deps.ts [path ...]
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { cruise, format, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const repoRoot = resolve(import.meta.dirname, '..');
export const DEPS_CONFIG = resolve(repoRoot, '.dependency-cruiser.cjs');
/**
 * Violations known and not fixed yet (dependency-cruiser's baseline format): reported as ignored, never as errors.
 * A new violation still fails; fixing one of these means removing it here.
 */
const KNOWN_VIOLATIONS = resolve(repoRoot, '.dependency-cruiser-known-violations.json');

/**
 * Cruises `paths` (relative to `baseDir`) under the project's rules; `tsConfig: false` resolves without a tsconfig
 * (for a fixture folder).
 */
export async function cruiseDeps(paths: string[], baseDir = repoRoot, tsConfig: string | false = 'tsconfig.json'): Promise<ICruiseResult> {
  const options = await extractDepcruiseOptions(DEPS_CONFIG);
  const parsedTsConfig = tsConfig === false ? undefined : extractTSConfig(resolve(baseDir, tsConfig));
  const cruiseOptions = { ...options, baseDir, validate: true };
  if (baseDir === repoRoot && existsSync(KNOWN_VIOLATIONS))
    cruiseOptions.knownViolations = JSON.parse(readFileSync(KNOWN_VIOLATIONS, 'utf8')) as IViolation[];
  if (tsConfig === false) delete cruiseOptions.tsConfig;
  else cruiseOptions.tsConfig = { fileName: resolve(baseDir, tsConfig) };
  const result = await cruise(paths, cruiseOptions, {}, parsedTsConfig === undefined ? {} : { tsConfig: parsedTsConfig });
  return result.output as ICruiseResult;
}

async function main(): Promise<void> {
  const paths = process.argv.slice(2);
  const result = await cruiseDeps(paths.length > 0 ? paths : ['src', 'canisters']);
  const report = await format(result, { outputType: 'err' });
  console.log(String(report.output).trim());
  if (result.summary.error > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

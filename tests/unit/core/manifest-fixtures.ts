import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/manifests/', import.meta.url));

export const exampleFiles = (): string[] => readdirSync(EXAMPLES_DIR).sort();

export const exampleText = (name: string): string => readFileSync(`${EXAMPLES_DIR}${name}`, 'utf8');

/** A fresh plain-object copy of an example, to mutate in one test. */
export function example(name: string): Record<string, any> {
  return parse(exampleText(name)) as Record<string, any>;
}

export const modelCard = () => example('llama-3.1-8b-q4km.model.yaml');
export const runner = () => example('runner-gpu.runner.yaml');

export const DIGEST_A = `sha256:${'a'.repeat(64)}`;
export const DIGEST_B = `sha256:${'b'.repeat(64)}`;

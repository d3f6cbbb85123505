import { InvalidArgumentError } from 'commander';

/** A non-negative whole number of e8s (commander argument parser). */
export function e8sOption(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number of e8s, got "${value}"`);
  return BigInt(value);
}

/** A positive integer (commander argument parser). */
export function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/** A whole number, 0 or more (commander argument parser). */
export function nonNegativeIntOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return n;
}

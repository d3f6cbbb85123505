/**
 * What this machine has, in the manifest's `hardware` shape: CPU (os + /proc/cpuinfo), RAM
 * (os.totalmem) and GPUs (nvidia-smi, rocm-smi — each only when its binary is installed). Every
 * effect is injectable so tests replay recorded outputs.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { z } from 'zod';
import type { Accelerator, RunnerManifest } from '../../core/manifest/index.js';
import { describeError, RunnerError } from '../errors.js';

export type Hardware = RunnerManifest['hardware'];

/** Runs a program (no shell); rejects on spawn failure (`code: 'ENOENT'` when absent), non-zero exit or timeout. */
export type CommandRunner = (file: string, args: readonly string[], options: { timeoutMs: number }) => Promise<string>;

export interface HardwareProbeOptions {
  run?: CommandRunner;
  /** Reads a text file; rejects when it does not exist. */
  readText?: (path: string) => Promise<string>;
  /** `os` facts; tests pass fixed values. */
  system?: { arch: string; logicalCores: number; totalMemBytes: number; cpuModel?: string };
  /** Limit for each GPU tool. */
  timeoutMs?: number;
}

export interface GpuDevice {
  vendor: 'nvidia' | 'amd';
  model: string;
  memoryMiB: number;
}

export interface HardwareFacts {
  hardware: Hardware;
  cpu: { model?: string; flags: string[] };
  gpus: GpuDevice[];
  /** GPU tools that are installed but failed (no driver, hung): their GPUs are not counted. */
  warnings: string[];
}

export const NVIDIA_SMI_ARGS = ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'] as const;
export const ROCM_SMI_ARGS = ['--showproductname', '--showmeminfo', 'vram', '--json'] as const;
const DEFAULT_TOOL_TIMEOUT_MS = 10_000;
const GIB = 1024 ** 3;

export const defaultCommandRunner: CommandRunner = (file, args, options) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: options.timeoutMs, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
  });

function defaultSystem(): NonNullable<HardwareProbeOptions['system']> {
  return {
    arch: os.arch(),
    logicalCores: os.availableParallelism(),
    totalMemBytes: os.totalmem(),
    cpuModel: os.cpus()[0]?.model
  };
}

/** Probes CPU, RAM and GPUs; throws `RunnerError` (HardwareProbeFailed) when a GPU tool prints something unreadable. */
export async function probeHardware(options: HardwareProbeOptions = {}): Promise<HardwareFacts> {
  const run = options.run ?? defaultCommandRunner;
  const readText = options.readText ?? ((path: string) => readFile(path, 'utf8'));
  const system = options.system ?? defaultSystem();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const warnings: string[] = [];

  const tool = async (file: string, args: readonly string[]): Promise<string | undefined> => {
    try {
      return await run(file, args, { timeoutMs });
    } catch (error) {
      if (isNotInstalled(error)) return undefined;
      warnings.push(`${file} failed, its GPUs are not counted: ${describeError(error)}`);
      return undefined;
    }
  };
  const [cpuinfo, nvidiaText, rocmText] = await Promise.all([
    readText('/proc/cpuinfo').catch(() => undefined),
    tool('nvidia-smi', NVIDIA_SMI_ARGS),
    tool('rocm-smi', ROCM_SMI_ARGS)
  ]);
  const gpus = [...(nvidiaText === undefined ? [] : parseNvidiaSmi(nvidiaText)), ...(rocmText === undefined ? [] : parseRocmSmi(rocmText))];
  const cpu = cpuinfo === undefined ? { flags: [] } : parseCpuinfo(cpuinfo);
  return {
    hardware: {
      accelerators: groupAccelerators(gpus),
      cpu: { cores: system.logicalCores, architecture: cpuArchitecture(system.arch) },
      ramGiB: roundTo(system.totalMemBytes / GIB, 2)
    },
    cpu: { model: cpu.model ?? system.cpuModel, flags: cpu.flags },
    gpus,
    warnings
  };
}

function isNotInstalled(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

const NVIDIA_LINE = z.tuple([z.string().min(1), z.string().regex(/^[0-9]+(?:\.[0-9]+)?$/)]);

/** `NVIDIA H100 80GB HBM3, 81559` (one line per GPU, memory in MiB) → devices. */
export function parseNvidiaSmi(text: string): GpuDevice[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const comma = line.lastIndexOf(',');
      const parsed = NVIDIA_LINE.safeParse(comma < 0 ? [line] : [line.slice(0, comma).trim(), line.slice(comma + 1).trim()]);
      if (!parsed.success) {
        throw new RunnerError('HardwareProbeFailed', `nvidia-smi: expected "<name>, <memory MiB>", got ${JSON.stringify(line)}`);
      }
      const [name, memory] = parsed.data;
      return { vendor: 'nvidia' as const, model: withoutVendor(name, 'NVIDIA'), memoryMiB: Number(memory) };
    });
}

const RocmCardSchema = z.record(z.string(), z.unknown());
const RocmSchema = z.record(z.string(), z.unknown());
const ROCM_NAME_KEYS = ['card series', 'marketing name', 'card model', 'card sku'];
const ROCM_VRAM = z.union([z.string().regex(/^[0-9]+$/), z.int().min(0)]);

/** rocm-smi `--json`: `{"card0": {"Card series": "…", "VRAM Total Memory (B)": "…"}, …}` → devices. */
export function parseRocmSmi(text: string): GpuDevice[] {
  const fail = (detail: string): RunnerError => new RunnerError('HardwareProbeFailed', `rocm-smi: ${detail}`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw fail(`expected JSON (${describeError(error)})`);
  }
  const top = RocmSchema.safeParse(document);
  if (!top.success) throw fail('expected a JSON object of cards');
  return Object.entries(top.data)
    .filter(([key]) => /^card[0-9]+$/.test(key))
    .map(([key, value]) => {
      const card = RocmCardSchema.safeParse(value);
      if (!card.success) throw fail(`${key}: expected an object`);
      // Key spelling changed across ROCm releases ("Card series" / "Card Series"); match case-insensitively.
      const fields = new Map(Object.entries(card.data).map(([field, v]) => [field.toLowerCase(), v]));
      const name = ROCM_NAME_KEYS.map((k) => fields.get(k)).find((v): v is string => typeof v === 'string' && v.trim() !== '');
      const vram = ROCM_VRAM.safeParse(fields.get('vram total memory (b)'));
      if (name === undefined) throw fail(`${key}: no product name (run with --showproductname)`);
      if (!vram.success) throw fail(`${key}: no "VRAM Total Memory (B)" (run with --showmeminfo vram)`);
      return { vendor: 'amd' as const, model: withoutVendor(name.trim(), 'AMD'), memoryMiB: Number(vram.data) / 1024 ** 2 };
    });
}

/** The vendor is its own field: `NVIDIA GeForce RTX 4090` → `GeForce RTX 4090`. */
function withoutVendor(name: string, vendor: string): string {
  const stripped = name.startsWith(`${vendor} `) ? name.slice(vendor.length + 1).trim() : name;
  return stripped === '' ? name : stripped;
}

/** Identical GPUs become one accelerator entry with a count. */
export function groupAccelerators(gpus: readonly GpuDevice[]): Accelerator[] {
  const groups = new Map<string, Accelerator>();
  for (const gpu of gpus) {
    const memoryGiB = roundTo(gpu.memoryMiB / 1024, 2);
    const key = `${gpu.vendor}\u0000${gpu.model}\u0000${memoryGiB}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { class: 'gpu', vendor: gpu.vendor, model: gpu.model, memoryGiB, count: 1 });
    else group.count += 1;
  }
  return [...groups.values()];
}

/** `model name` and `flags` of the first processor in /proc/cpuinfo (aarch64 says `Features`). */
export function parseCpuinfo(text: string): { model?: string; flags: string[] } {
  let model: string | undefined;
  let flags: string[] | undefined;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (model === undefined && key === 'model name' && value !== '') model = value;
    if (flags === undefined && (key === 'flags' || key === 'features')) flags = value.split(/\s+/).filter((f) => f !== '');
  }
  return { model, flags: flags ?? [] };
}

function cpuArchitecture(arch: string): Hardware['cpu']['architecture'] {
  if (arch === 'x64') return 'x86_64';
  if (arch === 'arm64') return 'aarch64';
  if (arch === 'riscv64') return 'riscv64';
  return 'other';
}

function roundTo(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

import { describe, expect, it } from 'vitest';
import { safeValidateRunnerManifest } from '../../../src/core/manifest/index.ts';
import { RunnerError } from '../../../src/runner/errors.ts';
import {
  defaultCommandRunner,
  NVIDIA_SMI_ARGS,
  parseCpuinfo,
  probeHardware,
  ROCM_SMI_ARGS,
  type CommandRunner,
  type HardwareProbeOptions
} from '../../../src/runner/probes/hardware.ts';
import { deployment, modelCard, runnerManifest } from '../../support/manifests.ts';

const GIB = 1024 ** 3;

/** /proc/cpuinfo of the 2-vCPU CI machine (abridged flags). */
const X86_CPUINFO = `processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel Xeon Processor (SapphireRapids)
flags\t\t: fpu vme de pse avx avx2 avx512f amx_tile amx_int8
bogomips\t: 4190.15

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel Xeon Processor (SapphireRapids)
flags\t\t: fpu vme de pse avx avx2 avx512f amx_tile amx_int8
`;

const ARM_CPUINFO = `processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics
CPU implementer\t: 0x41
`;

/** nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits on a 2× H100 box. */
const NVIDIA_2X_H100 = 'NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\n';

/** rocm-smi --showproductname --showmeminfo vram --json on a 2× MI300X box (values as strings). */
const ROCM_2X_MI300X = JSON.stringify({
  card0: {
    'Card Series': 'AMD Instinct MI300X',
    'Card Model': '0x74a1',
    'Card Vendor': 'Advanced Micro Devices, Inc. [AMD/ATI]',
    'VRAM Total Memory (B)': '205822885888',
    'VRAM Total Used Memory (B)': '297025536'
  },
  card1: {
    'Card Series': 'AMD Instinct MI300X',
    'Card Model': '0x74a1',
    'VRAM Total Memory (B)': '205822885888',
    'VRAM Total Used Memory (B)': '297025536'
  },
  system: { 'Driver version': '6.8.5' }
});

const notInstalled = (file: string): Error => Object.assign(new Error(`spawn ${file} ENOENT`), { code: 'ENOENT' });

/** A command runner that answers from `outputs` and says "not installed" for everything else. */
function replay(
  outputs: Record<string, string | Error>,
  calls: Array<{ file: string; args: readonly string[]; timeoutMs: number }> = []
): CommandRunner {
  return async (file, args, options) => {
    calls.push({ file, args, timeoutMs: options.timeoutMs });
    const output = outputs[file];
    if (output === undefined) throw notInstalled(file);
    if (output instanceof Error) throw output;
    return output;
  };
}

function options(overrides: Partial<HardwareProbeOptions> = {}): HardwareProbeOptions {
  return {
    run: replay({}),
    readText: async () => X86_CPUINFO,
    system: { arch: 'x64', logicalCores: 2, totalMemBytes: 24 * GIB, cpuModel: 'from os.cpus' },
    ...overrides
  };
}

describe('probeHardware', () => {
  it('reports a CPU-only machine: cores, architecture, RAM, CPU model and flags', async () => {
    const facts = await probeHardware(options());
    expect(facts).toEqual({
      hardware: { accelerators: [], cpu: { cores: 2, architecture: 'x86_64' }, ramGiB: 24 },
      cpu: {
        model: 'Intel Xeon Processor (SapphireRapids)',
        flags: ['fpu', 'vme', 'de', 'pse', 'avx', 'avx2', 'avx512f', 'amx_tile', 'amx_int8']
      },
      gpus: [],
      warnings: []
    });
  });

  it('groups identical NVIDIA GPUs into one accelerator with a count, memory in GiB', async () => {
    const calls: Array<{ file: string; args: readonly string[]; timeoutMs: number }> = [];
    const facts = await probeHardware(options({ run: replay({ 'nvidia-smi': NVIDIA_2X_H100 }, calls), timeoutMs: 3_000 }));
    expect(facts.hardware.accelerators).toEqual([{ class: 'gpu', vendor: 'nvidia', model: 'H100 80GB HBM3', memoryGiB: 79.65, count: 2 }]);
    expect(facts.gpus).toHaveLength(2);
    expect(calls).toContainEqual({ file: 'nvidia-smi', args: NVIDIA_SMI_ARGS, timeoutMs: 3_000 });
    expect(calls).toContainEqual({ file: 'rocm-smi', args: ROCM_SMI_ARGS, timeoutMs: 3_000 });
  });

  it('keeps different GPU models apart', async () => {
    const run = replay({
      'nvidia-smi': 'NVIDIA GeForce RTX 4090, 24564\nNVIDIA GeForce RTX 3090, 24576\nNVIDIA GeForce RTX 4090, 24564\n'
    });
    const facts = await probeHardware(options({ run }));
    expect(facts.hardware.accelerators).toEqual([
      { class: 'gpu', vendor: 'nvidia', model: 'GeForce RTX 4090', memoryGiB: 23.99, count: 2 },
      { class: 'gpu', vendor: 'nvidia', model: 'GeForce RTX 3090', memoryGiB: 24, count: 1 }
    ]);
  });

  it('reads AMD GPUs from rocm-smi JSON, skipping the system entry', async () => {
    const facts = await probeHardware(options({ run: replay({ 'rocm-smi': ROCM_2X_MI300X }) }));
    expect(facts.hardware.accelerators).toEqual([{ class: 'gpu', vendor: 'amd', model: 'Instinct MI300X', memoryGiB: 191.69, count: 2 }]);
  });

  it('accepts the older lowercase "Card series" key and numeric VRAM', async () => {
    const text = JSON.stringify({ card0: { 'Card series': 'Radeon RX 7900 XTX', 'VRAM Total Memory (B)': 25753026560 } });
    const facts = await probeHardware(options({ run: replay({ 'rocm-smi': text }) }));
    expect(facts.hardware.accelerators).toEqual([{ class: 'gpu', vendor: 'amd', model: 'Radeon RX 7900 XTX', memoryGiB: 23.98, count: 1 }]);
  });

  it('counts no GPU, with a warning, when nvidia-smi is installed but fails (no driver)', async () => {
    const failure = Object.assign(new Error("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"), { code: 9 });
    const facts = await probeHardware(options({ run: replay({ 'nvidia-smi': failure }) }));
    expect(facts.hardware.accelerators).toEqual([]);
    expect(facts.warnings).toHaveLength(1);
    expect(facts.warnings[0]).toMatch(/^nvidia-smi failed, its GPUs are not counted: NVIDIA-SMI has failed/);
  });

  it('throws HardwareProbeFailed when nvidia-smi prints something unreadable', async () => {
    const run = replay({ 'nvidia-smi': 'NVIDIA H100 80GB HBM3, [N/A]\n' });
    const error: unknown = await probeHardware(options({ run })).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RunnerError);
    expect(error).toMatchObject({ code: 'HardwareProbeFailed', retryable: false });
  });

  it.each([
    ['not json', /expected JSON/],
    ['[1,2]', /expected a JSON object of cards/],
    ['{"card0":{"VRAM Total Memory (B)":"1"}}', /card0: no product name/],
    ['{"card0":{"Card Series":"MI300X"}}', /card0: no "VRAM Total Memory \(B\)"/],
    ['{"card0":"MI300X"}', /card0: expected an object/]
  ])('throws HardwareProbeFailed for rocm-smi output %j', async (text, message) => {
    const error: unknown = await probeHardware(options({ run: replay({ 'rocm-smi': text }) })).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'HardwareProbeFailed' });
    expect(error instanceof Error && error.message).toMatch(message);
  });

  it('falls back to the os CPU model when /proc/cpuinfo does not exist', async () => {
    const facts = await probeHardware(options({ readText: () => Promise.reject(notInstalled('/proc/cpuinfo')) }));
    expect(facts.cpu).toEqual({ model: 'from os.cpus', flags: [] });
  });

  it.each([
    ['x64', 'x86_64'],
    ['arm64', 'aarch64'],
    ['riscv64', 'riscv64'],
    ['s390x', 'other']
  ])('maps os.arch() %s to %s', async (arch, architecture) => {
    const facts = await probeHardware(options({ system: { arch, logicalCores: 8, totalMemBytes: 64 * GIB } }));
    expect(facts.hardware.cpu).toEqual({ cores: 8, architecture });
  });

  it('rounds RAM to hundredths of a GiB', async () => {
    const facts = await probeHardware(options({ system: { arch: 'x64', logicalCores: 1, totalMemBytes: 25_152_000_000 } }));
    expect(facts.hardware.ramGiB).toBe(23.42);
  });

  it('produces hardware the manifest schema accepts', async () => {
    const facts = await probeHardware(options({ run: replay({ 'nvidia-smi': NVIDIA_2X_H100, 'rocm-smi': ROCM_2X_MI300X }) }));
    const card = modelCard();
    const result = safeValidateRunnerManifest(runnerManifest('aaaaa-aa', [deployment(card)], { hardware: facts.hardware }));
    expect(result.ok).toBe(true);
  });
});

describe('parseCpuinfo', () => {
  it('reads aarch64 Features as flags (no model name there)', () => {
    expect(parseCpuinfo(ARM_CPUINFO)).toEqual({
      model: undefined,
      flags: ['fp', 'asimd', 'evtstrm', 'aes', 'pmull', 'sha1', 'sha2', 'crc32', 'atomics']
    });
  });
});

describe('defaultCommandRunner', () => {
  it('returns stdout of a program that exists', async () => {
    expect(await defaultCommandRunner(process.execPath, ['-e', 'process.stdout.write("hi")'], { timeoutMs: 10_000 })).toBe('hi');
  });

  it('rejects with ENOENT for a program that is not installed, which the probe reads as "no GPUs"', async () => {
    const missing = 'deai-no-such-smi';
    await expect(defaultCommandRunner(missing, [], { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'ENOENT' });
    const facts = await probeHardware({ ...options(), run: (file, args, opts) => defaultCommandRunner(`${missing}-${file}`, args, opts) });
    expect(facts.hardware.accelerators).toEqual([]);
    expect(facts.warnings).toEqual([]);
  });

  it('rejects a program that exits non-zero', async () => {
    await expect(defaultCommandRunner(process.execPath, ['-e', 'process.exit(3)'], { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 3
    });
  });
});

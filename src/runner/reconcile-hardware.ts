/** The hardware part of reconciling: the CPU, RAM and accelerators declared, checked against (and added to) what the probe measured. */
import type { z } from 'zod';
import type { Accelerator } from '../core/manifest/index.js';
import type { DeclaredAcceleratorSchema, DeclaredManifest } from './declared.js';
import type { Hardware } from './probes/hardware.js';
import type { Findings } from './reconcile-findings.js';

/**
 * The OS reports usable memory, below the nominal size (firmware and kernel reserve some), and
 * vendors quote GPU memory in GB where tools report GiB (an "80GB" H100 shows 79.6 GiB).
 */
export const MEMORY_TOLERANCE = 0.1;

/** GPU vendors whose devices the hardware probe can see; other GPUs are the operator's additions. */
const PROBED_GPU_VENDORS: ReadonlySet<string> = new Set(['nvidia', 'amd']);

export function reconcileHardware(declared: DeclaredManifest['hardware'], probed: Hardware, findings: Findings): Hardware {
  const cpu = declared?.cpu;
  if (cpu?.architecture !== undefined && cpu.architecture !== probed.cpu.architecture) {
    findings.contradict('hardware.cpu.architecture', cpu.architecture, probed.cpu.architecture, `the CPU is ${probed.cpu.architecture}`);
  }
  if (cpu?.cores !== undefined && cpu.cores > probed.cpu.cores) {
    findings.contradict('hardware.cpu.cores', cpu.cores, probed.cpu.cores, `the machine has ${probed.cpu.cores} logical cores`);
  }
  const ram = declared?.ramGiB;
  if (ram !== undefined && ram > probed.ramGiB * (1 + MEMORY_TOLERANCE)) {
    findings.contradict('hardware.ramGiB', ram, probed.ramGiB, `the machine has ${probed.ramGiB} GiB of RAM`);
  }
  return { ...probed, accelerators: reconcileAccelerators(declared?.accelerators ?? [], probed.accelerators, findings) };
}

type DeclaredAccelerator = z.infer<typeof DeclaredAcceleratorSchema>;

/** Probed GPUs (with the operator's peakTops/watts added), then the accelerators no probe can see. */
function reconcileAccelerators(declared: DeclaredAccelerator[], probed: Accelerator[], findings: Findings): Accelerator[] {
  const result = probed.map((accelerator) => ({ ...accelerator }));
  const claimed = result.map(() => 0);
  const additions: Accelerator[] = [];
  declared.forEach((entry, index) => {
    const path = `hardware.accelerators[${index}]`;
    const vendor = entry.vendor.toLowerCase();
    if (entry.class !== 'gpu' || !PROBED_GPU_VENDORS.has(vendor)) {
      const { memoryGiB = 0, count = 1, ...rest } = entry;
      additions.push({ ...rest, memoryGiB, count });
      return;
    }
    const count = entry.count ?? 1;
    const candidates = result
      .map((accelerator, at) => ({ accelerator, at }))
      .filter(({ accelerator }) => accelerator.vendor === vendor && sameGpuModel(accelerator.model, entry.model));
    const match = candidates.find(({ accelerator, at }) => accelerator.count - (claimed[at] ?? 0) >= count) ?? candidates[0];
    if (match === undefined) {
      const found = probed.length === 0 ? 'no GPU' : probed.map(describeAccelerator).join(', ');
      findings.contradict(
        path,
        describeAccelerator({ ...entry, count }),
        found,
        `no ${entry.vendor} ${entry.model} found (found: ${found})`
      );
      return;
    }
    const { accelerator, at } = match;
    const free = accelerator.count - (claimed[at] ?? 0);
    if (count > free) {
      findings.contradict(`${path}.count`, count, free, `only ${free} more ${accelerator.model} present`);
    }
    claimed[at] = (claimed[at] ?? 0) + count;
    if (entry.memoryGiB !== undefined && entry.memoryGiB > accelerator.memoryGiB * (1 + MEMORY_TOLERANCE)) {
      findings.contradict(
        `${path}.memoryGiB`,
        entry.memoryGiB,
        accelerator.memoryGiB,
        `each ${accelerator.model} has ${accelerator.memoryGiB} GiB`
      );
    }
    if (entry.peakTops !== undefined) accelerator.peakTops ??= entry.peakTops;
    if (entry.watts !== undefined) accelerator.watts ??= entry.watts;
  });
  return [...result, ...additions];
}

/** `RTX 4090` names the probed `GeForce RTX 4090`; `H100` names `H100 80GB HBM3`. */
function sameGpuModel(probed: string, declared: string): boolean {
  const squash = (text: string): string => text.toLowerCase().replace(/nvidia|amd|[^a-z0-9]/g, '');
  const a = squash(probed);
  const b = squash(declared);
  return a !== '' && b !== '' && (a.includes(b) || b.includes(a));
}

function describeAccelerator(accelerator: { vendor: string; model: string; count: number; memoryGiB?: number }): string {
  const memory = accelerator.memoryGiB === undefined ? '' : ` ${accelerator.memoryGiB} GiB`;
  return `${accelerator.count}× ${accelerator.vendor} ${accelerator.model}${memory}`;
}

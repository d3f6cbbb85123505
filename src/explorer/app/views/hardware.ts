import { z } from 'zod/mini';

/** The hardware part of a runner's manifest_json (validated on-chain, but still parsed, not cast, here). */
const HardwareSchema = z.object({
  hardware: z.object({
    accelerators: z.array(z.object({ class: z.string(), vendor: z.string(), model: z.string(), memoryGiB: z.number(), count: z.number() })),
    cpu: z.object({ cores: z.number(), architecture: z.string() }),
    ramGiB: z.number()
  })
});

export function hardwareOf(manifestJson: string): string {
  let json: unknown;
  try {
    json = JSON.parse(manifestJson);
  } catch {
    return 'unknown (manifest is not JSON)';
  }
  const parsed = HardwareSchema.safeParse(json);
  if (!parsed.success) return 'unknown';
  const { accelerators, cpu, ramGiB } = parsed.data.hardware;
  const gpus = accelerators.map((a) => `${a.count}× ${a.vendor} ${a.model} (${a.memoryGiB} GiB, ${a.class})`);
  return [...gpus, `${cpu.cores} ${cpu.architecture} cores`, `${ramGiB} GiB RAM`].join(', ');
}

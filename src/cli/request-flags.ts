import { InvalidArgumentError, type Command } from 'commander';

import type { TaskRequest } from '../sdk/index.js';
import { e8sOption, positiveIntOption } from './flags.js';

/** The routing-constraint flags of `task submit` and `runners find`, as commander parses them. */
export interface RequestFlags {
  family?: string;
  region?: string;
  maxInputPrice?: bigint;
  maxOutputPrice?: bigint;
  confidential?: boolean;
  quantization?: string[];
  minContext?: number;
  minBits?: number;
  engine?: string;
  accelerator?: string;
  capability?: string[];
  affinityKey?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function bitsOption(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 32)) throw new InvalidArgumentError(`expected bits per weight in (0, 32], got "${value}"`);
  return n;
}

/** Adds the flags of a full runner request (what find_runners and submit_task's `request` accept) to `command`. */
export function requestOptions(command: Command): Command {
  return command
    .option('--family <family>', 'model family (llama, qwen2, …)')
    .option('--region <region>', 'runner region (eu-west, …)')
    .option('--max-input-price <e8s>', 'highest input price per million tokens, e8s', e8sOption)
    .option('--max-output-price <e8s>', 'highest output price per million tokens, e8s', e8sOption)
    .option('--confidential', 'only runners whose confidential-computing attestation the registry verified')
    .option('--quantization <method>', 'accepted quantization (repeat for several: Q4_K_M, awq, …)', collect)
    .option('--min-context <tokens>', 'least context the runner serves', positiveIntOption)
    .option('--min-bits <bits>', 'least bits per weight', bitsOption)
    .option('--engine <engine>', 'inference engine (llama.cpp, vllm, …)')
    .option('--accelerator <class>', 'accelerator class (gpu, npu, analog, cpu)')
    .option('--capability <name>', 'required capability (repeat for several: tools, json_schema, …)', collect)
    .option('--affinity-key <key>', 'session key: keeps the session on the runner that served it while it has capacity');
}

/** The request the flags describe (absent flags stay absent). */
export function requestOf(flags: RequestFlags): TaskRequest {
  const request: TaskRequest = {};
  if (flags.family !== undefined) request.family = flags.family;
  if (flags.region !== undefined) request.region = flags.region;
  if (flags.maxInputPrice !== undefined) request.maxInputPricePerMillion = flags.maxInputPrice;
  if (flags.maxOutputPrice !== undefined) request.maxOutputPricePerMillion = flags.maxOutputPrice;
  if (flags.confidential === true) request.confidentialRequired = true;
  if (flags.quantization !== undefined) request.quantizations = flags.quantization;
  if (flags.minContext !== undefined) request.minContext = BigInt(flags.minContext);
  if (flags.minBits !== undefined) request.minBits = flags.minBits;
  if (flags.engine !== undefined) request.engine = flags.engine;
  if (flags.accelerator !== undefined) request.acceleratorClass = flags.accelerator;
  if (flags.capability !== undefined) request.capabilities = flags.capability;
  if (flags.affinityKey !== undefined) request.affinityKey = flags.affinityKey;
  return request;
}

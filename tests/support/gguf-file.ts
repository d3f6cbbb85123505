/**
 * Writes small, valid GGUF v3 files for tests: the KV metadata is serialized by @huggingface/gguf's
 * own writer (`serializeGgufMetadata`), the tensor infos (which that writer does not emit) by hand,
 * followed by zero-filled tensor data of the right size, aligned as llama.cpp expects.
 */
import { writeFile } from 'node:fs/promises';
import { GGMLQuantizationType, GGUFValueType, serializeGgufMetadata, type GGUFTypedMetadata } from '@huggingface/gguf';

export { GGMLQuantizationType, GGUFValueType };

export interface TensorSpec {
  name: string;
  shape: number[];
  dtype: GGMLQuantizationType;
}

export type KvEntry = { value: string | number | bigint | boolean; type: GGUFValueType };

const ALIGNMENT = 32;

/** [elements per block, bytes per block] of the tensor types the tests use. */
const LAYOUT: Partial<Record<GGMLQuantizationType, [number, number]>> = {
  [GGMLQuantizationType.F32]: [1, 4],
  [GGMLQuantizationType.F16]: [1, 2],
  [GGMLQuantizationType.Q4_0]: [32, 18],
  [GGMLQuantizationType.Q8_0]: [32, 34],
  [GGMLQuantizationType.Q4_K]: [256, 144],
  [GGMLQuantizationType.Q6_K]: [256, 210]
};

function pad(offset: number): number {
  return Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
}

function tensorBytes(tensor: TensorSpec): number {
  const layout = LAYOUT[tensor.dtype];
  if (layout === undefined) throw new Error(`gguf-file: no layout for tensor type ${tensor.dtype}`);
  const elements = tensor.shape.reduce((product, dim) => product * dim, 1);
  return (elements / layout[0]) * layout[1];
}

export function ggufBytes(kv: Record<string, KvEntry>, tensors: TensorSpec[] = []): Uint8Array {
  const typed: GGUFTypedMetadata = {
    version: { value: 3, type: GGUFValueType.UINT32 },
    tensor_count: { value: BigInt(tensors.length), type: GGUFValueType.UINT64 },
    kv_count: { value: 0n, type: GGUFValueType.UINT64 },
    ...kv
  };
  // alignment 1: no padding after the KV section, the tensor infos follow directly.
  const header = serializeGgufMetadata(typed, { alignment: 1 });
  const infos: Buffer[] = [];
  let dataOffset = 0;
  for (const tensor of tensors) {
    const name = Buffer.from(tensor.name, 'utf8');
    const info = Buffer.alloc(8 + name.length + 4 + 8 * tensor.shape.length + 4 + 8);
    let at = info.writeBigUInt64LE(BigInt(name.length), 0);
    at += name.copy(info, at);
    at = info.writeUInt32LE(tensor.shape.length, at);
    for (const dim of tensor.shape) at = info.writeBigUInt64LE(BigInt(dim), at);
    at = info.writeUInt32LE(tensor.dtype, at);
    info.writeBigUInt64LE(BigInt(dataOffset), at);
    infos.push(info);
    dataOffset = pad(dataOffset + tensorBytes(tensor));
  }
  const headerLength = header.length + infos.reduce((sum, info) => sum + info.length, 0);
  const out = Buffer.alloc(pad(headerLength) + dataOffset);
  out.set(header, 0);
  let at = header.length;
  for (const info of infos) at += info.copy(out, at);
  return out;
}

export async function writeGguf(path: string, kv: Record<string, KvEntry>, tensors: TensorSpec[] = []): Promise<void> {
  await writeFile(path, ggufBytes(kv, tensors));
}

/** The KV metadata of a llama model like the tiny random one (Q8_0, context 2048). */
export function llamaKv(overrides: Record<string, KvEntry | undefined> = {}): Record<string, KvEntry> {
  const base: Record<string, KvEntry | undefined> = {
    'general.architecture': { value: 'llama', type: GGUFValueType.STRING },
    'general.name': { value: 'tiny-random-llama', type: GGUFValueType.STRING },
    'general.file_type': { value: 7, type: GGUFValueType.UINT32 },
    'general.license': { value: 'mit', type: GGUFValueType.STRING },
    'llama.context_length': { value: 2048, type: GGUFValueType.UINT32 },
    'llama.embedding_length': { value: 64, type: GGUFValueType.UINT32 },
    'tokenizer.chat_template': { value: "{{ '<|user|>' }}", type: GGUFValueType.STRING },
    ...overrides
  };
  return Object.fromEntries(Object.entries(base).filter((entry): entry is [string, KvEntry] => entry[1] !== undefined));
}

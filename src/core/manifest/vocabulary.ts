/** The closed vocabularies of the manifest standard: one spelling per concept. */

export const API_VERSION = 'deai.dev/v1';

export const MANIFEST_KINDS = ['ModelCard', 'RunnerManifest'] as const;

/**
 * GGUF file types, named as llama.cpp's `LLAMA_FTYPE_*` enum (`general.file_type`) without the
 * `ALL_`/`MOSTLY_` prefix — the names `@huggingface/gguf` and llama-server's `model_ftype` report.
 * The removed Q4_0_4_4 / Q4_0_4_8 / Q4_0_8_8 (repacked at run time now) are left out on purpose.
 */
export const GGUF_FILE_TYPES = [
  'F32',
  'F16',
  'BF16',
  'Q8_0',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q2_K',
  'Q2_K_S',
  'Q3_K_S',
  'Q3_K_M',
  'Q3_K_L',
  'Q4_K_S',
  'Q4_K_M',
  'Q5_K_S',
  'Q5_K_M',
  'Q6_K',
  'IQ1_S',
  'IQ1_M',
  'IQ2_XXS',
  'IQ2_XS',
  'IQ2_S',
  'IQ2_M',
  'IQ3_XXS',
  'IQ3_XS',
  'IQ3_S',
  'IQ3_M',
  'IQ4_NL',
  'IQ4_XS',
  'TQ1_0',
  'TQ2_0',
  'MXFP4_MOE',
  'NVFP4',
  'Q1_0'
] as const;

/** Quantization methods of non-GGUF weights (`none` = the weights are stored unquantized). */
export const OTHER_QUANTIZATION_METHODS = ['awq', 'gptq', 'higgs', 'fp8', 'bnb', 'none'] as const;

export const QUANTIZATION_METHODS = [...GGUF_FILE_TYPES, ...OTHER_QUANTIZATION_METHODS] as const;

export const MODEL_FORMATS = ['gguf', 'safetensors', 'onnx', 'mlx', 'other'] as const;

/** How a model relates to its `base` (Hugging Face `base_model_relation`). */
export const BASE_RELATIONS = ['finetune', 'quantized', 'adapter', 'merge'] as const;

export const MODALITIES = ['text', 'image', 'audio', 'video', 'embedding'] as const;

/**
 * What a model can do beyond its modalities: `tools` (function calling), `json_schema` (constrained
 * output), `reasoning` (thinking tokens), `fim` (fill-in-the-middle), `rerank` (scoring pairs).
 */
export const CAPABILITIES = ['tools', 'json_schema', 'reasoning', 'fim', 'rerank'] as const;

export const ACCELERATOR_CLASSES = ['gpu', 'npu', 'analog', 'cpu'] as const;

export const CPU_ARCHITECTURES = ['x86_64', 'aarch64', 'riscv64', 'other'] as const;

/** Confidential-computing technology; anything but `none` comes with attestation evidence. */
export const CONFIDENTIAL_KINDS = ['none', 'sgx', 'sev-snp', 'tdx', 'gpu-cc'] as const;

export const ENGINES = [
  'vllm',
  'llama.cpp',
  'tgi',
  'sglang',
  'lmdeploy',
  'mlx',
  'mlc',
  'ollama',
  'transformers',
  'onnxruntime',
  'other'
] as const;

/** The HTTP API a deployment speaks. */
export const API_DIALECTS = ['openai', 'llama.cpp', 'tgi', 'ollama', 'other'] as const;

export type ManifestKind = (typeof MANIFEST_KINDS)[number];
export type GgufFileType = (typeof GGUF_FILE_TYPES)[number];
export type QuantizationMethod = (typeof QUANTIZATION_METHODS)[number];

const GGUF_FILE_TYPE_SET: ReadonlySet<string> = new Set(GGUF_FILE_TYPES);

export function isGgufFileType(method: string): method is GgufFileType {
  return GGUF_FILE_TYPE_SET.has(method);
}

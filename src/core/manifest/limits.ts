/**
 * Every bound of the manifest standard, named once so that the canister, the CLI, the runner and the
 * docs quote the same numbers. Lengths count code points (an emoji is one; a JavaScript string may count it twice).
 */

// ── shared ─────────────────────────────────────────────────────────────────────────────────────
/** Longest manifest text (YAML or JSON) accepted, in UTF-8 bytes: 256 KiB. */
export const MANIFEST_TEXT_MAX_BYTES = 256 * 1024;
/** Most manifests in one multi-document YAML stream. */
export const MANIFEST_STREAM_MAX_DOCUMENTS = 64;
/** `org` part of a model id (`org/name`). */
export const MODEL_ORG_MAX_LENGTH = 64;
/** `name` part of a model id (`org/name`). */
export const MODEL_NAME_MAX_LENGTH = 128;
/** Whole model id, `org/name`. */
export const MODEL_ID_MAX_LENGTH = 160;

// ── ModelCard ──────────────────────────────────────────────────────────────────────────────────
export const MODEL_VERSION_MAX_LENGTH = 64;
export const MODEL_FAMILY_MAX_LENGTH = 64;
export const MODEL_ARCHITECTURE_MAX_LENGTH = 64;
/** Largest parameter count (total or active): 10 trillion, well inside the safe-integer range. */
export const MODEL_PARAMETERS_MAX = 10_000_000_000_000;
/** Bits per weight are in (0, QUANTIZATION_BITS_MAX]. */
export const QUANTIZATION_BITS_MAX = 32;
export const QUANTIZATION_LABEL_MAX_LENGTH = 64;
/** Trained context window (`contextLength`) and served context (`servedContext`), in tokens. */
export const CONTEXT_LENGTH_MAX = 10_000_000;
export const LICENSE_MAX_LENGTH = 64;

// ── RunnerManifest ─────────────────────────────────────────────────────────────────────────────
/** Textual principal; the longest (self-authenticating) principal is 63 characters. */
export const PRINCIPAL_TEXT_MAX_LENGTH = 63;
export const ENDPOINT_MAX_LENGTH = 256;
export const REGION_MAX_LENGTH = 32;
export const ACCELERATORS_MAX = 16;
export const ACCELERATOR_VENDOR_MAX_LENGTH = 64;
export const ACCELERATOR_MODEL_MAX_LENGTH = 64;
/*
 * Plausibility bounds on what a runner claims about its hardware. They are generous for real machines (the largest
 * accelerators ship with under 300 GiB, peak near 20,000 sparse low-precision TOPS at ~1,000 W) and refuse what no
 * machine is: a claimed figure feeds ranking, so an impossible one must not get in.
 */
/** Memory of one accelerator, GiB (0 allowed: shares system memory). */
export const ACCELERATOR_MEMORY_GIB_MAX = 1_024;
/** Identical accelerators in one entry. */
export const ACCELERATOR_COUNT_MAX = 16;
/** Accelerator devices of one runner, all entries together (a runner is one node). */
export const ACCELERATOR_DEVICES_MAX = 64;
/** Peak tera-operations per second of one accelerator. */
export const ACCELERATOR_PEAK_TOPS_MAX = 40_000;
/** Board power of one accelerator, watts: at least 1 W (a divisor of TOPS/W), at most 3,000 W. */
export const ACCELERATOR_WATTS_MIN = 1;
export const ACCELERATOR_WATTS_MAX = 3_000;
/** Peak TOPS per watt of one accelerator: the physical ceiling ranking also clamps to (today's best are under 20). */
export const ACCELERATOR_TOPS_PER_WATT_MAX = 50;
export const CPU_CORES_MAX = 1_024;
/** System memory, GiB (must be > 0): 32 TiB. */
export const RAM_GIB_MAX = 32_768;
export const DEPLOYMENTS_MIN = 1;
export const DEPLOYMENTS_MAX = 16;
export const ENGINE_VERSION_MAX_LENGTH = 64;
/** OCI image reference including its `@sha256:` digest. */
export const IMAGE_REF_MAX_LENGTH = 512;
/** Concurrent request slots of one deployment, and of all a runner's deployments together. */
export const SLOTS_MAX = 256;
export const RUNNER_SLOTS_MAX = 1024;
/** Largest price per million tokens, ledger units: the nat64 maximum, so Candid `nat64` holds it. */
export const PRICE_MAX = 18_446_744_073_709_551_615n;
/**
 * Price bounds of a deployment, ledger units (e8s) per million tokens. 0 is allowed (a free runner; ranking treats
 * any price below an eighth of the median like an eighth of the median), and at most 10^14 (one million tokens of the
 * ledger per million tokens served), so that metered costs stay far inside nat64 and ranking's float ratios exact.
 */
export const PRICE_PER_MILLION_MIN = 0n;
export const PRICE_PER_MILLION_MAX = 100_000_000_000_000n;
/** Digits of a decimal-string price (`PRICE_MAX` has 20). */
export const PRICE_MAX_DIGITS = 20;

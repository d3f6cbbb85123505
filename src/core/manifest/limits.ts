/**
 * Every bound of the manifest standard, named once so that the canister, the CLI, the runner and the
 * docs quote the same numbers. Lengths count UTF-16 code units (JavaScript string length).
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
/** Memory of one accelerator, GiB (0 allowed: shares system memory). */
export const ACCELERATOR_MEMORY_GIB_MAX = 10_000;
/** Identical accelerators in one entry. */
export const ACCELERATOR_COUNT_MAX = 64;
/** Peak tera-operations per second of one accelerator. */
export const ACCELERATOR_PEAK_TOPS_MAX = 1_000_000;
/** Board power of one accelerator, watts. */
export const ACCELERATOR_WATTS_MAX = 100_000;
export const CPU_CORES_MAX = 4096;
/** System memory, GiB (must be > 0). */
export const RAM_GIB_MAX = 100_000;
export const DEPLOYMENTS_MIN = 1;
export const DEPLOYMENTS_MAX = 16;
export const ENGINE_VERSION_MAX_LENGTH = 64;
/** OCI image reference including its `@sha256:` digest. */
export const IMAGE_REF_MAX_LENGTH = 512;
/** Concurrent request slots of one deployment. */
export const SLOTS_MAX = 1024;
/** Largest price per million tokens, ledger units: the nat64 maximum, so Candid `nat64` holds it. */
export const PRICE_MAX = 18_446_744_073_709_551_615n;
/** Digits of a decimal-string price (`PRICE_MAX` has 20). */
export const PRICE_MAX_DIGITS = 20;

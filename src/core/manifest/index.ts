/**
 * The declarative manifest standard (`apiVersion: deai.dev/v1`), shared by the CLI, the runner and
 * the registry canister. Everything exported here is pure; text parsing (YAML/JSON) lives apart in
 * `./parse-text.ts` so the canister never bundles a YAML parser.
 */
export * from './limits.ts';
export * from './vocabulary.ts';
export { ManifestError, type ManifestErrorCode } from './errors.ts';
export { formatIssue, formatPath, manifestErrorMap, toManifestIssues, MAX_MANIFEST_ISSUES, type ManifestIssue } from './issues.ts';
export { AmountSchema, DigestSchema, ModelIdSchema } from './fields.ts';
export {
  ModelRefSchema,
  formatModelRef,
  modelCardRef,
  parseModelRef,
  safeParseModelRef,
  type ModelRef,
  type ModelRefResult
} from './model-ref.ts';
export { ModelCardSchema, type ModelCard, type ModelCardInput } from './model-card.ts';
export {
  RunnerManifestSchema,
  type Accelerator,
  type Deployment,
  type RunnerManifest,
  type RunnerManifestInput
} from './runner-manifest.ts';
export {
  ManifestSchema,
  safeValidateManifest,
  safeValidateModelCard,
  safeValidateRunnerManifest,
  validateManifest,
  validateModelCard,
  validateRunnerManifest,
  type Manifest,
  type ManifestResult
} from './validate.ts';
export { warmManifestValidators } from './warm.ts';

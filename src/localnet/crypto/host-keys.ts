import { bls12_381 } from '@noble/curves/bls12-381';
import { ed25519 } from '@noble/curves/ed25519';
import { getMinHashLength, mapHashToField } from '@noble/curves/abstract/modular';
import { bytesToHex, concatBytes, hexToBytes, randomBytes } from '@noble/hashes/utils';
import { Principal } from '@dfinity/principal';
import { z } from 'zod';
import { CodedError } from '../../core/errors/coded-error.js';

/**
 * The host's identity: the BLS root key that signs certificates (there is a single subnet and no
 * delegation, so the subnet id is derived from it — ic-host-spec §1) and one Ed25519 node key that
 * signs query responses (§6).
 */
export interface HostKeys {
  rootSecretKey: Uint8Array;
  /** 133 bytes: {@link BLS_ROOT_KEY_DER_PREFIX} ‖ 96-byte compressed G2 point. */
  rootKeyDer: Uint8Array;
  nodeSecretKey: Uint8Array;
  /** 44 bytes: {@link ED25519_DER_PREFIX} ‖ 32-byte key. */
  nodeKeyDer: Uint8Array;
  nodeId: Principal;
  /** `Principal.selfAuthenticating(rootKeyDer)`, which both clients derive when there is no delegation. */
  subnetId: Principal;
}

export const BLS_ROOT_KEY_DER_PREFIX = hexToBytes('308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100');
export const ED25519_DER_PREFIX = hexToBytes('302a300506032b6570032100');

export class HostKeysError extends CodedError<'HOST_KEYS_INVALID'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HOST_KEYS_INVALID', message, options);
    this.name = 'HostKeysError';
  }
}

/** Derives every public part from the two secret keys. Throws {@link HostKeysError} on a bad key. */
export function hostKeysFromSecrets(rootSecretKey: Uint8Array, nodeSecretKey: Uint8Array): HostKeys {
  let rootPublicKey: Uint8Array;
  let nodePublicKey: Uint8Array;
  try {
    rootPublicKey = bls12_381.shortSignatures.getPublicKey(rootSecretKey).toBytes(true);
    nodePublicKey = ed25519.getPublicKey(nodeSecretKey);
  } catch (error) {
    throw new HostKeysError(`invalid host secret key: ${String(error)}`, { cause: error });
  }
  const rootKeyDer = concatBytes(BLS_ROOT_KEY_DER_PREFIX, rootPublicKey);
  const nodeKeyDer = concatBytes(ED25519_DER_PREFIX, nodePublicKey);
  return {
    rootSecretKey: rootSecretKey.slice(),
    rootKeyDer,
    nodeSecretKey: nodeSecretKey.slice(),
    nodeKeyDer,
    nodeId: Principal.selfAuthenticating(nodeKeyDer),
    subnetId: Principal.selfAuthenticating(rootKeyDer)
  };
}

/** Fresh random host keys; `random` is injectable so tests can be deterministic. */
export function generateHostKeys(random: (length: number) => Uint8Array = randomBytes): HostKeys {
  const order = bls12_381.fields.Fr.ORDER;
  // Same derivation as noble's randomSecretKey: uniform in [1, r-1] from a slightly longer seed.
  const rootSecretKey = mapHashToField(random(getMinHashLength(order)), order);
  return hostKeysFromSecrets(rootSecretKey, random(32));
}

const hex = (bytes: number) =>
  z
    .string()
    .regex(/^[0-9a-f]*$/i, 'expected hex')
    .length(bytes * 2, `expected ${bytes} bytes of hex`);

const hostKeysFileSchema = z.object({
  version: z.literal(1),
  rootSecretKey: hex(32),
  nodeSecretKey: hex(32),
  rootKeyDer: hex(133).optional(),
  nodeKeyDer: hex(44).optional(),
  nodeId: z.string().optional(),
  subnetId: z.string().optional()
});

export type HostKeysFile = z.infer<typeof hostKeysFileSchema>;

/** JSON with hex secrets; public parts are included for humans and re-checked on parse. */
export function serializeHostKeys(keys: HostKeys): string {
  const file: HostKeysFile = {
    version: 1,
    rootSecretKey: bytesToHex(keys.rootSecretKey),
    nodeSecretKey: bytesToHex(keys.nodeSecretKey),
    rootKeyDer: bytesToHex(keys.rootKeyDer),
    nodeKeyDer: bytesToHex(keys.nodeKeyDer),
    nodeId: keys.nodeId.toText(),
    subnetId: keys.subnetId.toText()
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Parses {@link serializeHostKeys} output. Throws {@link HostKeysError}. */
export function parseHostKeys(text: string): HostKeys {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HostKeysError('host keys file is not valid JSON', { cause: error });
  }
  const parsed = hostKeysFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new HostKeysError(`invalid host keys file: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  const file = parsed.data;
  const keys = hostKeysFromSecrets(hexToBytes(file.rootSecretKey), hexToBytes(file.nodeSecretKey));
  const mismatch = [
    file.rootKeyDer !== undefined && file.rootKeyDer.toLowerCase() !== bytesToHex(keys.rootKeyDer) && 'rootKeyDer',
    file.nodeKeyDer !== undefined && file.nodeKeyDer.toLowerCase() !== bytesToHex(keys.nodeKeyDer) && 'nodeKeyDer',
    file.nodeId !== undefined && file.nodeId !== keys.nodeId.toText() && 'nodeId',
    file.subnetId !== undefined && file.subnetId !== keys.subnetId.toText() && 'subnetId'
  ].filter((name): name is string => typeof name === 'string');
  if (mismatch.length > 0) {
    throw new HostKeysError(`host keys file: ${mismatch.join(', ')} do not match the secret keys`);
  }
  return keys;
}

export type HostKeysParseResult = { ok: true; keys: HostKeys } | { ok: false; error: HostKeysError };

/** Like {@link parseHostKeys} but returns a result instead of throwing. */
export function safeParseHostKeys(text: string): HostKeysParseResult {
  try {
    return { ok: true, keys: parseHostKeys(text) };
  } catch (error) {
    if (error instanceof HostKeysError) return { ok: false, error };
    throw error;
  }
}

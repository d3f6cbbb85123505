import { prune, reconstruct, type HashTree } from '../certification/hash-tree.js';
import type { AsyncSigner } from '../certification/async-signer.js';
import { encodeCbor } from '../crypto/cbor.js';
import type { Engine, RoundSummary } from '../execution/engine.js';
import type { IngressRecord } from '../execution/messages.js';
import { addRequestStatus, addTime, finishTree, newTree } from './state-tree.js';

interface RoundCertificate {
  tree: HashTree;
  signature: Uint8Array;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * Signs certificates for finished ingress messages — at most one per execution round, as the IC does (fewer under
 * load) — and wakes the HTTP requests waiting for them. Each client gets a pruned copy revealing only its own
 * request.
 */
export class RoundCertifier {
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly pending: IngressRecord[] = [];
  private signing = false;
  signedCertificates = 0;

  constructor(
    private readonly engine: Engine,
    private readonly signer: AsyncSigner,
    private readonly onError: (error: unknown) => void,
    /** Resolves when every committed round is on disk; certificates wait for it (answers follow durability). */
    readonly durable: () => Promise<void> = () => Promise.resolve()
  ) {}

  /** Registers with the engine; call after the persistence listener so answers follow durability. */
  attach(): void {
    this.engine.onRound((summary) => this.certifyRound(summary));
  }

  /**
   * Queues the round's finished messages for certification. At most one signature is in flight: rounds that
   * finish meanwhile are certified together by the next one (their statuses are all part of the latest state), so
   * under load the signer never falls behind the rounds.
   */
  private certifyRound(summary: RoundSummary): void {
    if (summary.finalized.length === 0) return;
    this.pending.push(...summary.finalized);
    this.signNext();
  }

  private signNext(): void {
    if (this.signing || this.pending.length === 0) return;
    const records = this.pending.splice(0);
    const tree = newTree();
    addTime(tree, this.engine.wallNow());
    for (const record of records) addRequestStatus(tree, record);
    const hashTree = finishTree(tree);
    this.signing = true;
    Promise.all([this.signer.sign(reconstruct(hashTree)), this.durable()])
      .then(
        ([signature]) => {
          const certificate: RoundCertificate = { tree: hashTree, signature };
          this.signedCertificates++;
          for (const record of records) {
            record.certification = certificate;
            const waiting = this.waiters.get(record.requestIdHex);
            this.waiters.delete(record.requestIdHex);
            for (const wake of waiting ?? []) wake();
          }
        },
        // Clients still learn the outcome by polling read_state, which signs afresh.
        (error: unknown) => this.onError(error)
      )
      .finally(() => {
        this.signing = false;
        this.signNext();
      });
  }

  /** Resolves when the record is final and certified, or after `timeoutMs` (the caller then answers 202). */
  wait(record: IngressRecord, timeoutMs: number): Promise<boolean> {
    if (record.certification !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const list = this.waiters.get(record.requestIdHex) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.waiters.set(record.requestIdHex, list);
    });
  }

  /** The certificate blob for one request: the round's tree pruned to /time and /request_status/<id>. */
  certificateFor(record: IngressRecord): Uint8Array | undefined {
    const certificate = record.certification;
    if (!isRoundCertificate(certificate)) return undefined;
    const pruned = prune(certificate.tree, [[utf8('time')], [utf8('request_status'), record.requestId]]);
    return encodeCbor({ tree: pruned, signature: certificate.signature });
  }
}

function isRoundCertificate(value: unknown): value is RoundCertificate {
  return typeof value === 'object' && value !== null && 'tree' in value && 'signature' in value;
}

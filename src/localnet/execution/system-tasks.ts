import type { Canister } from './canister.js';
import type { Engine } from './engine.js';

const HEARTBEAT_INTERVAL_NS = 1_000_000_000n;

/** The global timer and heartbeat: system tasks the engine queues when canister time says they are due. */
export class SystemTasks {
  private lastHeartbeatNs = 0n;

  constructor(private readonly engine: Engine) {}

  /** Running, installed canisters whose global timer has passed. */
  due(): Canister[] {
    const now = this.engine.now();
    const due: Canister[] = [];
    for (const canister of this.engine.canisters.values()) {
      if (canister.status !== 'running' || canister.isEmpty) continue;
      if (canister.globalTimer !== 0n && canister.globalTimer <= now && canister.hasExport('canister_global_timer')) due.push(canister);
    }
    return due;
  }

  enqueueDue(): void {
    for (const canister of this.due()) {
      canister.globalTimer = 0n; // deactivated before it runs, as on the IC
      this.engine.markTouched(canister);
      this.engine.pushMessage({ kind: 'timer', canister });
    }
    const now = this.engine.now();
    if (now - this.lastHeartbeatNs >= HEARTBEAT_INTERVAL_NS) {
      this.lastHeartbeatNs = now;
      for (const canister of this.engine.canisters.values()) {
        if (canister.status === 'running' && canister.hasExport('canister_heartbeat'))
          this.engine.pushMessage({ kind: 'heartbeat', canister });
      }
    }
  }
}

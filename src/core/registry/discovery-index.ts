import type { StoredRunner } from './types.js';

/** Which runners serve which model id: discovery looks at the runners of one model, not at all runners. */
export class DiscoveryIndex {
  private readonly byModel = new Map<string, Set<string>>();
  private readonly all = new Set<string>();

  add(runner: StoredRunner): void {
    this.all.add(runner.id);
    for (const deployment of runner.manifest.deployments) {
      let set = this.byModel.get(deployment.model.id);
      if (set === undefined) {
        set = new Set();
        this.byModel.set(deployment.model.id, set);
      }
      set.add(runner.id);
    }
  }

  remove(runner: StoredRunner): void {
    this.all.delete(runner.id);
    for (const deployment of runner.manifest.deployments) {
      const set = this.byModel.get(deployment.model.id);
      set?.delete(runner.id);
      if (set?.size === 0) this.byModel.delete(deployment.model.id);
    }
  }

  /** Runner ids serving `modelId` (or every runner), sorted so results are deterministic. */
  runnersFor(modelId: string | undefined): string[] {
    const ids = modelId === undefined ? this.all : this.byModel.get(modelId) ?? new Set<string>();
    return [...ids].sort();
  }

  rebuild(runners: Iterable<[string, StoredRunner]>): void {
    this.byModel.clear();
    this.all.clear();
    for (const [, runner] of runners) this.add(runner);
  }
}

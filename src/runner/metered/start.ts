import { resolve } from 'node:path';

import type { RunnerCreditApi } from '../../core/credit/index.js';
import type { RunnerManifest } from '../../core/manifest/index.js';
import type { MeteredConfig } from '../config.js';
import { startMeteredServer, type MeteredModel } from './server.js';

export interface MeteredEndpoint {
  url: string;
  /** Posts the reconciled manifest's deployments (model ids, prices, served context): until then every model is unknown. */
  serve(manifest: RunnerManifest): void;
  /** One pass of settling alone (what its timer does every `settleCheckMs`); exposed for tests and shutdown. */
  settleNow(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the runner's metered endpoint from its `metered` config (before the manifest, which advertises its URL). */
export async function startMeteredEndpoint(
  config: MeteredConfig,
  deps: {
    runner: string;
    engineUrl: string;
    engineModel: string;
    projectDir: string;
    /** The registry's credit methods (IcCredit over the runner's registry actor). */
    credit: RunnerCreditApi;
    /** How often held receipts are checked for settling alone (default 30 s; 0: only by `settleNow`). */
    settleCheckMs?: number;
    log: (event: string, fields?: Record<string, unknown>) => void;
  }
): Promise<MeteredEndpoint> {
  const models: MeteredModel[] = [];
  const server = await startMeteredServer({
    runner: deps.runner,
    engineUrl: deps.engineUrl,
    engineModel: deps.engineModel,
    models,
    credit: deps.credit,
    ...(deps.settleCheckMs === undefined ? {} : { settleCheckMs: deps.settleCheckMs }),
    receiptsFile: resolve(deps.projectDir, config.receiptsFile),
    host: config.host,
    port: config.port,
    settleAfterMs: config.settleAfterSeconds * 1000,
    chargeAckMs: config.chargeAckSeconds * 1000,
    maxConnections: config.maxConnections,
    limits: { maxUnsignedE8s: BigInt(config.maxUnsignedE8s), maxUnsignedRequests: config.maxUnsignedRequests },
    log: deps.log
  });
  deps.log('metered-endpoint', { url: server.url });
  return {
    url: server.url,
    serve: (manifest) => {
      models.splice(
        0,
        models.length,
        ...manifest.deployments.map((d) => ({
          id: d.model.id,
          prices: { inputPerMillion: BigInt(d.price.inputPerMillion), outputPerMillion: BigInt(d.price.outputPerMillion) },
          servedContext: d.servedContext
        }))
      );
    },
    settleNow: () => server.settler.tick(),
    close: () => server.close()
  };
}

import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Actor } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registryIdlFactory } from '../../src/interface/registry/index.ts';
import { deployProject } from '../../src/cli/deploy-project.ts';
import type { Output } from '../../src/cli/output.ts';
import { DEV_TOKEN } from '../../src/ic/canister-args.ts';
import { ed25519Pem } from '../../src/ic/identity.ts';
import { Localnet } from '../../src/localnet/localnet.ts';
import { account, ledgerActor } from '../support/ledger.ts';
import { agentFor } from '../support/probe.ts';
import { registryActor } from '../support/registry.ts';
import type { TaskActor } from '../support/tasks.ts';

const root = join(import.meta.dirname, '..', '..');
const quiet: Output = { json: true, info: () => undefined, result: () => undefined };

/** A copy of this project's dfx.json and built Wasm, so that deploying records ids outside the checkout. */
function projectCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deai-root-project-'));
  cpSync(join(root, 'dfx.json'), join(dir, 'dfx.json'));
  for (const name of ['registry', 'ledger']) {
    mkdirSync(join(dir, '.azle', name), { recursive: true });
    cpSync(join(root, '.azle', name, `${name}.wasm`), join(dir, '.azle', name, `${name}.wasm`));
  }
  return dir;
}

describe('deploying this project (registry + ledger)', () => {
  let net: Localnet;
  let project: string;
  const deployer = Ed25519KeyIdentity.generate();

  beforeAll(async () => {
    net = await Localnet.start({ port: 0, stateDir: null });
    project = projectCopy();
    writeFileSync(join(project, 'deployer.pem'), ed25519Pem(deployer));
  });
  afterAll(async () => {
    await net.stop();
    rmSync(project, { recursive: true, force: true });
  });

  it('makes the registry the ledger minting account, funds the deployer, and keeps both on redeploy', async () => {
    const flags = { host: net.url, identity: join(project, 'deployer.pem'), build: false, json: true };
    const deployed = await deployProject(flags, quiet, project);
    const ids = Object.fromEntries(deployed.map((c) => [c.name, Principal.fromText(c.id)]));
    const registry = ids.registry;
    const ledgerId = ids.ledger;
    if (registry === undefined || ledgerId === undefined) throw new Error(`missing ids: ${JSON.stringify(deployed)}`);

    const agent = await agentFor(net.url, deployer);
    const ledger = ledgerActor(agent, ledgerId);
    const minting = await ledger.icrc1_minting_account();
    expect(minting[0]?.owner.toText()).toBe(registry.toText());
    expect(await ledger.icrc1_symbol()).toBe(DEV_TOKEN.symbol);
    expect(await ledger.icrc1_fee()).toBe(DEV_TOKEN.feeE8s);
    expect(await ledger.icrc1_balance_of(account(deployer.getPrincipal()))).toBe(DEV_TOKEN.deployerBalanceE8s);
    const tasks = await Actor.createActor<TaskActor>(registryIdlFactory, { agent, canisterId: registry }).get_task_config();
    expect(tasks.ledger[0]?.toText()).toBe(ledgerId.toText());
    const config = await registryActor(agent, registry).get_config();
    expect(config.admins.map((a) => a.toText())).toEqual([deployer.getPrincipal().toText()]);

    const again = await deployProject(flags, quiet, project);
    expect(again.map((c) => c.action)).toEqual(['unchanged', 'unchanged']);
    expect(await ledger.icrc1_balance_of(account(deployer.getPrincipal()))).toBe(DEV_TOKEN.deployerBalanceE8s);
  });
});

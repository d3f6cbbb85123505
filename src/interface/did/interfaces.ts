import type { CandidInterface } from '../candid.js';
import { ledgerInterface } from '../ledger/index.js';
import { managementInterface } from '../management/index.js';
import { registryInterface } from '../registry/index.js';
import { renderDid } from './render.js';

/** Every interface with a committed .did, by its path from the repository root. */
export const DID_FILES: Array<{ path: string; source: string; iface: () => CandidInterface }> = [
  { path: 'src/interface/registry/registry.did', source: 'src/interface/registry', iface: registryInterface },
  { path: 'src/interface/ledger/ledger.did', source: 'src/interface/ledger', iface: ledgerInterface },
  { path: 'src/interface/management/management.did', source: 'src/interface/management', iface: managementInterface }
];

/** The text of a committed .did: the interface's IDL with its named types. */
export const didText = (file: (typeof DID_FILES)[number]): string =>
  renderDid(file.iface(), `Generated from ${file.source} by scripts/generate-did.ts (npm run generate:did): do not edit.`);

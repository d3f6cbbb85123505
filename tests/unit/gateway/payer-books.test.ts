import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ed25519KeyIdentity } from '@dfinity/identity';
import { describe, expect, it } from 'vitest';

import { describePayer, openGatewayPayer } from '../../../src/gateway/payer.js';
import { filePayerStore } from '../../../src/sdk/paid/file-store.js';
import { PayerClient } from '../../../src/sdk/paid/payer.js';
import { MemoryCredit } from '../../support/credit.js';

describe('the gateway payer’s books', () => {
  it('books of another network are kept aside, never used or overwritten, and the gateway says so', async () => {
    const identity = Ed25519KeyIdentity.generate();
    const payerId = identity.getPrincipal().toText();
    const credit = new MemoryCredit();
    await credit.payer(payerId).depositCredit(50_000_000n);
    const file = join(mkdtempSync(join(tmpdir(), 'deai-books-')), 'gateway-payer.json');
    const line = { lineId: '7', runner: 'aaaaa-aa', seq: '3', owedE8s: '900', inputTokens: '1', outputTokens: '1', requests: '3' };
    const old = {
      version: 1,
      payer: payerId,
      network: 'old-net',
      overReporting: [],
      lines: [{ ...line, settledSeq: '0', reservedE8s: '1000', unsentCovers: [] }]
    };
    writeFileSync(file, JSON.stringify(old));
    const open = async (network: string) => {
      const payer = await PayerClient.open({
        identity,
        credit: credit.payer(payerId),
        store: filePayerStore(file),
        settleEveryMs: 0,
        network
      });
      const client = { payer, depositCredit: async () => credit.account(payerId), creditAccount: async () => credit.account(payerId) };
      return openGatewayPayer(client, { booksFile: file });
    };
    const same = await open('old-net');
    expect(same.payer.lineOf('aaaaa-aa')).toMatchObject({ lineId: 7n, seq: 3n });
    expect(describePayer(same)).not.toMatch(/another network/);

    const fresh = await open('new-net');
    expect(fresh.payer.lineOf('aaaaa-aa')).toBeUndefined();
    expect(fresh.booksSetAside).toBe(`${file}.old-net.json`);
    expect(describePayer(fresh)).toMatch(/another network \(old-net\): starting fresh books .* kept as .*old-net\.json/);
    expect(JSON.parse(readFileSync(`${file}.old-net.json`, 'utf8'))).toEqual(old);
    expect(existsSync(file)).toBe(true);
  });
});

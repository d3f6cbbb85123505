import { readFileSync } from 'node:fs';
import binaryen from 'binaryen';
import { FunctionMeterer } from './src/localnet/wasm/instrument-metering.ts';
import { raw } from './src/localnet/wasm/instrument-binaryen.ts';
const wasm = readFileSync('tests/fixtures/.azle/probe/probe.wasm');
const mode = process.argv[2];
for (let k = 0; k < 3; k++) {
  const m = binaryen.readBinary(wasm);
  m.setFeatures(binaryen.Features.All);
  m.addGlobal('c', binaryen.i64, true, m.i64.const(0, 0));
  m.addGlobal('l', binaryen.i64, true, m.i64.const(0, 0));
  m.addFunctionImport('oom', 'x', 'y', binaryen.none, binaryen.none);
  const mm = new FunctionMeterer(m, { counter: 'c', limit: 'l', outOfInstructions: 'oom', chargeBytes: 'cb' });
  if (mode === 'noinject') Reflect.set(mm, 'inject', () => 0);
  let n = 0;
  try {
    for (let i = 0; i < m.getNumFunctions(); i++) { const f = m.getFunctionByIndex(i); if (raw.functionGetBody(f) !== 0) { mm.meter(f); n++; } }
    console.log(k, 'ok', n, mode !== 'noinject' ? 'valid=' + m.validate() : '');
  } catch (e) { console.log(k, 'fail at', n, String(e).slice(0, 200)); }
  m.dispose();
}

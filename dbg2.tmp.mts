import { readFileSync } from 'node:fs';
import binaryen from 'binaryen';
const wasm = readFileSync('tests/fixtures/.azle/probe/probe.wasm');
const mode = process.argv[2];
for (let k = 0; k < 4; k++) {
  const m = binaryen.readBinary(wasm);
  m.setFeatures(binaryen.Features.All);
  m.addGlobal('c', binaryen.i64, true, m.i64.const(0, 0));
  try {
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = m.getFunctionByIndex(i);
      const body = binaryen._BinaryenFunctionGetBody(f);
      if (body === 0) continue;
      for (let j = 0; j < 20; j++) {
        const e = m.i64.const(5, 0);
        if (mode === 'create') continue;
      }
    }
    console.log(k, 'ok');
  } catch (e) { console.log(k, 'fail', String(e).slice(0, 200)); }
  if (mode !== 'nodispose') m.dispose();
}

/** Unsigned LEB128, as the Wasm binary format encodes sizes. */
function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/**
 * Appends a custom section (id 0) to a Wasm module — how `icp:public candid:service` metadata is attached
 * (custom sections may appear anywhere after the header, and the IC reads them by name).
 */
export function addCustomSection(wasm: Uint8Array, name: string, content: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const payload = [...uleb(nameBytes.length), ...nameBytes];
  const size = payload.length + content.length;
  const header = Uint8Array.from([0, ...uleb(size), ...payload]);
  const out = new Uint8Array(wasm.length + header.length + content.length);
  out.set(wasm, 0);
  out.set(header, wasm.length);
  out.set(content, wasm.length + header.length);
  return out;
}

/**
 * Review 7, finding: `startPassThrough().stop()` (tests/bench/gateway-paths.ts) hangs forever when the hop already
 * ended by a signal. It returns early only on `child.exitCode !== null`; a process killed by a signal (the OOM killer
 * on a small bench machine, a crash, a stray SIGTERM) has `exitCode === null` and `signalCode` set, so stop() calls
 * `kill()` (a no-op) and then waits for an 'exit' event that was emitted long ago. bench:gateway awaits its stops in
 * `finally` before `llama.stop()` and `net.stop()`, so llama-server is never stopped and the bench never ends.
 * (spawnGateway's stop() does it right: it awaits an `exited` promise made at spawn.)
 */
import { describe, expect, it } from 'vitest';

import { startPassThrough } from '../../bench/gateway-paths.ts';

describe('review 7: a pass-through hop that died by a signal', () => {
  it('stop() resolves', async () => {
    const hop = await startPassThrough('http://127.0.0.1:9');
    process.kill(hop.pid!, 'SIGKILL'); // the OOM killer, say
    await new Promise((resolve) => setTimeout(resolve, 500)); // its 'exit' has been emitted by now
    const outcome = await Promise.race([
      hop.stop().then(() => 'stopped'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3_000))
    ]);
    expect(outcome).toBe('stopped'); // FAILS: 'still waiting after 3 s' (forever)
  });
});

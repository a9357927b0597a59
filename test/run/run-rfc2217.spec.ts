/**
 * `hilt run` over RFC 2217, end to end: the emulated board behind the emulator's RFC 2217 server,
 * and hilt's run reaching it through an rfc2217:// target, as a board on another machine would be.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { openStreamBoard, serveRfc2217, type UartPeer } from '../../emulator/index.ts';
import { REPO, hilt, latestResults, tempDir } from '../helpers.ts';

const HAPPY = join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts');

describe('hilt run over rfc2217', function () {
  this.timeout(60_000);

  it('runs a scenario on a board behind an RFC 2217 server and names the target in the report', async function () {
    const { dir, remove } = await tempDir('hilt-run-rfc2217-');
    const board = openStreamBoard({ index: 21 });
    const peer: UartPeer = {
      input: (bytes) => { board.stream.write(bytes); },
      onOutput: (cb) => { board.stream.on('data', cb); },
      setLines: () => undefined,
      setBaudRate: () => undefined,
    };
    const served = await serveRfc2217({ peer });
    try {
      const target = `rfc2217://127.0.0.1:${served.port}`;
      const { code, stdout, stderr } = await hilt(['run', HAPPY, '--target', target], { cwd: dir, timeoutMs: 30_000 });
      expect(code, stdout + stderr).to.equal(0);
      expect(stdout).to.include('1 passed, 0 failed, 0 errors, 0 skipped');
      const r = await latestResults(dir);
      expect(r.run).to.include({ target, infrastructureError: null });
      expect(r.run.firmware).to.include({ project: 'hilt_test_agent' });
    } finally {
      await served.close();
      await board.close();
      await remove();
    }
  });
});

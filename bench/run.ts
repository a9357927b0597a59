/** Runs the named benchmarks (default: all). Not part of `npm test`. */
import { benchBoards } from './boards.ts';
import { benchEmulator } from './emulator.ts';
import { benchEndpointAttempt } from './endpoint-attempt.ts';
import { benchFirmware } from './firmware.ts';
import { benchFlash } from './flash.ts';
import { benchFlood } from './flood.ts';
import { benchHeap } from './heap.ts';
import { benchLab } from './lab.ts';
import { benchNative } from './native.ts';
import { benchReport } from './report.ts';
import { benchStartup } from './startup.ts';
import { benchWave } from './wave.ts';

const BENCHES: Record<string, () => Promise<void>> = { lab: benchLab, emulator: benchEmulator, wave: benchWave, flood: benchFlood, endpoint: benchEndpointAttempt, firmware: benchFirmware, flash: benchFlash, heap: benchHeap, native: benchNative, startup: benchStartup, boards: benchBoards, report: benchReport };

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`unknown bench ${JSON.stringify(name)}: choose from ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  await bench();
}

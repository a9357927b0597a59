import { servePty } from '../../emulator/index.ts';
import { SerialTransport } from '../../harness/transport/index.ts';
let fails = 0;
for (let i = 0; i < 15; i++) {
  const served = await servePty({ index: 20 + i });
  const t = new SerialTransport({ path: served.path });
  let text = '';
  t.on('data', (c) => { text += c; });
  const closed = new Promise((r) => t.once('close', r));
  await t.open();
  await t.write('@hil 1 hello\n');
  while (!/@hil 1 ok/.test(text)) await new Promise((r) => setTimeout(r, 10));
  await served.close();
  const r = await Promise.race([closed, new Promise((r) => setTimeout(() => r('TIMEOUT'), 3000))]);
  if (r === 'TIMEOUT') { fails++; console.log(i, 'timeout', (t as any).port?.isOpen, (t as any).port?.readableEnded); }
  await t.close();
}
console.log('fails', fails);

import { KINDS } from './peers.ts';
const kind = KINDS.find((k) => k.kind === 'serial')!;
let fails = 0;
for (let i = 0; i < 20; i++) {
  const rig = await kind.echo();
  const t = rig.transport;
  let text = '';
  t.on('data', (c) => { text += c; });
  const closed = new Promise((r) => t.once('close', r));
  await t.open();
  await t.write('ping\n');
  while (!/ping/.test(text)) await new Promise((r) => setTimeout(r, 10));
  await rig.vanish();
  const r = await Promise.race([closed, new Promise((r) => setTimeout(() => r('TIMEOUT'), 3000))]);
  if (r === 'TIMEOUT') { fails++; const p = (t as any).port; console.log(i, 'timeout', p?.isOpen, p?.readableEnded, p?.readableFlowing, p?.destroyed); }
  await t.close();
  await rig.release();
}
console.log('fails', fails);

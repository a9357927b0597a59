/**
 * decide(): a scenario's wait and verdict. The context here stands in for FirmwareContext with
 * its documented behaviour (until() resolves from the records, or rejects at its bound with
 * "<what>: not seen within N ms (...)"; other errors are the device's or the bench's).
 */
import { AssertionError, expect } from 'chai';
import type { Attempt } from '../../harness/firmware/records.ts';
import { decide, waitFor, type JudgingContext } from '../../harness/firmware/decide.ts';
import type { Judgement } from '../../harness/firmware/verdicts.ts';
import { rejection } from '../helpers.ts';

const attempt = { id: 1, listener: 'endpoint', port: 8883, peer: { address: '127.0.0.1', port: 1 }, startedAt: new Date().toISOString(), tls: null, mqtt: null, bytesReceived: 0, bytesSent: 0, closed: null } as Attempt;

/** A context whose until() checks the records once and otherwise fails as `failure` says. */
function context(records: Attempt[], failure: () => Error = () => new Error('x: not seen within 100 ms (1 attempt on the endpoint)')) {
  const said = { notes: [] as string[], warnings: [] as string[] };
  const ctx: JudgingContext = {
    bound: 100,
    attempts: () => records,
    until: async (_what, check) => {
      const found = check(records);
      if (found !== undefined) return found;
      throw failure();
    },
    warn: (t) => said.warnings.push(t),
    note: (t) => said.notes.push(t),
  };
  return { ctx, said };
}

const judge = (verdict: Judgement['verdict'] | undefined, atTheEnd?: Judgement) => (_as: Attempt[], final: boolean): Judgement | undefined =>
  (final ? atTheEnd : verdict && { verdict, reason: `it did ${verdict}` });

describe('decide', () => {
  it('a pass is a note, a warning a warning, a failure an assertion failure with the reason', async () => {
    const { ctx, said } = context([attempt]);
    await decide(ctx, 'x', judge('pass'));
    await decide(ctx, 'x', judge('warn'));
    expect(said).to.deep.equal({ notes: ['it did pass'], warnings: ['it did warn'] });
    const err = await rejection(decide(ctx, 'x', judge('fail')));
    expect(err).to.be.instanceOf(AssertionError);
    expect(err.message).to.equal('it did fail');
  });

  it('when the bound ends, judges what came with final set', async () => {
    const { ctx } = context([attempt]);
    const err = await rejection(decide(ctx, 'x', judge(undefined, { verdict: 'fail', reason: 'never resent id 7' })));
    expect(err.message).to.equal('never resent id 7');
  });

  it('a final judgement that still cannot decide fails, naming the wait', async () => {
    const { ctx } = context([attempt]);
    expect((await rejection(decide(ctx, 'a PUBACK', judge(undefined)))).message).to.equal('no decision: a PUBACK did not happen within 100 ms');
  });

  it('no attempt at all, a panic or a lost device is not a verdict: the error stands', async () => {
    const none = context([]);
    const noAttempt = new Error('the device made no connection attempt to the endpoint within 100 ms: it was told to use mqtts://127.0.0.1:8883');
    expect(await rejection(decide({ ...none.ctx, until: async () => { throw noAttempt; } }, 'x', judge(undefined)))).to.equal(noAttempt);
    class PanicError extends Error {}
    const panic = new PanicError('Guru Meditation Error: Core 0 panic\'ed (LoadProhibited)');
    expect(await rejection(waitFor(context([attempt], () => panic).ctx, 'x', () => undefined))).to.equal(panic);
    const gone = new Error('emulator went away while waiting for x');
    expect(await rejection(waitFor(context([attempt], () => gone).ctx, 'x', () => undefined))).to.equal(gone);
  });
});

/** The firmware catalogue's verdict rules: what scenarios/firmware/ uses through harness/index.ts. */
export { classifyBackoff, formatIntervals, BackoffInputError } from './backoff.ts';
export type { BackoffClass, BackoffResult } from './backoff.ts';
export {
  acknowledgedSubscription, closeMs, judgeBackoff, judgeCipherSuites, judgeDelivery, judgeExpiredSession, judgeHandshake, judgeKeepalive, judgeWeakSuites,
  judgePublishRetry, judgeReconnectWait, judgeRefusal, judgeResumedSession, judgeSubscribe, judgeSubscribeRetry,
  keepaliveDeadline, packetMs, packetsOf, reconnectIntervals, sentConnect, sessions, startMs, suiteClass,
} from './verdicts.ts';
export type { Judgement, SuiteClass, Verdict } from './verdicts.ts';
export { conclude, decide, waitFor } from './decide.ts';
export type { JudgingContext } from './decide.ts';

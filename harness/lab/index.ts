export { startLab } from './broker.ts';
export type { Lab, LabOptions, Listener } from './broker.ts';
export { Attempts, AttemptTimeoutError } from './attempts.ts';
export type { Attempt, ClientCertificate, CloseRecord, MqttRecord, NextOptions, TlsOutcome, TlsRecord } from './attempts.ts';
export { PROFILES, profileNames } from './profiles.ts';
export type { ListenerKind, ListenerProfile } from './profiles.ts';
export { checkIdentity, topicAllowed } from './policy.ts';

export { BASE_HOSTS, BUNDLES, CERTIFICATES, DEFAULT_DEVICE_ID, DEVICE_ID, WRONG_HOST } from './catalog.ts';
export type { BundleSpec, CertSpec } from './catalog.ts';
export { ensurePki, LOCK_FILE, MANIFEST_SCHEMA, warningsOf } from './ensure.ts';
export { fingerprint } from './issue.ts';
export type { Artifact, BundleArtifact, CertArtifact, Change, EnsureOptions, Manifest, Pki } from './ensure.ts';

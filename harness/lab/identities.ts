/**
 * The identity rule with what a running broker knows (policy.ts has the rule itself): which ids
 * belong to a certificate of the lab PKI, and which a certificate has proved since the broker
 * started. Shared by the lab's broker and the firmware endpoint, so a client without a certificate
 * takes a device's id over on neither.
 */
import { X509Certificate } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { DEVICE_ID, type Pki } from '../pki/index.ts';
import { checkIdentity, type Refusal } from './policy.ts';

/** CN of a certificate, or null. */
function commonName(cert: X509Certificate): string | null {
  return cert.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? null;
}

/**
 * The device identities of a lab PKI: every client certificate's CN as the lab started, and any
 * device minted since (`hilt certs device <id>`, or a run minting its device after the lab came
 * up), looked up on disk when a client without a certificate asks for such an id.
 */
function pkiIdentities(pki: Pki): (id: string) => Promise<boolean> {
  const known = new Set<string>();
  for (const a of pki.manifest.artifacts) {
    if (a.kind !== 'client') continue;
    const cn = commonName(new X509Certificate(pki.material(a.name).cert));
    if (cn) known.add(cn);
  }
  return async (id) => {
    if (known.has(id)) return true;
    if (!DEVICE_ID.test(id)) return false; // no file of that name can exist (and no path tricks)
    return access(join(pki.dir, 'device', `${id}.crt`)).then(() => true, () => false);
  };
}

/**
 * Judges a CONNECT's client id: `certificateCn` is the connection's proved CN (null without a
 * certificate), `heldBy` where a connection that proved this id holds it now, or null.
 */
export type IdentityJudge = (clientId: string, certificateCn: string | null, heldBy: string | null) => Promise<Refusal | null>;

export function identityJudge(pki: Pki): IdentityJudge {
  const inPki = pkiIdentities(pki);
  /** Ids a certificate has proved here: they stay the certificate's, connected or not. */
  const certifiedIds = new Set<string>();
  return async (clientId, certificateCn, heldBy) => {
    const certified = certificateCn === null && (certifiedIds.has(clientId) || await inPki(clientId));
    const refusal = checkIdentity(clientId, { certificateCn, heldBy, certified });
    if (!refusal && certificateCn !== null) certifiedIds.add(certificateCn);
    return refusal;
  };
}

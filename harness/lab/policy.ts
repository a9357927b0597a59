/**
 * Who a device is and what it may touch. A device's identity is the CN of its client certificate;
 * it must connect with that as its MQTT client id, and may use only topics under devices/<id>/.
 *
 * Every listener feeds one broker, so the listeners without client certificates (plain,
 * no-client-auth) must not become a way around identity: a client there may not use an id that
 * belongs to a certificate, nor one that would widen devices/<id>/ to other devices' topics.
 */

/** MQTT CONNACK return codes (3.1.1) the lab sends. */
export const Connack = { accepted: 0, identifierRejected: 2, notAuthorized: 5 } as const;

export interface Refusal {
  connack: number;
  reason: string;
}

/**
 * Why a client id can never be used, on any listener, or null. The id becomes the topic level of
 * devices/<id>/: a wildcard there (`+`, `#`) would let a filter cover every device, a `/` would
 * reach into another device's levels, and an empty id would name no device at all. Control
 * characters would forge lines in the attempt log.
 */
export function invalidClientId(clientId: string): string | null {
  if (clientId === '') return 'empty client id refused: the lab names each device by its client id: give one';
  if (/[+#/\u0000-\u001f\u007f]/.test(clientId)) {
    return `client id ${JSON.stringify(clientId)} refused: wildcards (+ #), '/' and control characters are never part of a client id (it is the topic level devices/<id>/)`;
  }
  return null;
}

export interface IdentityFacts {
  /** CN of the accepted client certificate; null on a listener that asks for none. */
  certificateCn: string | null;
  /** Where a connection that proved this id with its certificate holds it now ("attempt 3 on good"), or null. */
  heldBy: string | null;
  /** Whether the id is a device identity of the lab PKI, or one a certificate has used in this lab. */
  certified: boolean;
}

/**
 * Whether a CONNECT may proceed. With a client certificate the client id must equal its CN.
 * Without one, any valid id that belongs to no certificate: a device's identity, and so its
 * topics, are reachable only with its certificate, and a client without it never takes over the
 * device's session.
 */
export function checkIdentity(clientId: string, facts: IdentityFacts): Refusal | null {
  const invalid = invalidClientId(clientId);
  if (invalid) return { connack: Connack.identifierRejected, reason: invalid };
  const id = JSON.stringify(clientId);
  if (facts.certificateCn !== null) {
    return facts.certificateCn === clientId ? null
      : { connack: Connack.notAuthorized, reason: `client id ${id} is not the certificate CN ${JSON.stringify(facts.certificateCn)}` };
  }
  if (facts.heldBy) {
    return { connack: Connack.notAuthorized, reason: `client id ${id} is held with its certificate (${facts.heldBy}): a client without that certificate cannot take it over` };
  }
  if (facts.certified) {
    return { connack: Connack.notAuthorized, reason: `client id ${id} is a device identity of the lab PKI: only its certificate may use it (on an mTLS listener); choose another client id here` };
  }
  return null;
}

/** True when `topic` (a name or a filter) stays inside devices/<id>/ of a valid client id. */
export function topicAllowed(clientId: string, topic: string): boolean {
  if (invalidClientId(clientId)) return false;
  const own = `devices/${clientId}`;
  return topic === own || topic.startsWith(`${own}/`);
}

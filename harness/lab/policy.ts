/**
 * Who a device is and what it may touch. A device's identity is the CN of its client certificate;
 * it must connect with that as its MQTT client id, and may use only topics under devices/<id>/.
 */

/** MQTT CONNACK return codes (3.1.1) the lab sends. */
export const Connack = { accepted: 0, notAuthorized: 5 } as const;

/**
 * Whether a CONNECT may proceed: with a client certificate, the client id must equal its CN.
 * Listeners without client certificates (no-client-auth, plain) take the client id as given.
 */
export function checkIdentity(certificateCn: string | null, clientId: string): string | null {
  if (certificateCn === null) return null;
  return certificateCn === clientId ? null : `client id ${JSON.stringify(clientId)} is not the certificate CN ${JSON.stringify(certificateCn)}`;
}

/** True when `topic` (a name or a filter) stays inside devices/<id>/. */
export function topicAllowed(clientId: string, topic: string): boolean {
  const own = `devices/${clientId}`;
  return topic === own || topic.startsWith(`${own}/`);
}

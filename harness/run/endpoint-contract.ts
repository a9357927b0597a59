/** The lab's endpoint as the firmware runner uses it. */
import type { Endpoint, Lab } from '../lab/index.ts';

export type { Attempt, Endpoint, EndpointBehaviour, EndpointMaterials, EndpointMqtt, EndpointTls } from '../lab/index.ts';

/** The lab's endpoint, null when the lab was started without one. */
export function endpointOf(lab: Lab): Endpoint | null {
  return lab.endpoint;
}

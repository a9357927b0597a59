/** The endpoint's records as the verdicts read them: the lab's own types (contract A of issue 8). */
export type { Attempt, ClientHelloRecord, PacketRecord } from '../lab/index.ts';

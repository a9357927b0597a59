/**
 * MQTT on the endpoint's wire: packets cut out of a byte stream by their fixed header (so each one
 * can be recorded, held back or answered before the broker or the device sees it), decoded with
 * mqtt-packet into the attempt's PacketRecords, and a pair of connected in-memory streams that
 * puts the endpoint's filter between a device's TLS socket and aedes (Node 20 has no
 * stream.duplexPair).
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Duplex } from 'node:stream';
import type { PacketRecord } from './attempts.ts';

/** The largest packet the endpoint frames: room for the 128 KB payloads and then some. */
export const MAX_PACKET_BYTES = 1024 * 1024;

/**
 * Cuts whole MQTT packets out of a byte stream. `push()` returns the packets completed by the
 * chunk; it throws with a one-line reason on a malformed remaining length or an oversized packet
 * (the stream cannot be followed after that).
 */
export class MqttFramer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes = MAX_PACKET_BYTES) {}

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Buffer[] = [];
    for (;;) {
      const size = this.frameSize();
      if (size === null || this.pending.length < size) break;
      frames.push(this.pending.subarray(0, size));
      this.pending = this.pending.subarray(size);
    }
    return frames;
  }

  /** Total size of the packet at the head of the buffer, or null until its header is complete. */
  private frameSize(): number | null {
    let remaining = 0;
    for (let i = 1; i <= 4; i++) {
      if (this.pending.length <= i) return null;
      const byte = this.pending[i]!;
      remaining += (byte & 0x7f) * 128 ** (i - 1);
      if ((byte & 0x80) === 0) {
        const size = 1 + i + remaining;
        if (size > this.maxBytes) throw new Error(`MQTT packet of ${size} bytes is over the endpoint's limit of ${this.maxBytes}`);
        return size;
      }
    }
    throw new Error('malformed MQTT remaining length (more than 4 bytes)');
  }
}

/**
 * Decodes one whole packet. The protocol version matters after CONNECT (MQTT 5 adds properties);
 * one decoder per direction and connection keeps it. Throws with mqtt-packet's reason.
 */
export class MqttDecoder {
  private parser: ReturnType<typeof mqttPacket.parser>;
  private version: number;
  private packet: Packet | null = null;
  private error: Error | null = null;

  constructor(protocolVersion = 4) {
    this.version = protocolVersion;
    this.parser = this.make(protocolVersion);
  }

  set protocolVersion(v: number) {
    this.version = v;
    this.parser = this.make(v);
  }

  decode(frame: Buffer): Packet {
    this.packet = null;
    this.error = null;
    this.parser.parse(frame);
    const packet = this.packet as Packet | null;
    const error = this.error as Error | null;
    if (error) {
      // A parser that failed may hold half a packet: start the next one clean.
      this.parser = this.make(this.version);
      throw error;
    }
    if (!packet) throw new Error('not a whole MQTT packet');
    if (packet.cmd === 'connect' && packet.protocolVersion) this.protocolVersion = packet.protocolVersion;
    return packet;
  }

  /** One parser per direction, fed whole packets only, so it never holds a partial one between calls. */
  private make(protocolVersion: number): ReturnType<typeof mqttPacket.parser> {
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (p: Packet) => { this.packet ??= p; });
    parser.on('error', (e: Error) => { this.error ??= e; });
    return parser;
  }
}

/** What the attempt keeps of a packet (no payloads: their size is in `bytes`). */
export function packetRecord(packet: Packet, dir: PacketRecord['dir'], atMs: number, bytes: number): PacketRecord {
  const record: PacketRecord = { dir, atMs, type: packet.cmd, bytes };
  if (packet.messageId !== undefined) record.id = packet.messageId;
  switch (packet.cmd) {
    case 'connect':
      Object.assign(record, { clientId: packet.clientId, keepalive: packet.keepalive ?? 0, clean: packet.clean !== false });
      break;
    case 'connack':
      Object.assign(record, { returnCode: packet.returnCode ?? packet.reasonCode ?? 0, sessionPresent: packet.sessionPresent === true });
      break;
    case 'publish':
      Object.assign(record, { qos: packet.qos, dup: packet.dup === true, retain: packet.retain === true, topic: packet.topic });
      break;
    case 'subscribe':
      record.topics = packet.subscriptions.map((s) => s.topic);
      break;
    case 'unsubscribe':
      record.topics = [...packet.unsubscriptions];
      break;
    default:
      break;
  }
  return record;
}

export function encodePacket(packet: Packet, protocolVersion = 4): Buffer {
  return mqttPacket.generate(packet, { protocolVersion });
}

/**
 * Two connected streams: what is written to one is read from the other. Ending one ends the
 * other's readable side; destroying one ends the other too (after what was already written to
 * it has been read: a broker that writes a refusal and then destroys its stream must still have
 * the refusal delivered).
 */
export function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const ended = [false, false];
  const endOf = (i: number) => {
    if (ended[i]) return;
    ended[i] = true;
    sides[i]!.push(null);
  };
  const make = (other: number) => new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (!ended[other]) sides[other]!.push(chunk);
      callback();
    },
    final(callback) {
      endOf(other);
      callback();
    },
    destroy(err, callback) {
      endOf(other);
      callback(err);
    },
  });
  sides.push(make(1), make(0));
  return [sides[0]!, sides[1]!];
}

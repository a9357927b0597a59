/**
 * How long an ESP32 spends on the cryptography of one handshake. Network time is measured on
 * the wire; this adds what the chip would compute. Costs are for an ESP32 at 240 MHz with
 * ESP-IDF's defaults: AES, SHA and big-number (MPI) hardware on, elliptic curves in software
 * (the ESP32 has no ECC accelerator).
 *
 * Yardsticks (ESP32-FACTS.md section 7 and public Mbed TLS benchmarks): RSA-2048 public op
 * < 19 ms and private op < 750 ms with the MPI accelerator (ESP-IDF CI limits); Mbed TLS's own
 * benchmark on a 120 MHz Cortex-M4 gives ~590 ms per P-256 ECDSA verify and ~570 ms per ECDHE;
 * the ESP32's LX6 at 240 MHz is taken as about 2x faster per op. Full mutual-TLS handshakes on
 * an ESP32 are reported at 0.8-2 s; the EC case below lands at about 1.2 s of crypto.
 */

/** Milliseconds per operation at 240 MHz. */
export const CRYPTO_MS = {
  ecdsaP256Verify: 280,
  ecdsaP256Sign: 110,
  /** ECDHE on P-256: ephemeral key generation plus the shared secret. */
  ecdheP256: 230,
  /** RSA public operation (verify) per 2048 bits, MPI accelerator; scales with the square of the size. */
  rsa2048Public: 12,
  /** RSA private operation (sign) with a 2048-bit key, MPI accelerator, CRT. */
  rsa2048Private: 450,
  /** Parsing one certificate (ASN.1, names, extensions). */
  parseCertificate: 2,
  /** Symmetric work (hashing the transcript, record encryption) per KiB, AES/SHA hardware. */
  symmetricPerKiB: 0.05,
} as const;

/** How much slower without the hardware block for it (software Mbed TLS on the LX6). */
const SOFTWARE_FACTOR = { mpi: 4, aesSha: 8 } as const;

export interface PublicKeyShape {
  type: 'ec-p256' | 'ec-p384' | 'rsa' | 'other';
  bits?: number;
}

export interface HandshakeCrypto {
  /** The key of each issuer whose signature the device checks, one per verified certificate. */
  chainSignatures: PublicKeyShape[];
  /** The server's leaf key, which signs the key exchange (TLS 1.2) or CertificateVerify (1.3). */
  serverKey: PublicKeyShape | null;
  /** Ephemeral (EC)DHE key exchange happens. */
  ecdhe: boolean;
  /** The device signs with this key (mutual TLS). */
  clientKey: PublicKeyShape | null;
  /** Certificates parsed during the handshake. */
  certificates: number;
  /** Handshake bytes hashed and (partly) encrypted. */
  bytes: number;
}

export interface ChipShape {
  cpuMhz: number;
  hardware: { aes: boolean; sha: boolean; mpi: boolean };
}

function verifyMs(key: PublicKeyShape, chip: ChipShape): number {
  if (key.type === 'rsa') {
    const scale = ((key.bits ?? 2048) / 2048) ** 2;
    return CRYPTO_MS.rsa2048Public * scale * (chip.hardware.mpi ? 1 : SOFTWARE_FACTOR.mpi);
  }
  return key.type === 'ec-p384' ? CRYPTO_MS.ecdsaP256Verify * 2.2 : CRYPTO_MS.ecdsaP256Verify;
}

function signMs(key: PublicKeyShape, chip: ChipShape): number {
  if (key.type === 'rsa') {
    const scale = ((key.bits ?? 2048) / 2048) ** 3;
    return CRYPTO_MS.rsa2048Private * scale * (chip.hardware.mpi ? 1 : SOFTWARE_FACTOR.mpi);
  }
  return key.type === 'ec-p384' ? CRYPTO_MS.ecdsaP256Sign * 2.2 : CRYPTO_MS.ecdsaP256Sign;
}

/** Modelled device-side crypto time of one handshake, in milliseconds, with its parts. */
export function handshakeCryptoMs(h: HandshakeCrypto, chip: ChipShape): { total: number; parts: Record<string, number> } {
  const clock = 240 / chip.cpuMhz;
  const symmetric = (h.bytes / 1024) * CRYPTO_MS.symmetricPerKiB * (chip.hardware.aes && chip.hardware.sha ? 1 : SOFTWARE_FACTOR.aesSha);
  const parts: Record<string, number> = {
    parse: h.certificates * CRYPTO_MS.parseCertificate,
    chain: h.chainSignatures.reduce((ms, key) => ms + verifyMs(key, chip), 0),
    serverSignature: h.serverKey ? verifyMs(h.serverKey, chip) : 0,
    keyExchange: h.ecdhe ? CRYPTO_MS.ecdheP256 : 0,
    clientSignature: h.clientKey ? signMs(h.clientKey, chip) : 0,
    symmetric,
  };
  for (const k of Object.keys(parts)) parts[k] = Math.round(parts[k]! * clock * 10) / 10;
  const total = Math.round(Object.values(parts).reduce((a, b) => a + b, 0));
  return { total, parts };
}

/** Symmetric cost of moving `bytes` of application data (an MQTT exchange), in ms. */
export function recordCryptoMs(bytes: number, chip: ChipShape): number {
  const factor = chip.hardware.aes && chip.hardware.sha ? 1 : SOFTWARE_FACTOR.aesSha;
  return Math.round((bytes / 1024) * CRYPTO_MS.symmetricPerKiB * factor * (240 / chip.cpuMhz) * 10) / 10;
}

/**
 * The board heap and the memory one TLS connection takes, built from the parts Mbed TLS and
 * esp-tls allocate. Sizes are modelled, not measured here; they are calibrated against the host
 * agent (firmware/host: the real Mbed TLS 3.6.6 built 32-bit with ESP-IDF v5.5's configuration and
 * a counting allocator), per wave-1 scenario, and a test holds the model within 10 % of it
 * (test/native/heap.spec.ts). docs/fidelity.md compares both with Espressif's published figures.
 */

/** Free heap of an ESP32 with Wi-Fi up at default settings (Espressif's iperf example): 144.5 KB. */
export const ESP32_FREE_HEAP = 147_968;
/** The largest DRAM region: no single allocation can be bigger, however much is free in total. */
export const ESP32_LARGEST_REGION = 113_792;

/** Per-record overhead Mbed TLS 3.6 adds to a content length: header 13 + IV 16 + MAC 48 + padding 256. */
export const RECORD_OVERHEAD = 13 + 16 + 48 + 256;

/**
 * Model constants, in bytes. Each is one part Mbed TLS or esp-tls allocates; the comments say
 * what it stands for. The structure sizes are sizeof() in the host agent's 32-bit build plus the
 * counting allocator's 4 B; the rest were fitted as a set to the host agent's peaks (2026-12-01, see
 * docs/fidelity.md "Heap"), from the differences between scenarios that stop at different points
 * of the same handshake: a ServerHello alert (setup only), an untrusted one-certificate chain
 * (parse, no signature checked), an expired chain (parse + two ECDSA verifies), a success.
 */
export const PARTS = {
  /** esp_tls struct (ssl context and config, CTR-DRBG, entropy, x509 and pk heads inside it). */
  espTlsAndSocket: 1_304,
  /**
   * What mbedtls_ssl_setup allocates after the record buffers and keeps for the connection: the
   * transform and session being negotiated (sizeof 276 and 136 in the 32-bit build, + 4 B each).
   */
  sslContexts: 420,
  /** The handshake parameters mbedtls_ssl_setup allocates next (sizeof 584 + 4), freed once the handshake ends. */
  handshake: 588,
  /**
   * The transcript hashes, setup's last allocations (mbedtls_ssl_reset_checksum: a SHA-256 and a
   * SHA-384 context, sizeof 108 and 212 + 4 B each), freed with the handshake parameters. When one
   * cannot be had, mbedtls_ssl_setup returns MBEDTLS_ERR_MD_ALLOC_FAILED, not SSL_ALLOC_FAILED.
   */
  transcriptHashes: 328,
  /** The mbedtls_x509_crt the peer's chain is parsed into (sizeof 408 + 4): the handshake's first allocation. */
  peerCertificate: 412,
  /** mbedtls_x509_crt bookkeeping per parsed certificate (names, extensions lists), besides its DER and key. */
  perCertificate: 694,
  /** Temporaries of a P-256 ECDHE keygen + shared secret in software, the ServerKeyExchange check and the client's signature. */
  ecdheP256: 4_770,
  /** Temporaries of an RSA public operation (verify) with the MPI accelerator. */
  rsaVerify: 1_000,
  /** Temporaries of the ECDSA P-256 verifies of a chain. */
  ecdsaVerify: 2_920,
  /** The two record transforms (keys, GCM/CCM contexts) once keys are derived. */
  transforms: 1_476,
} as const;

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa' | 'other';

export interface CertShape {
  der: number;
  key: KeyType;
  /** RSA modulus bits (for RSA keys). */
  bits?: number;
}

/** Parsed size of one certificate: DER copy, bookkeeping, public key context. */
export function parsedCertificateBytes(cert: CertShape): number {
  const keyContext = cert.key === 'rsa' ? (cert.bits ?? 2048) / 8 : cert.key === 'ec-p384' ? 300 : 220;
  return PARTS.perCertificate + cert.der + keyContext;
}

export interface BufferConfig {
  inContentLen: number;
  outContentLen: number;
  dynamicBuffer: boolean;
  keepPeerCertificate: boolean;
  freeCaCert: boolean;
  freeConfigData: boolean;
}

export interface ConnectionShape {
  /** Certificates of the CA store the device configured (parsed before setup). */
  ca: CertShape[];
  /** The device's own certificate (mutual TLS), with its private key. */
  own: CertShape | null;
  /** The chain the server sent. Unknown until the handshake: [] plans the setup only. */
  peer: CertShape[];
  /** The negotiated key exchange is ephemeral elliptic-curve Diffie-Hellman (all TLS 1.3, ECDHE-* in 1.2). */
  ecdhe: boolean;
  /** Largest handshake record the server sent (dynamic buffers are sized to it). */
  largestRecord: number;
  /**
   * Verifying the chain checks at least one signature (false when nothing in it chains to the
   * trust store and it is a lone certificate: Mbed TLS then has no signature to check). Default true.
   */
  checksSignatures?: boolean;
}

export type Phase = 'setup' | 'certificate' | 'key_exchange' | 'established';

export interface HeapPlan {
  /** Bytes in use at the end of each phase, in order. */
  phases: Array<{ phase: Phase; bytes: number }>;
  /** Highest of them: what the connection costs at its worst. */
  peak: number;
  /** Largest single allocation (the IN record buffer unless dynamic). */
  largestBlock: number;
  /** Held while the connection stays open. */
  steady: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The memory one connection takes, phase by phase. */
export function planConnection(buffers: BufferConfig, shape: ConnectionShape): HeapPlan {
  const inBuffer = buffers.inContentLen + RECORD_OVERHEAD;
  const outBuffer = buffers.outContentLen + RECORD_OVERHEAD;
  const ca = sum(shape.ca.map(parsedCertificateBytes));
  const own = shape.own ? parsedCertificateBytes(shape.own) + shape.own.der : 0; // key ~ as big as the cert
  const peer = sum(shape.peer.map(parsedCertificateBytes));
  const verifyTemp = shape.checksSignatures === false ? 0
    : shape.peer.some((c) => c.key === 'rsa') ? PARTS.rsaVerify : shape.peer.length > 0 ? PARTS.ecdsaVerify : 0;
  const kexTemp = shape.ecdhe ? PARTS.ecdheP256 : 0;
  const base = PARTS.espTlsAndSocket + PARTS.sslContexts;

  // Static buffers are allocated by mbedtls_ssl_setup. ESP-IDF's dynamic buffers allocate the
  // receive buffer for each incoming record and free it once the record is consumed, and a full
  // send buffer only while a flight is being written (the key exchange computes into it).
  const staticBuffers = inBuffer + outBuffer;
  const setupBuffers = buffers.dynamicBuffer ? 0 : staticBuffers;
  const certificateBuffers = buffers.dynamicBuffer ? shape.largestRecord + RECORD_OVERHEAD : staticBuffers;
  const keyExchangeBuffers = buffers.dynamicBuffer ? outBuffer : staticBuffers;
  // Mbed TLS 3.x allocates the handshake parameters in mbedtls_ssl_setup, with the buffers.
  const handshake = PARTS.handshake + PARTS.transcriptHashes;
  const setup = base + setupBuffers + ca + own + handshake;
  const certificate = base + certificateBuffers + ca + own + handshake + peer + verifyTemp;
  // After verification: the CA store may be freed (FREE_CA_CERT), the peer chain is kept only
  // with KEEP_PEER_CERTIFICATE; the key exchange temporaries come now.
  const caAfter = buffers.freeCaCert ? 0 : ca;
  const peerAfter = buffers.keepPeerCertificate ? peer : 0;
  const keyExchange = base + keyExchangeBuffers + caAfter + own + handshake + peerAfter + kexTemp;
  const steadyBuffers = buffers.dynamicBuffer ? 0 : staticBuffers;
  const established = base + steadyBuffers + caAfter + (buffers.freeConfigData ? 0 : own) + peerAfter + PARTS.transforms;

  const phases = [
    { phase: 'setup' as const, bytes: setup },
    { phase: 'certificate' as const, bytes: certificate },
    { phase: 'key_exchange' as const, bytes: keyExchange },
    { phase: 'established' as const, bytes: established },
  ];
  return {
    phases,
    peak: Math.max(...phases.map((p) => p.bytes)),
    largestBlock: buffers.dynamicBuffer ? Math.max(outBuffer, shape.largestRecord + RECORD_OVERHEAD) : inBuffer,
    steady: established,
  };
}

/**
 * Espressif's https_request figures (ESP-IDF v5.5 docs) and the case they were measured on, as
 * hilt models it: a TLS 1.2 ECDHE-RSA connection verifying an RSA-2048 leaf + intermediate
 * against one RSA-4096 root, no client certificate. ("Reducing Heap Usage" in
 * docs/en/api-reference/protocols/mbedtls.rst.) A yardstick now, not the calibration target: they
 * include lwIP and the example's own buffers, and a server chain hilt does not have.
 */
export const CALIBRATION = {
  shape: {
    ca: [{ der: 1391, key: 'rsa', bits: 4096 }],
    own: null,
    peer: [{ der: 1296, key: 'rsa', bits: 2048 }, { der: 1129, key: 'rsa', bits: 2048 }],
    ecdhe: true,
    largestRecord: 2_700,
  } satisfies ConnectionShape,
  cases: [
    { name: 'default', published: 42_196, config: {} },
    { name: 'KEEP_PEER_CERTIFICATE off', published: 38_533, config: { keepPeerCertificate: false } },
    { name: 'DYNAMIC_BUFFER + FREE_CONFIG_DATA + FREE_CA_CERT', published: 22_013,
      config: { dynamicBuffer: true, freeConfigData: true, freeCaCert: true } },
  ] as Array<{ name: string; published: number; config: Partial<BufferConfig> }>,
};

/** The board's heap: free bytes, the low-water mark, and what is held by whom. */
export class BoardHeap {
  private held = 0;
  private reservedBytes = 0;
  private lowWater: number;

  constructor(readonly total: number = ESP32_FREE_HEAP) {
    this.lowWater = total;
  }

  get free(): number {
    return this.total - this.held - this.reservedBytes;
  }

  get minFree(): number {
    return this.lowWater;
  }

  /** The largest block one allocation can get. */
  get largest(): number {
    return Math.min(this.free, ESP32_LARGEST_REGION);
  }

  get reserved(): number {
    return this.reservedBytes;
  }

  stats(): { free: number; min_free: number; largest: number } {
    return { free: this.free, min_free: this.minFree, largest: this.largest };
  }

  /** heap.reserve: hold `bytes` (at most what is free) until release. */
  reserve(bytes: number): number {
    const granted = Math.min(Math.max(0, bytes), this.free);
    this.reservedBytes += granted;
    this.note();
    return granted;
  }

  release(): void {
    this.reservedBytes = 0;
  }

  /** Takes `bytes` for a connection; false (nothing taken) when they are not there. */
  take(bytes: number): boolean {
    if (bytes > this.free) return false;
    this.held += bytes;
    this.note();
    return true;
  }

  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  /** Records a transient peak (memory taken and given back within one phase). */
  touch(bytes: number): void {
    this.lowWater = Math.min(this.lowWater, this.free - bytes);
  }

  private note(): void {
    this.lowWater = Math.min(this.lowWater, this.free);
  }
}

/** The Mbed TLS 3.6 / ESP-IDF v5.5 semantics layer of the emulated ESP32: pure, no sockets. */
export {
  ESP_ERR, MBEDTLS_ERR, BADCERT, BADCRL, espErrName, mbedtlsErrName, mbedtlsHex, verifyInfo, verifyInfoText, flagNames,
  alertForFlags,
} from './codes.ts';
export type { VerifyAlert } from './codes.ts';
export {
  SdkconfigError, parseSdkconfig, mbedtlsConfigOf, REFERENCE_SDKCONFIG, OPTIONS, MBEDTLS_VERSION, IDF_VERSION,
} from './sdkconfig.ts';
export type { Sdkconfig, MbedtlsConfig } from './sdkconfig.ts';
export { SUITES, enabledSuites, suiteByMbedtls, suiteByOpenssl, opensslCipherList } from './ciphersuites.ts';
export type { Suite, KeyExchange, SuiteSelection } from './ciphersuites.ts';
export { verifyChain, checkServerCertUsage, judgeServerCertificate, nameMatches } from './verify.ts';
export type { VerifyInput, VerifyResult, HandshakeVerdict, JudgeInput, Authmode } from './verify.ts';
export { DerError, parseCertificate, pemCertificates, nameEquals, nameText, KEY_USAGE_NAMES } from './der.ts';
export type { CertificateInfo, NameAttribute, SanEntry, PublicKeyInfo, SignatureAlgorithm, KeyUsage } from './der.ts';

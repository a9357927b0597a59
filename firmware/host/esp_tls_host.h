/*
 * esp-tls on the host: what ESP-IDF v5.5's esp_tls.c and esp_tls_mbedtls.c do around Mbed TLS,
 * over POSIX sockets, with the real Mbed TLS 3.6 deciding every TLS outcome.
 *
 * Kept from esp-tls, in its order: getaddrinfo, a non-blocking connect waited for with the
 * connect timeout, create_ssl_handle (hostname or none with skip_common_name, config defaults,
 * ALPN, the CA chain with VERIFY_REQUIRED, the client certificate and key, ciphersuites, TLS
 * version, ssl_setup), the handshake loop with its timeout, the last-error triple
 * (esp_tls_last_error_t: esp_err, the Mbed TLS code made positive, the verify flags, and the
 * socket errno) and the log lines each failure prints, word for word.
 *
 * What differs because this is not lwIP is translated back to what an ESP32 reports: the socket
 * number in log lines, errno values (newlib's numbering and strerror texts), and getaddrinfo's
 * failure code. Each such place says so.
 */
#ifndef HILT_ESP_TLS_HOST_H
#define HILT_ESP_TLS_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

/* esp_err_t values (esp_tls_errors.h, esp_err.h). */
#define ESP_OK 0
#define ESP_FAIL (-1)
#define ESP_ERR_NO_MEM 0x101
#define ESP_ERR_INVALID_ARG 0x102
#define ESP_ERR_INVALID_STATE 0x103
#define ESP_ERR_TIMEOUT 0x107
#define ESP_ERR_ESP_TLS_BASE 0x8000
#define ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME (ESP_ERR_ESP_TLS_BASE + 0x01)
#define ESP_ERR_ESP_TLS_CANNOT_CREATE_SOCKET (ESP_ERR_ESP_TLS_BASE + 0x02)
#define ESP_ERR_ESP_TLS_UNSUPPORTED_PROTOCOL_FAMILY (ESP_ERR_ESP_TLS_BASE + 0x03)
#define ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST (ESP_ERR_ESP_TLS_BASE + 0x04)
#define ESP_ERR_ESP_TLS_SOCKET_SETOPT_FAILED (ESP_ERR_ESP_TLS_BASE + 0x05)
#define ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT (ESP_ERR_ESP_TLS_BASE + 0x06)
#define ESP_ERR_ESP_TLS_TCP_CLOSED_FIN (ESP_ERR_ESP_TLS_BASE + 0x08)
#define ESP_ERR_MBEDTLS_CERT_PARTLY_OK (ESP_ERR_ESP_TLS_BASE + 0x10)
#define ESP_ERR_MBEDTLS_CTR_DRBG_SEED_FAILED (ESP_ERR_ESP_TLS_BASE + 0x11)
#define ESP_ERR_MBEDTLS_SSL_SET_HOSTNAME_FAILED (ESP_ERR_ESP_TLS_BASE + 0x12)
#define ESP_ERR_MBEDTLS_SSL_CONFIG_DEFAULTS_FAILED (ESP_ERR_ESP_TLS_BASE + 0x13)
#define ESP_ERR_MBEDTLS_SSL_CONF_ALPN_PROTOCOLS_FAILED (ESP_ERR_ESP_TLS_BASE + 0x14)
#define ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED (ESP_ERR_ESP_TLS_BASE + 0x15)
#define ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED (ESP_ERR_ESP_TLS_BASE + 0x16)
#define ESP_ERR_MBEDTLS_SSL_SETUP_FAILED (ESP_ERR_ESP_TLS_BASE + 0x17)
#define ESP_ERR_MBEDTLS_SSL_WRITE_FAILED (ESP_ERR_ESP_TLS_BASE + 0x18)
#define ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED (ESP_ERR_ESP_TLS_BASE + 0x19)
#define ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED (ESP_ERR_ESP_TLS_BASE + 0x1A)
#define ESP_ERR_MBEDTLS_SSL_CONF_PSK_FAILED (ESP_ERR_ESP_TLS_BASE + 0x1B)
#define ESP_ERR_MBEDTLS_SSL_READ_FAILED (ESP_ERR_ESP_TLS_BASE + 0x1E)

/* Mbed TLS's mbedtls_net_recv/send results on a socket, as ESP-IDF's own net_sockets.c gives them
 * (its net_would_block looks at errno only: EAGAIN is WANT_READ even on a blocking socket). */
int etls_net_result(int ret, int err, int writing);

/* The esp_err_t name esp_err_to_name() gives, for the codes esp-tls logs; "UNKNOWN ERROR"
 * otherwise, as esp_err_to_name does. */
const char *etls_err_name(int esp_err);

/* Linux errno -> what lwIP on ESP-IDF reports for the same event (newlib numbering). */
int etls_lwip_errno(int linux_errno);
/* newlib's strerror() text for an errno in its numbering. */
const char *etls_newlib_strerror(int newlib_errno);

typedef enum { ETLS_ANY = 0, ETLS_1_2 = 12, ETLS_1_3 = 13 } etls_version_t;

#define ETLS_MAX_SUITES 128
#define ETLS_MAX_ALPN 8
#define ETLS_ALPN_LEN 64

/* esp_tls_cfg_t, the fields the agent uses. PEM buffers: *_bytes counts the final NUL, as
 * esp-tls's cacert_bytes does. */
typedef struct {
    const char *common_name;             /* NULL: the host name */
    const uint8_t *cacert_buf;           /* NULL: no CA (esp-tls refuses to connect) */
    size_t cacert_bytes;
    const uint8_t *clientcert_buf;
    size_t clientcert_bytes;
    const uint8_t *clientkey_buf;
    size_t clientkey_bytes;
    /* Mbed TLS keeps these two lists (not copies) for the connection's life: the caller's
     * memory must outlive it, as esp-tls's callers' does. */
    const int *ciphersuites_list;        /* 0-terminated, NULL: the library's default */
    etls_version_t tls_version;
    int timeout_ms;                      /* 0: 10 s */
    int skip_common_name;
    const char **alpn_protos;            /* NULL-terminated, NULL: none */
} etls_cfg_t;

/* esp_tls_last_error_t plus the socket errno esp-tls keeps beside it. */
typedef struct {
    int last_error;
    int esp_tls_error_code;              /* the Mbed TLS code, positive */
    int esp_tls_flags;                   /* X.509 verify flags */
    int sock_errno;
} etls_error_t;

typedef void (*etls_log_fn)(void *user, char level, const char *tag, const char *message);
/* Waits until fd is ready for `events` (POLLIN/POLLOUT) or timeout_ms passed; the agent reads its
 * console meanwhile. Returns >0 ready, 0 timeout, <0 error. */
typedef int (*etls_wait_fn)(void *user, int fd, short events, int timeout_ms);
typedef long (*etls_now_fn)(void *user);

typedef struct {
    etls_log_fn log;
    etls_wait_fn wait;
    etls_now_fn now_ms;
    void *user;
} etls_env_t;

typedef struct {
    etls_env_t env;
    int sockfd;
    struct { int fd; } server_fd;             /* what the BIO callbacks get (MBEDTLS_NET_C is off, as in ESP-IDF) */
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context ctr_drbg;
    mbedtls_entropy_context entropy;
    mbedtls_x509_crt cacert;
    mbedtls_x509_crt clientcert;
    mbedtls_pk_context clientkey;
    /* A client never uses these, but esp_tls_t has them: with them this struct is about the size
     * a board allocates for each connection (esp_tls_init), and the agent allocates it likewise. */
    mbedtls_x509_crt servercert;
    mbedtls_pk_context serverkey;
    int handle_ready;                    /* the Mbed TLS contexts are initialised */
    etls_error_t error;
    /* phases in ms, -1 when not reached */
    long dns_ms, tcp_ms, tls_ms;
    int reached_server_hello;            /* the handshake got past ServerHello */
} etls_t;

void etls_init(etls_t *tls, const etls_env_t *env);
/* esp_tls_conn_new_sync: 1 connected, -1 failed, 0 timed out (the error says which). */
int etls_conn_new_sync(etls_t *tls, const char *host, int port, const etls_cfg_t *cfg);
/* esp_tls_conn_read/write. read waits at most timeout_ms: returns bytes, 0 when the peer closed,
 * ETLS_READ_TIMEOUT, or a negative Mbed TLS code. */
#define ETLS_READ_TIMEOUT (-2)
int etls_read(etls_t *tls, uint8_t *buf, size_t len, int timeout_ms);
int etls_write(etls_t *tls, const uint8_t *buf, size_t len);
/* Bytes Mbed TLS already decrypted and holds (a poll on the socket would not see them). */
size_t etls_pending(etls_t *tls);
/* esp_tls_conn_destroy: frees everything and closes the socket. */
void etls_destroy(etls_t *tls);

#endif

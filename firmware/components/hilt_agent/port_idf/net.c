/*
 * net.c: tls.connect and mqtt.connect on esp-tls and esp-mqtt.
 *
 * Both commands open the TLS connection the same way, through tls_open(): an esp_tls_cfg_t built
 * from the command (the core has already looked up the slots), esp_tls_conn_new_sync(), then the
 * outcome read back from esp-tls's error handle and Mbed TLS's context. esp-tls itself prints the
 * console lines it prints on any ESP32 for that outcome.
 *
 * esp-mqtt is given that connection as a custom transport (network.transport), so the result of
 * mqtt.connect carries the same TLS facts as tls.connect, and the `ciphers=` and `tls=` arguments,
 * which esp_mqtt_client_config_t has no field for, still apply. esp-mqtt reports on its own task;
 * its events are copied into a queue and written by the agent's task (hilt_port.h, Threading).
 */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS /* the suite being negotiated, after a failed handshake */

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "esp_tls.h"
#include "esp_transport.h"
#include "mbedtls/sha256.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "mqtt_client.h"
#include "sdkconfig.h"
#include "port_idf.h"

#define HEAP_CAPS MALLOC_CAP_DEFAULT
#define ACK_WAIT_MS 10000 /* hilt_port.h: publish and subscribe wait at most 10 s */
#define MAX_SUITES 64     /* ciphers= can name at most this many */

/* ---- the open connection (one at a time) ----------------------------------------------------- */

static esp_tls_t *s_tls;                  /* up after tls.connect, or under the MQTT session */
static esp_mqtt_client_handle_t s_mqtt;   /* the MQTT session, if any */

/* What the MQTT transport's connect needs; set by the agent task before esp-mqtt starts. */
static const hilt_connect_config_t *s_cfg;
static hilt_connect_result_t *s_res;
static uint32_t s_stack_size;             /* the connect task's (and esp-mqtt's, for mqtt.connect) */
static volatile int64_t s_tls_done_us; /* set when the TLS connection is up, on esp-mqtt's task */

/* Written by esp-mqtt's task, read by the agent's. */
static volatile bool s_mqtt_up;
static volatile bool s_connect_over;      /* CONNECTED, or DISCONNECTED while connecting */
static volatile bool s_closing;           /* we are ending the session: no mqtt.disconnected */
static volatile int s_error_type;
static volatile int s_connack;
static volatile int s_session_present;
static volatile int s_puback_id = -1;
static volatile int s_suback_id = -1;
static volatile int s_suback_granted = 128;

/* ---- esp-mqtt events handed to the agent's task -------------------------------------------- */

typedef struct {
    bool disconnected;     /* else a message */
    int qos;
    size_t topic_len, len;
    char *buf;             /* topic then payload (message only) */
} queued_event_t;

static QueueHandle_t s_events;

void hilt_idf_net_init(void)
{
    s_events = xQueueCreate(CONFIG_HILT_AGENT_MQTT_QUEUE, sizeof(queued_event_t));
}

void hilt_idf_net_deliver(void)
{
    queued_event_t ev;
    while (s_events != NULL && xQueueReceive(s_events, &ev, 0) == pdTRUE) {
        if (hilt_idf_core != NULL) {
            if (ev.disconnected) {
                hilt_core_mqtt_disconnected(hilt_idf_core, "transport closed");
            } else {
                hilt_core_mqtt_message(hilt_idf_core, ev.buf, ev.topic_len, ev.qos,
                                       (const uint8_t *)ev.buf + ev.topic_len, ev.len);
            }
        }
        free(ev.buf);
    }
}

static void queue_event(const queued_event_t *ev)
{
    if (xQueueSend(s_events, ev, 0) != pdTRUE) {
        ESP_LOGW("hil_agent", "MQTT event dropped: the agent's queue (%d) is full", CONFIG_HILT_AGENT_MQTT_QUEUE);
        free(ev->buf);
    }
}

/* ---- esp-tls --------------------------------------------------------------------------------- */

/* A PEM blob is passed with its terminating 0 (esp-tls's *_pem_bytes), DER without. */
static unsigned int blob_bytes(const hilt_blob_t *b)
{
    return (unsigned int)(memmem(b->data, b->len, "-----BEGIN", 10) != NULL ? b->len + 1 : b->len);
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The TLS block of the result, from what Mbed TLS's context holds (also after a failure). */
static void read_tls(esp_tls_t *tls, hilt_connect_result_t *res)
{
    mbedtls_ssl_context *ssl = esp_tls_get_ssl_context(tls);
    if (ssl == NULL || ssl->MBEDTLS_PRIVATE(state) <= MBEDTLS_SSL_SERVER_HELLO) {
        return; /* the server's hello never arrived */
    }
    res->has_tls = true;
    snprintf(res->version, sizeof res->version, "%s", mbedtls_ssl_get_version(ssl));
    const char *suite = mbedtls_ssl_get_ciphersuite(ssl); /* NULL until the handshake is over */
    if (suite == NULL && ssl->MBEDTLS_PRIVATE(session_negotiate) != NULL) {
        suite = mbedtls_ssl_get_ciphersuite_name(ssl->MBEDTLS_PRIVATE(session_negotiate)->MBEDTLS_PRIVATE(ciphersuite));
    }
    snprintf(res->cipher, sizeof res->cipher, "%s", suite != NULL ? suite : "unknown");
    const int over = mbedtls_ssl_is_handshake_over(ssl);
#if defined(MBEDTLS_SSL_ALPN)
    /* ALPN and peer only from a finished handshake, as the host port and docs/protocol.md say. */
    const char *alpn = over ? mbedtls_ssl_get_alpn_protocol(ssl) : NULL;
    if (alpn != NULL) {
        res->has_alpn = true;
        snprintf(res->alpn, sizeof res->alpn, "%s", alpn);
    }
#endif
    const mbedtls_x509_crt *peer = over ? mbedtls_ssl_get_peer_cert(ssl) : NULL;
    if (peer != NULL) {
        uint8_t digest[32];
        res->has_peer = true;
        mbedtls_x509_dn_gets(res->peer_subject, sizeof res->peer_subject, &peer->subject);
        mbedtls_x509_dn_gets(res->peer_issuer, sizeof res->peer_issuer, &peer->issuer);
        mbedtls_sha256(peer->raw.p, peer->raw.len, digest, 0);
        hex(digest, sizeof digest, res->peer_sha256);
    }
}

/*
 * Opens the TLS connection for cfg and fills the TLS, error and timing parts of res. Returns the
 * connection, or NULL when it failed (destroyed). Runs on the hilt_connect task for tls.connect and on
 * esp-mqtt's for mqtt.connect.
 */
static esp_tls_t *tls_open(const hilt_connect_config_t *cfg, hilt_connect_result_t *res)
{
    static int suites[MAX_SUITES + 1];
    esp_tls_cfg_t tc = {0};
    if (cfg->ca.data != NULL) {
        tc.cacert_buf = cfg->ca.data;
        tc.cacert_bytes = blob_bytes(&cfg->ca);
    }
    if (cfg->cert.data != NULL) {
        tc.clientcert_buf = cfg->cert.data;
        tc.clientcert_bytes = blob_bytes(&cfg->cert);
        tc.clientkey_buf = cfg->key.data;
        tc.clientkey_bytes = blob_bytes(&cfg->key);
    }
    tc.alpn_protos = (const char **)cfg->alpn;
    tc.timeout_ms = (int)cfg->timeout_ms;
    tc.skip_common_name = cfg->skip_cn;
    tc.common_name = cfg->sni; /* esp-tls sends it as SNI and checks the certificate against it */
    if (cfg->ciphers_given) {
        size_t n = 0;
        for (size_t i = 0; i < cfg->ciphersuite_count && n < MAX_SUITES; i++) {
            int id = mbedtls_ssl_get_ciphersuite_id(cfg->ciphersuites[i]);
            if (id != 0) {
                suites[n++] = id;
            }
        }
        suites[n] = 0;
        tc.ciphersuites_list = suites;
    }
    tc.tls_version = cfg->tls == HILT_TLS_1_2 ? ESP_TLS_VER_TLS_1_2
                   : cfg->tls == HILT_TLS_1_3 ? ESP_TLS_VER_TLS_1_3 : ESP_TLS_VER_ANY;

    /*
     * The name is resolved once beforehand only to time it (lwIP's DNS table answers esp-tls's own
     * lookup next). esp-tls resolves, connects and handshakes in one blocking call, so TCP and TLS
     * cannot be told apart: tcp_ms and tls_ms stay null, and total_ms is that call alone
     * (docs/agent-firmware.md).
     */
    int64_t t_dns = esp_timer_get_time();
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(cfg->host, NULL, &hints, &ai) == 0) {
        freeaddrinfo(ai);
    }
    res->dns_ms = (int32_t)((esp_timer_get_time() - t_dns) / 1000);

    int64_t t0 = esp_timer_get_time();
    esp_tls_t *tls = esp_tls_init();
    if (tls == NULL) {
        res->esp_err = ESP_ERR_NO_MEM;
        return NULL;
    }
    int ret = esp_tls_conn_new_sync(cfg->host, (int)strlen(cfg->host), cfg->port, &tc, tls);
    res->total_ms = (int32_t)((esp_timer_get_time() - t0) / 1000);
    res->timing_source = HILT_SOURCE_DEVICE;
    read_tls(tls, res);
    if (ret == 1) {
        return tls;
    }
    esp_tls_error_handle_t h = NULL;
    if (esp_tls_get_error_handle(tls, &h) == ESP_OK) {
        int sock_errno = 0, stack_err = 0, flags = 0;
        esp_tls_get_and_clear_error_type(h, ESP_TLS_ERR_TYPE_SYSTEM, &sock_errno);
        res->esp_err = esp_tls_get_and_clear_last_error(h, &stack_err, &flags);
        res->stack_err = stack_err;
        res->verify_flags = (uint32_t)flags;
        res->sock_errno = sock_errno;
    }
    esp_tls_conn_destroy(tls);
    return NULL;
}

/* ---- esp-mqtt's transport: the connection tls_open() made ----------------------------------- */

/* The console lines are esp_transport_ssl's (tcp_transport/transport_ssl.c, v5.5), tag and text. */
#define TRANSPORT_TAG "transport_base"

static int tls_fd(void)
{
    int fd = -1;
    return s_tls != NULL && esp_tls_get_conn_sockfd(s_tls, &fd) == ESP_OK ? fd : -1;
}

static int wait_fd(bool for_write, int timeout_ms)
{
    int fd = tls_fd();
    if (fd < 0) {
        return -1;
    }
    if (!for_write && esp_tls_get_bytes_avail(s_tls) > 0) {
        return 1; /* Mbed TLS already holds decrypted bytes */
    }
    fd_set set, err;
    FD_ZERO(&set);
    FD_ZERO(&err);
    FD_SET(fd, &set);
    FD_SET(fd, &err);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int n = select(fd + 1, for_write ? NULL : &set, for_write ? &set : NULL, &err, timeout_ms < 0 ? NULL : &tv);
    if (n > 0 && FD_ISSET(fd, &err)) {
        int sock_errno = 0;
        socklen_t len = sizeof sock_errno;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &sock_errno, &len);
        ESP_LOGE(TRANSPORT_TAG, "poll_%s select error %d, errno = %s, fd = %d", for_write ? "write" : "read",
                 sock_errno, strerror(sock_errno), fd);
        return -1;
    }
    return n;
}

static int tr_connect(esp_transport_handle_t t, const char *host, int port, int timeout_ms)
{
    (void)t; (void)host; (void)port; (void)timeout_ms; /* all of them are in s_cfg */
    s_tls = tls_open(s_cfg, s_res);
    if (s_tls == NULL) {
        ESP_LOGE(TRANSPORT_TAG, "Failed to open a new connection");
        return -1;
    }
    s_tls_done_us = esp_timer_get_time(); /* the MQTT phase starts: CONNECT goes out next */
    return 0;
}

/* Same return conventions as esp_transport_ssl's read: 0 timeout, -1 closed by FIN, -2 failed. */
static int tr_read(esp_transport_handle_t t, char *buf, int len, int timeout_ms)
{
    (void)t;
    int poll = wait_fd(false, timeout_ms);
    if (poll < 0) {
        return ERR_TCP_TRANSPORT_CONNECTION_FAILED;
    }
    if (poll == 0) {
        return ERR_TCP_TRANSPORT_CONNECTION_TIMEOUT;
    }
    ssize_t n = esp_tls_conn_read(s_tls, buf, (size_t)len);
    if (n < 0) {
        ESP_LOGE(TRANSPORT_TAG, "esp_tls_conn_read error, errno=%s", strerror(errno));
        if (n == ESP_TLS_ERR_SSL_WANT_READ || n == ESP_TLS_ERR_SSL_TIMEOUT) {
            return ERR_TCP_TRANSPORT_CONNECTION_TIMEOUT;
        }
    }
    if (n == 0) {
        return ERR_TCP_TRANSPORT_CONNECTION_CLOSED_BY_FIN;
    }
    return (int)n;
}

static int tr_write(esp_transport_handle_t t, const char *buf, int len, int timeout_ms)
{
    (void)t;
    int poll = wait_fd(true, timeout_ms);
    if (poll <= 0) {
        ESP_LOGW(TRANSPORT_TAG, "Poll timeout or error, errno=%s, fd=%d, timeout_ms=%d", strerror(errno), tls_fd(), timeout_ms);
        return poll;
    }
    ssize_t n = esp_tls_conn_write(s_tls, buf, (size_t)len);
    if (n < 0) {
        ESP_LOGE(TRANSPORT_TAG, "esp_tls_conn_write error, errno=%s", strerror(errno));
    }
    return (int)n;
}

static int tr_poll_read(esp_transport_handle_t t, int timeout_ms) { (void)t; return wait_fd(false, timeout_ms); }
static int tr_poll_write(esp_transport_handle_t t, int timeout_ms) { (void)t; return wait_fd(true, timeout_ms); }

static int tr_close(esp_transport_handle_t t)
{
    (void)t;
    if (s_tls != NULL) {
        esp_tls_conn_destroy(s_tls);
        s_tls = NULL;
    }
    return 0;
}

static int tr_destroy(esp_transport_handle_t t)
{
    return tr_close(t);
}

static void on_mqtt(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg; (void)base;
    esp_mqtt_event_handle_t ev = data;
    switch ((esp_mqtt_event_id_t)id) {
    case MQTT_EVENT_CONNECTED:
        s_session_present = ev->session_present;
        s_mqtt_up = true;
        s_connect_over = true;
        break;
    case MQTT_EVENT_ERROR:
        s_error_type = ev->error_handle->error_type;
        if (ev->error_handle->error_type == MQTT_ERROR_TYPE_CONNECTION_REFUSED) {
            s_connack = ev->error_handle->connect_return_code;
        }
        break;
    case MQTT_EVENT_DISCONNECTED:
        if (s_mqtt_up && !s_closing) {
            queue_event(&(queued_event_t){.disconnected = true});
        }
        s_mqtt_up = false;
        s_connect_over = true;
        break;
    case MQTT_EVENT_PUBLISHED:
        s_puback_id = ev->msg_id;
        break;
    case MQTT_EVENT_SUBSCRIBED:
        s_suback_granted = ev->data_len > 0 ? (uint8_t)ev->data[0] : 128;
        s_suback_id = ev->msg_id;
        break;
    case MQTT_EVENT_DATA:
        if (ev->current_data_offset != 0 || ev->data_len != ev->total_data_len) {
            /* longer than esp-mqtt's buffer: it arrives in pieces; the agent forwards whole ones */
            if (ev->current_data_offset == 0) {
                ESP_LOGW("hil_agent", "MQTT message of %d bytes dropped: larger than the MQTT buffer", ev->total_data_len);
            }
            break;
        }
        queued_event_t q = {.qos = ev->qos, .topic_len = (size_t)ev->topic_len, .len = (size_t)ev->data_len};
        q.buf = malloc(q.topic_len + q.len + 1);
        if (q.buf == NULL) {
            ESP_LOGW("hil_agent", "MQTT message dropped: out of memory");
            break;
        }
        memcpy(q.buf, ev->topic, q.topic_len);
        memcpy(q.buf + q.topic_len, ev->data, q.len);
        queue_event(&q);
        break;
    default:
        break;
    }
}

/* Waits, answering the console meanwhile, until *flag turns true or timeout_ms passes. */
static bool wait_for(volatile bool *flag, uint32_t timeout_ms)
{
    int64_t deadline = esp_timer_get_time() + (int64_t)timeout_ms * 1000;
    while (!*flag && esp_timer_get_time() < deadline) {
        hilt_idf_pump(20);
    }
    return *flag;
}

static const char *mqtt_open(const hilt_connect_config_t *cfg, hilt_connect_result_t *res)
{
    const hilt_mqtt_config_t *m = cfg->mqtt;
    /* esp-mqtt takes the password as a C string: a 0 byte would cut it short */
    static char password[256];
    if (m->password.data != NULL) {
        if (m->password.len >= sizeof password || memchr(m->password.data, 0, m->password.len) != NULL) {
            return "esp-mqtt takes the password as a C string: at most 255 bytes, no 0 byte";
        }
        memcpy(password, m->password.data, m->password.len);
        password[m->password.len] = '\0';
    }
    esp_transport_handle_t t = esp_transport_init();
    if (t == NULL) {
        return "out of memory for the MQTT transport";
    }
    esp_transport_set_func(t, tr_connect, tr_read, tr_write, tr_close, tr_poll_read, tr_poll_write, tr_destroy);
    esp_transport_set_default_port(t, cfg->port);

    esp_mqtt_client_config_t mc = {0};
    mc.broker.address.hostname = cfg->host;
    mc.broker.address.port = cfg->port;
    mc.broker.address.transport = MQTT_TRANSPORT_OVER_SSL;
    mc.network.transport = t; /* esp-mqtt destroys it with the client */
    mc.network.disable_auto_reconnect = true;
    mc.network.timeout_ms = (int)cfg->timeout_ms;
    mc.credentials.client_id = m->client_id;
    mc.credentials.username = m->username;
    mc.credentials.authentication.password = m->password.data != NULL ? password : NULL;
    mc.session.keepalive = (int)m->keepalive;
    mc.session.disable_keepalive = m->keepalive == 0; /* esp-mqtt reads 0 as "its default" */
    mc.session.disable_clean_session = !m->clean;
    mc.session.protocol_ver = MQTT_PROTOCOL_V_3_1_1;
    /* esp-mqtt runs the TLS handshake on its own task: it gets the connect's stack size */
    mc.task.stack_size = (int)s_stack_size;

    s_cfg = cfg;
    s_res = res;
    s_tls_done_us = 0;
    s_mqtt_up = false;
    s_connect_over = false;
    s_closing = false;
    s_error_type = MQTT_ERROR_TYPE_NONE;
    s_connack = HILT_NONE;
    s_mqtt = esp_mqtt_client_init(&mc);
    if (s_mqtt == NULL) {
        esp_transport_destroy(t);
        return "esp_mqtt_client_init failed (out of memory?)";
    }
    esp_mqtt_client_register_event(s_mqtt, MQTT_EVENT_ANY, on_mqtt, NULL);
    int64_t t0 = esp_timer_get_time();
    if (esp_mqtt_client_start(s_mqtt) != ESP_OK) {
        esp_mqtt_client_destroy(s_mqtt);
        s_mqtt = NULL;
        return "esp_mqtt_client_start failed";
    }
    /* esp-mqtt bounds the TLS connect and the CONNACK wait by timeout_ms each */
    wait_for(&s_connect_over, 2 * cfg->timeout_ms + 1000);
    int64_t t1 = esp_timer_get_time();

    res->connected = s_mqtt_up;
    res->mqtt_error_type = s_error_type == MQTT_ERROR_TYPE_TCP_TRANSPORT ? HILT_MQTT_ERROR_TCP_TRANSPORT
                         : s_error_type == MQTT_ERROR_TYPE_CONNECTION_REFUSED ? HILT_MQTT_ERROR_CONNECTION_REFUSED
                         : HILT_MQTT_ERROR_NONE;
    res->connack = s_mqtt_up ? HILT_NONE : s_connack;
    if (s_mqtt_up || s_connack != HILT_NONE) {
        res->has_mqtt = true;
        res->session_present = s_mqtt_up && s_session_present;
        res->mqtt_connack = s_mqtt_up ? 0 : s_connack;
    }
    if (s_tls_done_us != 0) { /* the TLS connection came up: the MQTT phase was reached */
        res->mqtt_ms = (int32_t)((t1 - s_tls_done_us) / 1000);
    }
    res->total_ms = (int32_t)((t1 - t0) / 1000); /* esp_mqtt_client_start() to CONNACK or failure */
    if (!s_mqtt_up) {
        s_closing = true;
        esp_mqtt_client_destroy(s_mqtt);
        s_mqtt = NULL;
    }
    return NULL;
}

/* ---- the port's connection functions ------------------------------------------------------- */

/*
 * The connect runs in a task of its own, "hilt_connect", of CONFIG_HILT_AGENT_CONNECT_STACK bytes
 * or the command's stack=, so its stack is measured (and can be made too small) apart from the
 * agent's. FreeRTOS paints a task's stack when it creates it; uxTaskGetStackHighWaterMark, read
 * by the task just before it ends, is the least that was ever left free. An overflow trips
 * FreeRTOS's check (CONFIG_FREERTOS_CHECK_STACKOVERFLOW_CANARY, ESP-IDF's default) and the panic
 * handler prints "***ERROR*** A stack overflow in task hilt_connect has been detected." and
 * reboots. The agent task waits for it: core calls stay on one task at a time (hilt_port.h).
 *
 * mqtt.connect: esp-mqtt opens the TLS connection on its own task ("mqtt_task"), which is given
 * the same stack size; its high-water mark is the one reported (an overflow there names mqtt_task).
 */
typedef struct {
    const hilt_connect_config_t *cfg;
    hilt_connect_result_t *res;
    const char *err;
    uint32_t mqtt_free_min;     /* esp-mqtt's task's high-water mark, UINT32_MAX when unknown */
    uint32_t free_min;          /* this task's */
    SemaphoreHandle_t done;
} connect_job_t;

static const char *connect_now(const hilt_connect_config_t *cfg, hilt_connect_result_t *res, uint32_t *mqtt_free_min)
{
    res->heap_before = hilt_idf_heap_free();
    res->heap_source = HILT_SOURCE_DEVICE;
    /* the lowest free heap during this connect only, not since boot */
    bool monitoring = heap_caps_monitor_local_minimum_free_size_start() == ESP_OK;

    const char *err = NULL;
    if (cfg->mqtt == NULL) {
        s_tls = tls_open(cfg, res);
        res->connected = s_tls != NULL;
    } else {
        err = mqtt_open(cfg, res);
        TaskHandle_t mqtt_task = xTaskGetHandle("mqtt_task");
        if (mqtt_task != NULL) {
            *mqtt_free_min = (uint32_t)uxTaskGetStackHighWaterMark(mqtt_task);
        }
    }

    res->heap_min = (uint32_t)heap_caps_get_minimum_free_size(HEAP_CAPS);
    if (monitoring) {
        heap_caps_monitor_local_minimum_free_size_stop();
    }
    res->heap_after = hilt_idf_heap_free();
    return err;
}

static void connect_task(void *arg)
{
    connect_job_t *job = arg;
    job->err = connect_now(job->cfg, job->res, &job->mqtt_free_min);
    /* ESP-IDF's FreeRTOS counts stack in bytes (StackType_t is uint8_t) */
    job->free_min = (uint32_t)uxTaskGetStackHighWaterMark(NULL);
    xSemaphoreGive(job->done);
    vTaskDelete(NULL);
}

const char *hilt_idf_connect(void *ctx, const hilt_connect_config_t *cfg, hilt_connect_result_t *res)
{
    static StaticSemaphore_t done_storage;
    hilt_idf_close(ctx);
    s_stack_size = cfg->stack_size != 0 ? cfg->stack_size : CONFIG_HILT_AGENT_CONNECT_STACK;
    connect_job_t job = {
        .cfg = cfg, .res = res, .err = NULL, .mqtt_free_min = UINT32_MAX, .free_min = UINT32_MAX,
        .done = xSemaphoreCreateBinaryStatic(&done_storage),
    };
    /* the agent task's priority, so the console and esp-tls share the CPU as before */
    if (xTaskCreate(connect_task, "hilt_connect", s_stack_size, &job, uxTaskPriorityGet(NULL), NULL) != pdPASS) {
        return "no memory for the connect task (stack=)";
    }
    /* Bounded by the connect's own timeouts (esp-tls, esp-mqtt); an overflow reboots the chip. */
    xSemaphoreTake(job.done, portMAX_DELAY);
    uint32_t free_min = cfg->mqtt != NULL && job.mqtt_free_min != UINT32_MAX ? job.mqtt_free_min : job.free_min;
    if (free_min <= s_stack_size) {
        res->has_stack = true;
        res->stack_size = s_stack_size;
        res->stack_peak_used = s_stack_size - free_min;
        res->stack_source = HILT_SOURCE_DEVICE;
    }
    return job.err;
}

void hilt_idf_close(void *ctx)
{
    (void)ctx;
    if (s_mqtt != NULL) {
        s_closing = true;
        esp_mqtt_client_stop(s_mqtt);    /* sends DISCONNECT while the session is up */
        esp_mqtt_client_destroy(s_mqtt); /* and closes the transport (tr_destroy) */
        s_mqtt = NULL;
        s_mqtt_up = false;
    }
    tr_close(NULL);
}

bool hilt_idf_mqtt_connected(void *ctx)
{
    (void)ctx;
    return s_mqtt != NULL && s_mqtt_up;
}

const char *hilt_idf_mqtt_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                                  int qos, bool retain, bool *acked, uint32_t *ms)
{
    (void)ctx;
    int64_t t0 = esp_timer_get_time();
    s_puback_id = -1;
    int id = esp_mqtt_client_publish(s_mqtt, topic, (const char *)payload, (int)len, qos, retain);
    if (id < 0) {
        return "esp_mqtt_client_publish failed";
    }
    *acked = false;
    if (qos > 0) {
        int64_t deadline = t0 + (int64_t)ACK_WAIT_MS * 1000;
        while (s_puback_id != id && s_mqtt_up && esp_timer_get_time() < deadline) {
            hilt_idf_pump(20);
        }
        *acked = s_puback_id == id;
    }
    *ms = (uint32_t)((esp_timer_get_time() - t0) / 1000);
    return NULL;
}

const char *hilt_idf_mqtt_subscribe(void *ctx, const char *topic, int qos, int *granted)
{
    (void)ctx;
    s_suback_id = -1;
    int id = esp_mqtt_client_subscribe_single(s_mqtt, topic, qos);
    if (id < 0) {
        return "esp_mqtt_client_subscribe failed";
    }
    int64_t deadline = esp_timer_get_time() + (int64_t)ACK_WAIT_MS * 1000;
    while (s_suback_id != id && s_mqtt_up && esp_timer_get_time() < deadline) {
        hilt_idf_pump(20);
    }
    *granted = s_suback_id == id ? s_suback_granted : 128;
    return NULL;
}

/*
 * system.c: identity, clocks, heap and restart on an ESP32. Every figure is read from ESP-IDF or
 * Mbed TLS at run time or from their build configuration, never written down by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "esp_app_desc.h"
#include "esp_chip_info.h"
#include "esp_heap_caps.h"
#include "esp_mac.h"
#include "esp_rom_sys.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "mbedtls/build_info.h"
#include "mbedtls/ssl.h"
#include "sdkconfig.h"
#include "port_idf.h"

/* the heap esp_get_free_heap_size() reports; Mbed TLS allocates from it (internal RAM here) */
#define HEAP_CAPS MALLOC_CAP_DEFAULT

static const char *chip_name(esp_chip_model_t model)
{
    switch (model) {
    case CHIP_ESP32: return "ESP32";
    case CHIP_ESP32S2: return "ESP32-S2";
    case CHIP_ESP32S3: return "ESP32-S3";
    case CHIP_ESP32C3: return "ESP32-C3";
    case CHIP_ESP32C2: return "ESP32-C2";
    case CHIP_ESP32C6: return "ESP32-C6";
    case CHIP_ESP32H2: return "ESP32-H2";
    case CHIP_ESP32P4: return "ESP32-P4";
    case CHIP_ESP32C5: return "ESP32-C5";
    case CHIP_ESP32C61: return "ESP32-C61";
    default: return CONFIG_IDF_TARGET;
    }
}

/* The enabled suites, in the library's preference order, as names (built once). */
static void list_suites(hilt_facts_t *out)
{
    static const char **names;
    static size_t count;
    if (names == NULL) {
        const int *ids = mbedtls_ssl_list_ciphersuites();
        size_t n = 0;
        while (ids[n] != 0) {
            n++;
        }
        names = calloc(n > 0 ? n : 1, sizeof *names);
        if (names != NULL) {
            for (size_t i = 0; i < n; i++) {
                names[i] = mbedtls_ssl_get_ciphersuite_name(ids[i]);
            }
            count = n;
        }
    }
    out->ciphersuites = names;
    out->ciphersuite_count = count;
}

void hilt_idf_facts(void *ctx, hilt_facts_t *out)
{
    (void)ctx;
    static char elf_sha256[65];
    static char mac_text[18];
    static char idf_version[32];

    const esp_app_desc_t *app = esp_app_get_description();
    out->fw_project = app->project_name;
    out->fw_version = app->version;
    snprintf(idf_version, sizeof idf_version, "%s", app->idf_ver);
    out->fw_idf = idf_version;
    out->fw_elf_sha256 = esp_app_get_elf_sha256(elf_sha256, sizeof elf_sha256) == 64 ? elf_sha256 : NULL;

    esp_chip_info_t chip;
    esp_chip_info(&chip);
    out->chip_model = chip_name(chip.model);
    out->chip_revision = chip.revision / 100; /* MXX: the wafer's major version */
    out->chip_cores = chip.cores;
    uint8_t mac[6] = {0};
    esp_efuse_mac_get_default(mac);
    snprintf(mac_text, sizeof mac_text, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    out->chip_mac = mac_text;

    out->mbedtls_version = MBEDTLS_VERSION_STRING;
#ifdef MBEDTLS_HAVE_TIME_DATE
    out->have_time_date = true;
#else
    out->have_time_date = false;
#endif
    out->in_content_len = MBEDTLS_SSL_IN_CONTENT_LEN;
    out->out_content_len = MBEDTLS_SSL_OUT_CONTENT_LEN;
#ifdef CONFIG_MBEDTLS_DYNAMIC_BUFFER
    out->dynamic_buffer = true;
#else
    out->dynamic_buffer = false;
#endif
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
    out->tls13 = true;
#else
    out->tls13 = false;
#endif
    list_suites(out);
}

const char *hilt_idf_reset_reason(void *ctx)
{
    (void)ctx;
    /* the ROM's own code and name, as the boot banner prints them: rst:0xc (SW_CPU_RESET) */
    switch ((int)esp_rom_get_reset_reason(0)) {
    case 1: return "POWERON_RESET";
    case 3: return "SW_RESET";
    case 4: return "OWDT_RESET";
    case 5: return "DEEPSLEEP_RESET";
    case 6: return "SDIO_RESET";
    case 7: return "TG0WDT_SYS_RESET";
    case 8: return "TG1WDT_SYS_RESET";
    case 9: return "RTCWDT_SYS_RESET";
    case 10: return "INTRUSION_RESET";
    case 11: return "TGWDT_CPU_RESET";
    case 12: return "SW_CPU_RESET";
    case 13: return "RTCWDT_CPU_RESET";
    case 14: return "EXT_CPU_RESET";
    case 15: return "RTCWDT_BROWN_OUT_RESET";
    case 16: return "RTCWDT_RTC_RESET";
    default: return "NO_MEAN";
    }
}

uint64_t hilt_idf_uptime_ms(void *ctx)
{
    (void)ctx;
    return (uint64_t)(esp_timer_get_time() / 1000);
}

int64_t hilt_idf_time_now(void *ctx)
{
    (void)ctx;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

void hilt_idf_time_set(void *ctx, int64_t epoch)
{
    (void)ctx;
    struct timeval tv = {.tv_sec = (time_t)epoch, .tv_usec = 0};
    settimeofday(&tv, NULL); /* Mbed TLS's x509 date checks read time() (MBEDTLS_HAVE_TIME_DATE) */
}

void hilt_idf_time_clear(void *ctx)
{
    (void)ctx;
    int64_t us = esp_timer_get_time(); /* the clock as it would be had nobody set it: 1970 + uptime */
    struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
    settimeofday(&tv, NULL);
}

uint32_t hilt_idf_heap_free(void)
{
    return (uint32_t)heap_caps_get_free_size(HEAP_CAPS);
}

void hilt_idf_heap_stats(void *ctx, hilt_heap_stats_t *out)
{
    (void)ctx;
    out->free = hilt_idf_heap_free();
    out->min_free = (uint32_t)heap_caps_get_minimum_free_size(HEAP_CAPS);
    out->largest = (uint32_t)heap_caps_get_largest_free_block(HEAP_CAPS);
}

/* Reserved blocks, chained through their first word. */
static void *reserved;

uint32_t hilt_idf_heap_reserve(void *ctx, uint32_t bytes)
{
    (void)ctx;
    uint32_t held = 0;
    /* the heap is fragmented: take the largest block that fits until enough is held */
    while (held < bytes) {
        size_t want = bytes - held;
        size_t largest = heap_caps_get_largest_free_block(HEAP_CAPS);
        if (want > largest) {
            want = largest;
        }
        if (want < sizeof(void *)) {
            break;
        }
        void **block = heap_caps_malloc(want, HEAP_CAPS);
        if (block == NULL) {
            break;
        }
        *block = reserved;
        reserved = block;
        held += (uint32_t)want;
    }
    return held;
}

void hilt_idf_heap_release(void *ctx)
{
    (void)ctx;
    while (reserved != NULL) {
        void *next = *(void **)reserved;
        heap_caps_free(reserved);
        reserved = next;
    }
}

void hilt_idf_restart(void *ctx)
{
    (void)ctx;
    hilt_idf_close(NULL);
    fflush(stdout);
    esp_restart();
}

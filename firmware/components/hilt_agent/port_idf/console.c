/*
 * console.c: the agent's console on an ESP32, the same port ESP-IDF logs to (Kconfig).
 *
 * Protocol lines and ESP-IDF's log lines share one stream, and a protocol line must never have a
 * log line land inside it (docs/protocol.md). Both go through stdout: ESP-IDF's logger prints each
 * line with one vprintf on stdout, which holds stdout's lock, and write_line holds the same lock
 * for its whole line. Input is read straight from the driver, with a timeout, so the agent can
 * service esp-mqtt's events while it waits.
 */
#include <stdio.h>
#include <string.h>
#include "freertos/FreeRTOS.h"
#include "esp_log.h"
#include "sdkconfig.h"
#include "port_idf.h"

#if CONFIG_HILT_AGENT_CONSOLE_USB_SERIAL_JTAG
#include "driver/usb_serial_jtag.h"
#include "driver/usb_serial_jtag_vfs.h"
#else
#include "driver/uart.h"
#include "driver/uart_vfs.h"
#define HILT_UART ((uart_port_t)CONFIG_HILT_AGENT_UART_NUM)
#endif

/* How long one wait for console input may last before queued MQTT events are written. */
#define SLICE_MS 20

void hilt_idf_console_init(void)
{
    fflush(stdout);
#if CONFIG_HILT_AGENT_CONSOLE_USB_SERIAL_JTAG
    usb_serial_jtag_driver_config_t cfg = {
        .rx_buffer_size = CONFIG_HILT_AGENT_LINE_MAX,
        .tx_buffer_size = 1024,
    };
    if (!usb_serial_jtag_is_driver_installed()) {
        ESP_ERROR_CHECK(usb_serial_jtag_driver_install(&cfg));
    }
    /* stdout through the driver: blocking writes, nothing dropped while the host is slow */
    usb_serial_jtag_vfs_use_driver();
#else
    if (!uart_is_driver_installed(HILT_UART)) {
        /* the ESP-IDF console already configured the pins; the driver adds an RX buffer */
        ESP_ERROR_CHECK(uart_driver_install(HILT_UART, CONFIG_HILT_AGENT_LINE_MAX, 0, 0, NULL, 0));
    }
    ESP_ERROR_CHECK(uart_set_baudrate(HILT_UART, CONFIG_HILT_AGENT_UART_BAUD));
    uart_vfs_dev_use_driver(CONFIG_HILT_AGENT_UART_NUM);
#endif
}

static int read_some(uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
#if CONFIG_HILT_AGENT_CONSOLE_USB_SERIAL_JTAG
    /* returns as soon as anything is there */
    return usb_serial_jtag_read_bytes(buf, cap, pdMS_TO_TICKS(timeout_ms));
#else
    /* uart_read_bytes waits for all `cap` bytes, so wait for one, then take what is buffered */
    int n = uart_read_bytes(HILT_UART, buf, 1, pdMS_TO_TICKS(timeout_ms));
    if (n <= 0) {
        return n < 0 ? 0 : n;
    }
    size_t more = 0;
    if (uart_get_buffered_data_len(HILT_UART, &more) == ESP_OK && more > 0) {
        if (more > cap - 1) {
            more = cap - 1;
        }
        int m = uart_read_bytes(HILT_UART, buf + 1, more, 0);
        if (m > 0) {
            n += m;
        }
    }
    return n;
#endif
}

int hilt_idf_console_read(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
    (void)ctx;
    if (cap == 0) {
        return 0;
    }
    /* a board's console never ends: wait in slices, writing MQTT events in between */
    TickType_t start = xTaskGetTickCount();
    for (;;) {
        hilt_idf_net_deliver();
        uint32_t waited = (uint32_t)pdTICKS_TO_MS(xTaskGetTickCount() - start);
        uint32_t left = waited >= timeout_ms ? 0 : timeout_ms - waited;
        int n = read_some(buf, cap, left < SLICE_MS ? left : SLICE_MS);
        if (n > 0 || left == 0) {
            return n;
        }
    }
}

void hilt_idf_pump(uint32_t timeout_ms)
{
    uint8_t buf[128];
    TickType_t start = xTaskGetTickCount();
    for (;;) {
        hilt_idf_net_deliver();
        uint32_t waited = (uint32_t)pdTICKS_TO_MS(xTaskGetTickCount() - start);
        if (waited >= timeout_ms) {
            return;
        }
        uint32_t left = timeout_ms - waited;
        int n = read_some(buf, sizeof buf, left < SLICE_MS ? left : SLICE_MS);
        if (n > 0 && hilt_idf_core != NULL) {
            hilt_core_feed(hilt_idf_core, buf, (size_t)n); /* answered `busy` by the core */
        }
    }
}

void hilt_idf_console_write_line(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    flockfile(stdout);
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
}

void hilt_idf_console_log(void *ctx, hilt_log_level_t level, const char *tag, const char *message)
{
    (void)ctx;
    /* through ESP-IDF's logger, so the line has its timestamp, colour and level filter */
    switch (level) {
    case HILT_LOG_E: ESP_LOGE(tag, "%s", message); break;
    case HILT_LOG_W: ESP_LOGW(tag, "%s", message); break;
    case HILT_LOG_I: ESP_LOGI(tag, "%s", message); break;
    default: ESP_LOGD(tag, "%s", message); break;
    }
}

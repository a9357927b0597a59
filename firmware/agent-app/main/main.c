/*
 * main.c: brings up the network (Wi-Fi, or OpenCores Ethernet under QEMU), then hands the
 * console to hilt's agent (components/hilt_agent), which answers hilt's commands from then on.
 */
#include <string.h>
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/task.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "nvs_flash.h"
#include "sdkconfig.h"
#include "hilt_agent.h"
#include "hilt_port_idf.h"
#if CONFIG_HILT_APP_OPENETH
#include "esp_eth.h"
#include "esp_eth_mac_openeth.h"
#else
#include "esp_wifi.h"
#endif

static const char *TAG = "hil_app";
static EventGroupHandle_t s_net;
#define GOT_IP BIT0

static void on_got_ip(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg; (void)base; (void)id;
    const ip_event_got_ip_t *ev = data;
    ESP_LOGI(TAG, "got ip " IPSTR, IP2STR(&ev->ip_info.ip));
    xEventGroupSetBits(s_net, GOT_IP);
}

#if CONFIG_HILT_APP_OPENETH
static void net_start(void)
{
    esp_netif_config_t netif_cfg = ESP_NETIF_DEFAULT_ETH();
    esp_netif_t *netif = esp_netif_new(&netif_cfg);
    eth_mac_config_t mac_cfg = ETH_MAC_DEFAULT_CONFIG();
    eth_phy_config_t phy_cfg = ETH_PHY_DEFAULT_CONFIG();
    phy_cfg.autonego_timeout_ms = 100; /* QEMU's PHY answers at once (as ESP-IDF's examples set it) */
    esp_eth_mac_t *mac = esp_eth_mac_new_openeth(&mac_cfg);
    esp_eth_phy_t *phy = esp_eth_phy_new_dp83848(&phy_cfg);
    esp_eth_config_t eth_cfg = ETH_DEFAULT_CONFIG(mac, phy);
    esp_eth_handle_t eth = NULL;
    ESP_ERROR_CHECK(esp_eth_driver_install(&eth_cfg, &eth));
    ESP_ERROR_CHECK(esp_netif_attach(netif, esp_eth_new_netif_glue(eth)));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_ETH_GOT_IP, on_got_ip, NULL));
    ESP_ERROR_CHECK(esp_eth_start(eth));
}
#else
static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg; (void)base; (void)data;
    if (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED) {
        esp_wifi_connect(); /* and again after every loss: the lab may restart its access point */
    }
}

static void net_start(void)
{
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi, NULL));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_got_ip, NULL));
    wifi_config_t cfg = {0};
    strncpy((char *)cfg.sta.ssid, CONFIG_HILT_APP_WIFI_SSID, sizeof cfg.sta.ssid);
    strncpy((char *)cfg.sta.password, CONFIG_HILT_APP_WIFI_PASSWORD, sizeof cfg.sta.password);
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &cfg));
    ESP_ERROR_CHECK(esp_wifi_start());
}
#endif

static void agent_task(void *arg)
{
    (void)arg;
    hilt_agent_run(hilt_port_idf()); /* returns only if the console input ends: never on a board */
    vTaskDelete(NULL);
}

void app_main(void)
{
    esp_err_t err = nvs_flash_init(); /* Wi-Fi keeps its calibration data there */
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_ERROR_CHECK(err);
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    s_net = xEventGroupCreate();
    net_start();
    if (!(xEventGroupWaitBits(s_net, GOT_IP, pdFALSE, pdTRUE, pdMS_TO_TICKS(CONFIG_HILT_APP_IP_WAIT_MS)) & GOT_IP)) {
        ESP_LOGW(TAG, "no IP address after %d ms; starting the agent anyway", CONFIG_HILT_APP_IP_WAIT_MS);
    }
    xTaskCreate(agent_task, "hil_agent", CONFIG_HILT_AGENT_TASK_STACK, NULL, 5, NULL);
}

#!/usr/bin/env bash
# Syntax-checks the agent's ESP-IDF port (components/hilt_agent/port_idf/*.c) against a real
# ESP-IDF checkout's headers, without the Xtensa toolchain: the host's gcc with -fsyntax-only,
# -m32 (the ESP32 is a 32-bit target), the include folders an esp32 build of this component gets,
# and a small generated sdkconfig.h standing in for the one idf.py would write from
# agent-app/sdkconfig.defaults. What this proves and what it does not: docs/agent-firmware.md.
#
#   firmware/tools/check-idf-port.sh /path/to/esp-idf      (v5.5, submodules checked out)
#
# Exit codes: 0 every file compiled, 1 a file did not, 2 usage or an incomplete checkout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
component="$here/../components/hilt_agent"

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: check-idf-port.sh IDF_PATH (an ESP-IDF v5.5 checkout with its submodules)" >&2
  exit 2
fi
idf="$(cd "$1" 2>/dev/null && pwd)" || { echo "check-idf-port: $1: no such folder: give the path of an ESP-IDF checkout" >&2; exit 2; }
c="$idf/components"

# Every header the port reaches lives in one of these; a missing one names what to fetch.
need=(
  "esp-tls/esp_tls.h|the ESP-IDF tree itself (is $idf an ESP-IDF checkout?)"
  "mqtt/esp-mqtt/include/mqtt_client.h|the esp-mqtt submodule: git submodule update --init components/mqtt/esp-mqtt"
  "mbedtls/mbedtls/include/mbedtls/ssl.h|the mbedtls submodule: git submodule update --init components/mbedtls/mbedtls"
  "lwip/lwip/src/include/lwip/netdb.h|the lwip submodule: git submodule update --init components/lwip/lwip"
)
for entry in "${need[@]}"; do
  if [[ ! -f "$c/${entry%%|*}" ]]; then
    echo "check-idf-port: $c/${entry%%|*} is missing: check out ${entry#*|}" >&2
    exit 2
  fi
done
if [[ ! -f "$component/include/hilt_port.h" ]]; then
  echo "check-idf-port: $component/include/hilt_port.h is missing: the port cannot be checked without the core's port interface" >&2
  exit 2
fi
command -v gcc >/dev/null || { echo "check-idf-port: gcc not found: apt-get install gcc gcc-multilib" >&2; exit 2; }
# ESP-IDF's C library is newlib, not glibc: its headers (Debian's libnewlib-dev) replace the host's.
newlib=/usr/include/newlib
[[ -f "$newlib/sys/reent.h" ]] || { echo "check-idf-port: $newlib/sys/reent.h not found: apt-get install libnewlib-dev (ESP-IDF's C library headers)" >&2; exit 2; }
gcc -m32 -E -x c /dev/null -o /dev/null 2>/dev/null || { echo "check-idf-port: gcc cannot build for -m32: apt-get install gcc-multilib" >&2; exit 2; }

version="$(sed -n 's/^#define ESP_IDF_VERSION_\(MAJOR\|MINOR\) *\([0-9]*\).*/\2/p' "$c/esp_common/include/esp_idf_version.h" | paste -sd.)"
if [[ "$version" != "5.5" ]]; then
  echo "check-idf-port: warning: $idf is ESP-IDF $version; the port was written for v5.5" >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The options the headers and the port read, as an esp32 build of agent-app would set them
# (sdkconfig.defaults plus ESP-IDF v5.5's Kconfig defaults). Not ESP-IDF's file: written here.
cat > "$work/sdkconfig.h" <<'CFG'
#pragma once
#define CONFIG_IDF_TARGET "esp32"
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_IDF_TARGET_ARCH_XTENSA 1
#define CONFIG_IDF_TARGET_ARCH "xtensa"
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x0000
#define CONFIG_SOC_CPU_CORES_NUM 2
#define CONFIG_FREERTOS_HZ 100
#define CONFIG_FREERTOS_NUMBER_OF_CORES 2
#define CONFIG_FREERTOS_MAX_TASK_NAME_LEN 16
#define CONFIG_FREERTOS_TIMER_TASK_STACK_DEPTH 2048
#define CONFIG_FREERTOS_TIMER_TASK_PRIORITY 1
#define CONFIG_FREERTOS_TIMER_QUEUE_LENGTH 10
#define CONFIG_FREERTOS_QUEUE_REGISTRY_SIZE 0
#define CONFIG_FREERTOS_TASK_NOTIFICATION_ARRAY_ENTRIES 1
#define CONFIG_FREERTOS_THREAD_LOCAL_STORAGE_POINTERS 1
#define CONFIG_FREERTOS_IDLE_TASK_STACKSIZE 1536
#define CONFIG_FREERTOS_ISR_STACKSIZE 1536
#define CONFIG_FREERTOS_CHECK_STACKOVERFLOW_CANARY 1
#define CONFIG_FREERTOS_TICK_SUPPORT_CORETIMER 1
#define CONFIG_FREERTOS_CORETIMER_0 1
#define CONFIG_FREERTOS_SYSTICK_USES_CCOUNT 1
#define CONFIG_FREERTOS_INTERRUPT_BACKTRACE 1
#define CONFIG_FREERTOS_PORT 1
#define CONFIG_FREERTOS_NO_AFFINITY 0x7FFFFFFF
#define CONFIG_FREERTOS_SUPPORT_STATIC_ALLOCATION 1
#define CONFIG_FREERTOS_DEBUG_OCDAWARE 1
#define CONFIG_FREERTOS_ENABLE_TASK_SNAPSHOT 1
#define CONFIG_FREERTOS_PLACE_SNAPSHOT_FUNS_INTO_FLASH 1
#define CONFIG_FREERTOS_TASK_FUNCTION_WRAPPER 1
#define CONFIG_FREERTOS_TLSP_DELETION_CALLBACKS 1
#define CONFIG_LOG_DEFAULT_LEVEL 3
#define CONFIG_LOG_DEFAULT_LEVEL_INFO 1
#define CONFIG_LOG_MAXIMUM_LEVEL 3
#define CONFIG_LOG_MAXIMUM_EQUALS_DEFAULT 1
#define CONFIG_LOG_VERSION_1 1
#define CONFIG_LOG_VERSION 1
#define CONFIG_LOG_TIMESTAMP_SOURCE_RTOS 1
#define CONFIG_LOG_DYNAMIC_LEVEL_CONTROL 1
#define CONFIG_LOG_TAG_LEVEL_IMPL_CACHE_AND_LINKED_LIST 1
#define CONFIG_LOG_MODE_TEXT_EN 1
#define CONFIG_LOG_MODE_TEXT 1
#define CONFIG_LIBC_NEWLIB 1
#define CONFIG_LIBC_LOCKS_PLACE_IN_IRAM 1
#define CONFIG_ESP_CONSOLE_UART_DEFAULT 1
#define CONFIG_ESP_CONSOLE_UART 1
#define CONFIG_ESP_CONSOLE_UART_NUM 0
#define CONFIG_ESP_CONSOLE_UART_BAUDRATE 115200
#define CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ 240
#define CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_240 1
#define CONFIG_ESP_TIMER_IMPL_TG0_LAC 1
#define CONFIG_ESP_SYSTEM_CHECK_INT_LEVEL_5 1
#define CONFIG_ESP_IPC_TASK_STACK_SIZE 1024
#define CONFIG_ESP_MAIN_TASK_STACK_SIZE 3584
#define CONFIG_HEAP_POISONING_DISABLED 1
#define CONFIG_HEAP_TRACING_OFF 1
#define CONFIG_VFS_SUPPORT_IO 1
#define CONFIG_VFS_SUPPORT_SELECT 1
#define CONFIG_UART_ISR_IN_IRAM 0
#define CONFIG_ESP_TLS_USING_MBEDTLS 1
#define CONFIG_ESP_TLS_USE_DS_PERIPHERAL 1
#define CONFIG_MBEDTLS_INTERNAL_MEM_ALLOC 1
#define CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN 1
#define CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN 4096
#define CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE 1
#define CONFIG_MBEDTLS_PKCS7_C 1
#define CONFIG_MBEDTLS_CERTIFICATE_BUNDLE 1
#define CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_DEFAULT_FULL 1
#define CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS 200
#define CONFIG_MBEDTLS_HAVE_TIME 1
#define CONFIG_MBEDTLS_HAVE_TIME_DATE 1
#define CONFIG_MBEDTLS_ECDSA_DETERMINISTIC 1
#define CONFIG_MBEDTLS_SHA512_C 1
#define CONFIG_MBEDTLS_SHA3_C 1
#define CONFIG_MBEDTLS_TLS_CLIENT_ONLY 1
#define CONFIG_MBEDTLS_TLS_CLIENT 1
#define CONFIG_MBEDTLS_TLS_ENABLED 1
#define CONFIG_MBEDTLS_KEY_EXCHANGE_RSA 1
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ELLIPTIC_CURVE 1
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_RSA 1
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA 1
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA 1
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_RSA 1
#define CONFIG_MBEDTLS_SSL_RENEGOTIATION 1
#define CONFIG_MBEDTLS_SSL_PROTO_TLS1_2 1
#define CONFIG_MBEDTLS_SSL_ALPN 1
#define CONFIG_MBEDTLS_CLIENT_SSL_SESSION_TICKETS 1
#define CONFIG_MBEDTLS_AES_C 1
#define CONFIG_MBEDTLS_CCM_C 1
#define CONFIG_MBEDTLS_GCM_C 1
#define CONFIG_MBEDTLS_PEM_PARSE_C 1
#define CONFIG_MBEDTLS_PEM_WRITE_C 1
#define CONFIG_MBEDTLS_X509_CRL_PARSE_C 1
#define CONFIG_MBEDTLS_X509_CSR_PARSE_C 1
#define CONFIG_MBEDTLS_ECP_C 1
#define CONFIG_MBEDTLS_ECDH_C 1
#define CONFIG_MBEDTLS_ECDSA_C 1
#define CONFIG_MBEDTLS_ECP_DP_SECP192R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP224R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP521R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP192K1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP224K1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_SECP256K1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_BP256R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_BP384R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_BP512R1_ENABLED 1
#define CONFIG_MBEDTLS_ECP_DP_CURVE25519_ENABLED 1
#define CONFIG_MBEDTLS_ECP_NIST_OPTIM 1
#define CONFIG_MBEDTLS_ERROR_STRINGS 1
#define CONFIG_MBEDTLS_FS_IO 1
#define CONFIG_MBEDTLS_HARDWARE_AES 1
#define CONFIG_MBEDTLS_HARDWARE_MPI 1
#define CONFIG_MBEDTLS_HARDWARE_SHA 1
#define CONFIG_MBEDTLS_ROM_MD5 1
#define CONFIG_MBEDTLS_SSL_MAX_CONTENT_LEN 16384
#define CONFIG_MQTT_PROTOCOL_311 1
#define CONFIG_MQTT_TRANSPORT_SSL 1
#define CONFIG_MQTT_TRANSPORT_WEBSOCKET 1
#define CONFIG_MQTT_TRANSPORT_WEBSOCKET_SECURE 1
#define CONFIG_LWIP_IPV4 1
#define CONFIG_LWIP_IPV6 1
#define CONFIG_LWIP_MAX_SOCKETS 10
#define CONFIG_LWIP_SO_REUSE 1
#define CONFIG_LWIP_TCPIP_TASK_STACK_SIZE 3072
#define CONFIG_LWIP_DNS_MAX_SERVERS 3
#define CONFIG_LWIP_TCP_MSS 1440
#define CONFIG_LWIP_TIMERS_ONDEMAND 1
#define CONFIG_LWIP_MAX_ACTIVE_TCP 16
#define CONFIG_LWIP_MAX_LISTENING_TCP 16
#define CONFIG_LWIP_MAX_UDP_PCBS 16
#define CONFIG_LWIP_TCP_SND_BUF_DEFAULT 5760
#define CONFIG_LWIP_TCP_WND_DEFAULT 5760
#define CONFIG_LWIP_TCP_RECVMBOX_SIZE 6
#define CONFIG_LWIP_UDP_RECVMBOX_SIZE 6
#define CONFIG_LWIP_TCPIP_RECVMBOX_SIZE 32
#define CONFIG_LWIP_ESP_GRATUITOUS_ARP 1
#define CONFIG_LWIP_DHCP_DOES_ARP_CHECK 1
#define CONFIG_LWIP_SNTP_MAX_SERVERS 1
#define CONFIG_LWIP_IP_DEFAULT_TTL 64
#define CONFIG_LWIP_HOOK_IP6_ROUTE_NONE 1
#define CONFIG_LWIP_HOOK_ND6_GET_GW_NONE 1
#define CONFIG_LWIP_HOOK_NETCONN_EXT_RESOLVE_NONE 1
#define CONFIG_LWIP_HOOK_IP6_INPUT_DEFAULT 1
#define CONFIG_LWIP_HOOK_IP6_SELECT_SRC_ADDR_NONE 1
#define CONFIG_LWIP_HOOK_DHCP_EXTRA_OPTION_NONE 1
#define CONFIG_LWIP_HOOK_DNS_EXTERNAL_RESOLVE_NONE 1
#define CONFIG_LWIP_HOOK_TCP_ISN_DEFAULT 1
#define CONFIG_LWIP_TCP_OVERSIZE_MSS 1
#define CONFIG_LWIP_MAX_RAW_PCBS 16
#define CONFIG_LWIP_TCP_MAXRTX 12
#define CONFIG_LWIP_TCP_SYNMAXRTX 12
#define CONFIG_LWIP_TCP_MSL 60000
#define CONFIG_LWIP_TCP_FIN_WAIT_TIMEOUT 20000
#define CONFIG_LWIP_TCP_RTO_TIME 1500
#define CONFIG_LWIP_TCP_TMR_INTERVAL 250
#define CONFIG_LWIP_TCP_QUEUE_OOSEQ 1
#define CONFIG_LWIP_TCP_OOSEQ_TIMEOUT 6
#define CONFIG_LWIP_TCP_OOSEQ_MAX_PBUFS 4
#define CONFIG_LWIP_TCP_SACK_OUT 0
#define CONFIG_LWIP_DHCP_OPTIONS_LEN 68
#define CONFIG_LWIP_DHCP_COARSE_TIMER_SECS 1
#define CONFIG_LWIP_NETIF_LOOPBACK 1
#define CONFIG_LWIP_LOOPBACK_MAX_PBUFS 8
#define CONFIG_LWIP_IPV6_NUM_ADDRESSES 3
#define CONFIG_LWIP_IPV6_ND6_NUM_NEIGHBORS 5
#define CONFIG_LWIP_IPV6_ND6_NUM_PREFIXES 5
#define CONFIG_LWIP_IPV6_ND6_NUM_ROUTERS 3
#define CONFIG_LWIP_IPV6_ND6_NUM_DESTINATIONS 10
#define CONFIG_LWIP_DNS_SUPPORT_MDNS_QUERIES 1
#define CONFIG_LWIP_MAX_SOCKETS 10
#define CONFIG_LWIP_SNTP_UPDATE_DELAY 3600000
#define CONFIG_LWIP_SNTP_MAXIMUM_STARTUP_DELAY 5000
#define CONFIG_LWIP_ICMP 1
#define CONFIG_LWIP_BRIDGEIF_MAX_PORTS 7
#define CONFIG_LWIP_ESP_LWIP_ASSERT 1
#define CONFIG_LWIP_TCPIP_TASK_AFFINITY_NO_AFFINITY 1
#define CONFIG_LWIP_TCPIP_TASK_AFFINITY 0x7FFFFFFF
#define CONFIG_ESP_WIFI_STATIC_RX_BUFFER_NUM 10
#define CONFIG_ESP_WIFI_DYNAMIC_RX_BUFFER_NUM 32
#define CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER 1
#define CONFIG_ESP_WIFI_TX_BUFFER_TYPE 1
#define CONFIG_ESP_WIFI_DYNAMIC_TX_BUFFER_NUM 32
#define CONFIG_ESP_WIFI_STATIC_RX_MGMT_BUFFER 1
#define CONFIG_ESP_WIFI_DYNAMIC_RX_MGMT_BUF 0
#define CONFIG_ESP_WIFI_RX_MGMT_BUF_NUM_DEF 5
#define CONFIG_ESP_WIFI_AMPDU_TX_ENABLED 1
#define CONFIG_ESP_WIFI_TX_BA_WIN 6
#define CONFIG_ESP_WIFI_AMPDU_RX_ENABLED 1
#define CONFIG_ESP_WIFI_RX_BA_WIN 6
#define CONFIG_ESP_WIFI_NVS_ENABLED 1
#define CONFIG_ESP_WIFI_TASK_PINNED_TO_CORE_0 1
#define CONFIG_ESP_WIFI_SOFTAP_BEACON_MAX_LEN 752
#define CONFIG_ESP_WIFI_MGMT_SBUF_NUM 32
#define CONFIG_ESP_WIFI_ENABLE_WPA3_SAE 1
#define CONFIG_ESP_WIFI_ESPNOW_MAX_ENCRYPT_NUM 7
#define CONFIG_HILT_AGENT_CONSOLE_UART 1
#define CONFIG_HILT_AGENT_UART_NUM 0
#define CONFIG_HILT_AGENT_UART_BAUD 115200
#define CONFIG_HILT_AGENT_LINE_MAX 2048
#define CONFIG_HILT_AGENT_SLOTS 8
#define CONFIG_HILT_AGENT_SLOT_BYTES 8192
#define CONFIG_HILT_AGENT_TASK_STACK 10240
#define CONFIG_HILT_AGENT_MQTT_QUEUE 8
CFG

# The include folders of an esp32 build for the components the port requires (their
# CMakeLists' INCLUDE_DIRS), the submodules' headers among them.
dirs=(
  "$work"
  "$component/include" "$component/port_idf" "$component/core"
  "$c/newlib/platform_include"
  "$c/freertos/config/include" "$c/freertos/config/include/freertos" "$c/freertos/config/xtensa/include"
  "$c/freertos/FreeRTOS-Kernel/include" "$c/freertos/FreeRTOS-Kernel/portable/xtensa/include"
  "$c/freertos/FreeRTOS-Kernel/portable/xtensa/include/freertos" "$c/freertos/esp_additions/include"
  "$c/esp_hw_support/include" "$c/esp_hw_support/include/soc" "$c/esp_hw_support/include/soc/esp32"
  "$c/esp_hw_support/dma/include" "$c/esp_hw_support/ldo/include" "$c/esp_hw_support/debug_probe/include"
  "$c/esp_hw_support/port/esp32/." "$c/esp_hw_support/port/esp32/include"
  "$c/heap/include" "$c/heap/tlsf"
  "$c/log/include"
  "$c/soc/include" "$c/soc/esp32" "$c/soc/esp32/include" "$c/soc/esp32/register"
  "$c/hal/platform_port/include" "$c/hal/esp32/include" "$c/hal/include"
  "$c/esp_rom/include" "$c/esp_rom/esp32/include" "$c/esp_rom/esp32/include/esp32" "$c/esp_rom/esp32"
  "$c/esp_common/include" "$c/esp_system/include" "$c/esp_system/port/soc" "$c/esp_system/port/include/private"
  "$c/xtensa/esp32/include" "$c/xtensa/include" "$c/xtensa/deprecated_include"
  "$c/esp_timer/include" "$c/esp_app_format/include" "$c/esp_event/include" "$c/esp_netif/include"
  "$c/lwip/include" "$c/lwip/include/apps" "$c/lwip/include/apps/sntp" "$c/lwip/lwip/src/include"
  "$c/lwip/port/include" "$c/lwip/port/freertos/include" "$c/lwip/port/esp32xx/include"
  "$c/lwip/port/esp32xx/include/arch" "$c/lwip/port/esp32xx/include/sys"
  "$c/vfs/include" "$c/esp_ringbuf/include" "$c/esp_pm/include"
  "$c/esp_driver_uart/include" "$c/esp_driver_usb_serial_jtag/include" "$c/esp_driver_gpio/include"
  "$c/esp-tls" "$c/esp-tls/esp-tls-crypto"
  "$c/mbedtls/port/include" "$c/mbedtls/mbedtls/include" "$c/mbedtls/mbedtls/library"
  "$c/mbedtls/esp_crt_bundle/include"
  "$c/tcp_transport/include" "$c/mqtt/esp-mqtt/include" "$c/http_parser"
  "$c/esp_wifi/include" "$c/esp_wifi/wifi_apps/include" "$c/esp_wifi/wifi_apps/nan_app/include"
  "$c/esp_phy/include" "$c/esp_eth/include" "$c/nvs_flash/include" "$c/esp_partition/include"
)
flags=(-m32 -std=gnu17 -fsyntax-only -Wall -Wextra -Werror
       -D__XTENSA__ -DESP_PLATFORM -DIDF_VER="\"v$version\"" -D_GNU_SOURCE
       -DMBEDTLS_CONFIG_FILE="\"mbedtls/esp_config.h\"" -DSOC_MMU_PAGE_SIZE=CONFIG_MMU_PAGE_SIZE
       -DHILT_STORE_SLOTS=8 -DHILT_SLOT_BYTES=8192)
for d in "${dirs[@]}"; do [[ -d "$d" ]] && flags+=(-I "$d"); done
# Debian's newlib is 3.3; ESP-IDF v5.5's toolchain ships newlib 4, which dropped this const.
cp -r "$newlib" "$work/newlib"
sed -i 's/extern struct _reent \*const _global_impure_ptr/extern struct _reent *_global_impure_ptr/' "$work/newlib/sys/reent.h"
# Generic newlib has no <sys/dirent.h> (the toolchain's xtensa newlib does): use the definitions
# ESP-IDF's own platform header gives clang builds, which have none either.
sed -n '/^#ifdef __clang__/,/^#else \/\/ __clang__/p' "$c/newlib/platform_include/sys/dirent.h" | sed '1d;$d' > "$work/newlib/sys/dirent.h"
flags+=(-nostdinc -isystem "$work/newlib" -isystem "$(gcc -m32 -print-file-name=include)")

status=0
check() { # file, label, extra flags...
  local f="$1" label="$2"
  shift 2
  if out="$(gcc "${flags[@]}" "$@" "$f" 2>&1)"; then
    echo "ok      $label"
  else
    echo "FAILED  $label"
    printf '%s\n' "$out" | head -n 20
    status=1
  fi
}
for f in "$component"/port_idf/*.c; do
  check "$f" "port_idf/$(basename "$f")"
done
# The portable core is built and tested on the host (firmware/Makefile); here it meets newlib and
# the component's compile definitions, as idf.py would build it.
for f in "$component"/core/*.c; do
  [[ -e "$f" ]] && check "$f" "core/$(basename "$f")"
done
# The app: Wi-Fi (sdkconfig.defaults) and OpenCores Ethernet (sdkconfig.qemu).
app="$here/../agent-app/main/main.c"
check "$app" "agent-app/main/main.c (Wi-Fi)" -DCONFIG_HILT_APP_WIFI=1 -DCONFIG_HILT_APP_WIFI_SSID='"hilt-lab"' \
  -DCONFIG_HILT_APP_WIFI_PASSWORD='""' -DCONFIG_HILT_APP_IP_WAIT_MS=20000
check "$app" "agent-app/main/main.c (OpenETH, sdkconfig.qemu)" -DCONFIG_HILT_APP_OPENETH=1 \
  -DCONFIG_ETH_USE_OPENETH=1 -DCONFIG_ETH_ENABLED=1 -DCONFIG_ETH_OPENETH_DMA_RX_BUFFER_NUM=4 \
  -DCONFIG_ETH_OPENETH_DMA_TX_BUFFER_NUM=1 -DCONFIG_HILT_APP_IP_WAIT_MS=10000

# The options above reached Mbed TLS through ESP-IDF's own esp_config.h, as in a real build.
cat > "$work/config_check.c" <<'C'
#include "mbedtls/build_info.h"
#ifndef MBEDTLS_HAVE_TIME_DATE
#error "MBEDTLS_HAVE_TIME_DATE is off"
#endif
#if MBEDTLS_SSL_IN_CONTENT_LEN != 16384 || MBEDTLS_SSL_OUT_CONTENT_LEN != 4096
#error "record buffers are not IN 16384 / OUT 4096"
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) || !defined(MBEDTLS_SSL_PROTO_TLS1_2)
#error "not TLS 1.2 only"
#endif
#if !defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE) || !defined(MBEDTLS_SSL_ALPN)
#error "peer certificate or ALPN off: tls.peer / tls.alpn would stay null"
#endif
#if MBEDTLS_VERSION_MAJOR != 3 || MBEDTLS_VERSION_MINOR != 6
#error "not Mbed TLS 3.6"
#endif
typedef int config_ok;
C
check "$work/config_check.c" "Mbed TLS configuration as the reference firmware's (esp_config.h)"

# The other console choice. The esp32 has no USB-Serial/JTAG; its driver's headers are common code.
check "$component/port_idf/console.c" "port_idf/console.c (CONFIG_HILT_AGENT_CONSOLE_USB_SERIAL_JTAG)" \
  -UCONFIG_HILT_AGENT_CONSOLE_UART -DCONFIG_HILT_AGENT_CONSOLE_USB_SERIAL_JTAG=1
exit $status

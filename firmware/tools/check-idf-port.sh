#!/usr/bin/env bash
# Checks the agent's ESP-IDF port, core and example app against a real ESP-IDF checkout, without
# the Xtensa toolchain: sdkconfig.h is generated from ESP-IDF's Kconfig tree and the app's
# defaults (idf-sdkconfig.py), then every C file is compiled by the host's gcc with -fsyntax-only,
# -m32 (the ESP32 is a 32-bit target) and the include folders an esp32 build of this component
# gets. What this proves and what it does not: docs/agent-firmware.md.
#
#   firmware/tools/check-idf-port.sh /path/to/esp-idf      (v5.5, submodules checked out)
#
# Exit codes: 0 all passed, 1 a Kconfig step or a compile failed, 2 usage, an incomplete
# checkout or a missing tool.
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
  "../Kconfig|the ESP-IDF tree's root Kconfig (is $idf a whole ESP-IDF checkout?)"
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
# kconfiglib evaluates ESP-IDF's Kconfig (Debian's python3-kconfiglib; a pyenv python may not see it)
py=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import kconfiglib' 2>/dev/null; then py="$candidate"; break; fi
done
[[ -n "$py" ]] || { echo "check-idf-port: no python3 with kconfiglib found: apt-get install python3-kconfiglib" >&2; exit 2; }
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

# sdkconfig.h as idf.py would write it for the esp32: ESP-IDF's Kconfig tree, this component's
# Kconfig and the app's Kconfig.projbuild, evaluated by kconfiglib over sdkconfig.defaults (the
# DevKitC build) and over sdkconfig.defaults + sdkconfig.qemu (the QEMU build).
app_dir="$here/../agent-app"
mkdir -p "$work/board" "$work/qemu"
status=0
gen() { # folder, label, defaults files...
  local dir="$1" label="$2"
  shift 2
  if out="$("$py" "$here/idf-sdkconfig.py" "$idf" "$component" "$app_dir" "$dir/sdkconfig.h" "$@" 2>&1)"; then
    echo "ok      Kconfig: $label"
  else
    echo "FAILED  Kconfig: $label"
    printf '%s\n' "$out" | head -n 20
    status=1
  fi
}
gen "$work/board" "sdkconfig.defaults" "$app_dir/sdkconfig.defaults"
gen "$work/qemu" "sdkconfig.defaults + sdkconfig.qemu" "$app_dir/sdkconfig.defaults" "$app_dir/sdkconfig.qemu"
[[ $status -eq 0 ]] || exit 1
config_value() { sed -n "s/^#define $1 //p" "$work/board/sdkconfig.h"; }

# ESP-IDF's Mbed TLS is Espressif's fork, whose gcm.h also declares the software GCM context the
# port's gcm.h names. With upstream Mbed TLS headers in the checkout, a stand-in declares it.
mkdir -p "$work/mbedtls-fork/mbedtls"
if ! grep -q mbedtls_gcm_context_soft "$c/mbedtls/mbedtls/include/mbedtls/gcm.h"; then
  cat > "$work/mbedtls-fork/mbedtls/gcm.h" <<'H'
#pragma once
#include_next "mbedtls/gcm.h"
#if defined(MBEDTLS_GCM_ALT) && defined(MBEDTLS_GCM_NON_AES_CIPHER_SOFT_FALLBACK)
typedef mbedtls_gcm_context mbedtls_gcm_context_soft; /* stand-in: upstream headers lack it */
#endif
H
  echo "note    upstream Mbed TLS headers: mbedtls_gcm_context_soft declared by a stand-in (Espressif's fork declares it)"
fi

# The include folders of an esp32 build for the components the port requires (their
# CMakeLists' INCLUDE_DIRS), the submodules' headers among them.
dirs=(
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
  "$c/mbedtls/port/include" "$work/mbedtls-fork" "$c/mbedtls/mbedtls/include" "$c/mbedtls/mbedtls/library"
  "$c/mbedtls/esp_crt_bundle/include"
  "$c/tcp_transport/include" "$c/mqtt/esp-mqtt/include" "$c/http_parser"
  "$c/esp_wifi/include" "$c/esp_wifi/wifi_apps/include" "$c/esp_wifi/wifi_apps/nan_app/include"
  "$c/esp_phy/include" "$c/esp_eth/include" "$c/nvs_flash/include" "$c/esp_partition/include"
)
flags=(-m32 -std=gnu17 -fsyntax-only -Wall -Wextra -Werror
       -D__XTENSA__ -DESP_PLATFORM -DIDF_VER="\"v$version\"" -D_GNU_SOURCE
       -DMBEDTLS_CONFIG_FILE="\"mbedtls/esp_config.h\"" -DSOC_MMU_PAGE_SIZE=CONFIG_MMU_PAGE_SIZE
       -DHILT_STORE_SLOTS="$(config_value CONFIG_HILT_AGENT_SLOTS)"
       -DHILT_SLOT_BYTES="$(config_value CONFIG_HILT_AGENT_SLOT_BYTES)")
for d in "${dirs[@]}"; do [[ -d "$d" ]] && flags+=(-I "$d"); done
# Debian's newlib is 3.3; ESP-IDF v5.5's toolchain ships newlib 4, which dropped this const.
cp -r "$newlib" "$work/newlib"
sed -i 's/extern struct _reent \*const _global_impure_ptr/extern struct _reent *_global_impure_ptr/' "$work/newlib/sys/reent.h"
# Generic newlib has no <sys/dirent.h> (the toolchain's xtensa newlib does): use the definitions
# ESP-IDF's own platform header gives clang builds, which have none either.
sed -n '/^#ifdef __clang__/,/^#else \/\/ __clang__/p' "$c/newlib/platform_include/sys/dirent.h" | sed '1d;$d' > "$work/newlib/sys/dirent.h"
flags+=(-nostdinc -isystem "$work/newlib" -isystem "$(gcc -m32 -print-file-name=include)")

check() { # file, label, extra flags...
  local f="$1" label="$2"
  shift 2
  # extra flags first: an -I there is searched before the board's sdkconfig.h
  if out="$(gcc "$@" -I "$work/board" "${flags[@]}" "$f" 2>&1)"; then
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
check "$app" "agent-app/main/main.c (Wi-Fi, sdkconfig.defaults)"
check "$app" "agent-app/main/main.c (OpenETH, sdkconfig.qemu)" -I "$work/qemu"

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
  -DCONFIG_HILT_AGENT_CONSOLE_USB_SERIAL_JTAG=1
exit $status

#!/usr/bin/env bash
# Compares esp32_idf55_config.h with what ESP-IDF's own esp_config.h gives for the reference
# sdkconfig (idf55_reference_sdkconfig.h): both are run through the preprocessor over the same
# Mbed TLS headers and their macro sets are diffed. The only differences allowed are the HOST
# ones the config header explains; anything else means one of the two files is wrong.
#
#   check-against-idf.sh <esp-idf checkout at v5.5> <mbedtls folder with include/: the unpacked source or a hilt build>
#
# Exit 0: only the expected differences; 1: others (printed); 2: bad arguments.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
idf="${1:-}"; src="${2:-}"
esp_config="$idf/components/mbedtls/port/include/mbedtls/esp_config.h"
if [ -z "$idf" ] || [ ! -f "$esp_config" ]; then
  echo "check-against-idf.sh: no $esp_config: give an ESP-IDF checkout (tag v5.5) as the first argument" >&2; exit 2
fi
if [ -z "$src" ] || [ ! -f "$src/include/mbedtls/mbedtls_config.h" ]; then
  echo "check-against-idf.sh: no $src/include/mbedtls/mbedtls_config.h: give the unpacked Mbed TLS source (or a hilt native build folder) as the second argument" >&2; exit 2
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
# Stand-ins for the two chip headers esp_config.h includes: the one SOC fact it reads (the ESP32's
# SHA peripheral does SHA-512), and esp_mem.h's allocator declarations (names only matter here).
mkdir -p "$work/soc"
echo '#define SOC_SHA_SUPPORT_SHA512 1' > "$work/soc/soc_caps.h"
: > "$work/esp_mem.h"
cp "$here/idf55_reference_sdkconfig.h" "$work/sdkconfig.h"
macros() { # <config file> -> the macro set, one "NAME VALUE" a line, sorted
  echo '#include "mbedtls/build_info.h"' | gcc -E -dM -x c - -I"$work" -I"$(dirname "$esp_config")/.." -I"$src/include" \
    -DMBEDTLS_CONFIG_FILE="\"$1\"" | grep -E '^#define MBEDTLS_' | grep -v '^#define MBEDTLS_CONFIG_FILE ' |
    sed 's/^#define //' | resolve | sort
}
# esp_config.h writes some values as CONFIG_ names (MBEDTLS_SSL_IN_CONTENT_LEN CONFIG_...): give their values.
resolve() { awk 'NR == FNR { if ($1 == "#define") v[$2] = $3; next } { if ($2 in v) $2 = v[$2]; print }' "$work/sdkconfig.h" -; }
macros "$esp_config" > "$work/idf.txt"
macros "$here/esp32_idf55_config.h" > "$work/hilt.txt"
# The HOST differences esp32_idf55_config.h documents.
expected='^(MBEDTLS_(AES|GCM|SHA1|SHA256|SHA512|MD5)_ALT|MBEDTLS_GCM_NON_AES_CIPHER_SOFT_FALLBACK|MBEDTLS_MPI_(EXP_MOD|MUL_MPI)_ALT|MBEDTLS_ENTROPY_HARDWARE_ALT(_DEFINED)?|MBEDTLS_NO_PLATFORM_ENTROPY|MBEDTLS_PLATFORM_ENTROPY_ENABLED|MBEDTLS_PLATFORM_STD_(CALLOC|FREE)|MBEDTLS_PLATFORM_(MS_)?TIME_ALT)( |$)'
unexpected="$(diff "$work/idf.txt" "$work/hilt.txt" | grep -E '^[<>] ' | sed -E 's/^([<>]) /\1\t/' | awk -F'\t' -v re="$expected" '{ split($2, a, " "); if (a[1] !~ re) print }' || true)"
echo "esp_config.h (v5.5): $(wc -l < "$work/idf.txt") MBEDTLS_ macros; esp32_idf55_config.h: $(wc -l < "$work/hilt.txt")"
diff "$work/idf.txt" "$work/hilt.txt" | grep -E '^[<>] ' | sed 's/^</  only ESP-IDF:/; s/^>/  only hilt:   /' || true
if [ -n "$unexpected" ]; then
  echo "differences beyond the documented HOST ones:"; echo "$unexpected"; exit 1
fi
echo "only the documented HOST differences"

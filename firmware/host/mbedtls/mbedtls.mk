# Mbed TLS for the host agent: the pinned release, built for 32 bits (pointer and bignum limb sizes
# as on the ESP32) with the configuration ESP-IDF v5.5 gives the reference firmware.
#
#   make -C firmware mbedtls MBEDTLS_OUT=<folder outside the repo>
#
# gives <folder>/lib/libmbed{tls,x509,crypto}.a, <folder>/include (with the config header) and
# <folder>/bin/mbedtls-probe. hilt calls this from harness/native/build.ts with a cache folder
# keyed by these sources; the tarball is kept in MBEDTLS_DOWNLOADS between builds.
# Code that links the libraries uses $(MBEDTLS_CPPFLAGS), $(MBEDTLS_CFLAGS) and $(MBEDTLS_LIBS):
# a file compiled without the config define sees different structures than the library has.

MBEDTLS_HERE := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
MBEDTLS_OUT ?=
MBEDTLS_DOWNLOADS ?= $(MBEDTLS_OUT)/../downloads
# An ESP32's time_t has 64 bits (ESP-IDF 5); 32-bit glibc gives 32 unless asked, and Mbed TLS would
# then read a clock past January 2038 wrongly. time_t is in the library's structures (the session's
# start time), so every file that links it needs the same flags: they are in MBEDTLS_CPPFLAGS too.
MBEDTLS_TIME64 := -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64
MBEDTLS_CFLAGS := -m32 -O2 $(MBEDTLS_TIME64)
MBEDTLS_CPPFLAGS = $(MBEDTLS_TIME64) -I$(MBEDTLS_OUT)/include -DMBEDTLS_CONFIG_FILE='"mbedtls/esp32_idf55_config.h"'
MBEDTLS_LIBS = $(MBEDTLS_OUT)/lib/libmbedtls.a $(MBEDTLS_OUT)/lib/libmbedx509.a $(MBEDTLS_OUT)/lib/libmbedcrypto.a

.PHONY: mbedtls
mbedtls: $(MBEDTLS_OUT)/bin/mbedtls-probe

# Checked when make reads this file: with an empty MBEDTLS_OUT the targets below would be /lib/...
ifneq ($(filter mbedtls,$(MAKECMDGOALS)),)
ifeq ($(strip $(MBEDTLS_OUT)),)
$(error give MBEDTLS_OUT=<folder outside the repo> (npx hilt native build picks one in its cache))
endif
endif

# The source is unpacked under MBEDTLS_OUT and removed once the libraries and headers are copied
# out: the folder keeps only what consumers need. The library's own Makefile builds the three
# archives; CFLAGS replaces its default (-O2) so -m32 and the config define reach every file.
# No prerequisites on purpose: the folder is named by a hash of these sources (hilt native build),
# so a finished one is never stale, and a checkout that merely touched them must not make the
# agent's build (which depends on libmbedtls.a) rebuild the library inside the cache. Changed
# sources give a new folder.
$(MBEDTLS_OUT)/lib/libmbedtls.a:
	tarball="$$(bash $(MBEDTLS_HERE)/fetch.sh $(MBEDTLS_DOWNLOADS))" && \
	rm -rf $(MBEDTLS_OUT)/src && mkdir -p $(MBEDTLS_OUT)/src $(MBEDTLS_OUT)/lib && \
	tar -xjf "$$tarball" -C $(MBEDTLS_OUT)/src --strip-components=1
	cp $(MBEDTLS_HERE)/esp32_idf55_config.h $(MBEDTLS_OUT)/src/include/mbedtls/
	$(MAKE) -C $(MBEDTLS_OUT)/src lib CC="$(CC)" AR="$(AR)" \
	  CFLAGS="$(MBEDTLS_CFLAGS) -DMBEDTLS_CONFIG_FILE='\"mbedtls/esp32_idf55_config.h\"'"
	rm -rf $(MBEDTLS_OUT)/include && cp -r $(MBEDTLS_OUT)/src/include $(MBEDTLS_OUT)/include
	cp $(MBEDTLS_OUT)/src/library/libmbedcrypto.a $(MBEDTLS_OUT)/src/library/libmbedx509.a $(MBEDTLS_OUT)/lib/
	cp $(MBEDTLS_OUT)/src/library/libmbedtls.a $(MBEDTLS_OUT)/lib/
	rm -rf $(MBEDTLS_OUT)/src

$(MBEDTLS_OUT)/bin/mbedtls-probe: $(MBEDTLS_HERE)/probe.c $(MBEDTLS_OUT)/lib/libmbedtls.a
	mkdir -p $(MBEDTLS_OUT)/bin
	$(CC) $(MBEDTLS_CFLAGS) -std=c99 -Wall -Wextra -Werror $(MBEDTLS_CPPFLAGS) -o $@ $< $(MBEDTLS_LIBS)

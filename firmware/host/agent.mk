# The host agent (host/): hilt's agent core on POSIX, stdin/stdout as its UART, over the Mbed TLS
# that host/mbedtls/mbedtls.mk builds (included before this file, for MBEDTLS_*).
#
#   make -C firmware agent MBEDTLS_OUT=<mbedtls build> AGENT_OUT=<folder outside the repo>
#     -> <AGENT_OUT>/hilt-agent (agent-asan: hilt-agent-asan, with ASan and UBSan)
#   make -C firmware host-tests MBEDTLS_OUT=<...> AGENT_OUT=<...>
#     -> <AGENT_OUT>/test_mqtt311, test_heap_count, etls-probe (test/native/host-port.spec.ts runs them)

AGENT_HERE := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
AGENT_OUT ?=
AGENT_CORE := $(AGENT_HERE)/../components/hilt_agent
AGENT_HOST_SRCS := $(AGENT_HERE)/main.c $(AGENT_HERE)/esp_tls_host.c $(AGENT_HERE)/mqtt311.c $(AGENT_HERE)/heap_count.c \
                   $(AGENT_HERE)/connect_stack.c
AGENT_SRCS = $(AGENT_HOST_SRCS) $(wildcard $(AGENT_CORE)/core/*.c)
AGENT_DEPS = $(AGENT_SRCS) $(wildcard $(AGENT_HERE)/*.h $(AGENT_CORE)/include/*.h $(AGENT_CORE)/core/*.h)
AGENT_CFLAGS := -std=c99 -Wall -Wextra -Werror
AGENT_CPPFLAGS = -I$(AGENT_CORE)/include -I$(AGENT_CORE)/core -I$(AGENT_HERE) $(MBEDTLS_CPPFLAGS)

.PHONY: agent agent-asan host-tests agent-out-given
agent: $(AGENT_OUT)/hilt-agent
# The same agent with AddressSanitizer and UBSan (32-bit, like the library it links).
agent-asan: $(AGENT_OUT)/hilt-agent-asan
host-tests: $(AGENT_OUT)/test_mqtt311 $(AGENT_OUT)/test_heap_count $(AGENT_OUT)/etls-probe

agent-out-given:
	@test -n "$(AGENT_OUT)" || { echo "make agent: give AGENT_OUT=<folder outside the repo> and MBEDTLS_OUT=<Mbed TLS build> (hilt native build does)" >&2; exit 2; }
	@test -n "$(MBEDTLS_OUT)" || { echo "make agent: give MBEDTLS_OUT=<folder with the Mbed TLS build> (make mbedtls MBEDTLS_OUT=...)" >&2; exit 2; }

$(AGENT_OUT)/hilt-agent: $(AGENT_DEPS) $(MBEDTLS_OUT)/lib/libmbedtls.a | agent-out-given
	mkdir -p $(AGENT_OUT)
	$(CC) $(MBEDTLS_CFLAGS) $(AGENT_CFLAGS) $(AGENT_CPPFLAGS) -o $@ $(AGENT_SRCS) $(MBEDTLS_LIBS) -pthread

$(AGENT_OUT)/hilt-agent-asan: $(AGENT_DEPS) $(MBEDTLS_OUT)/lib/libmbedtls.a | agent-out-given
	mkdir -p $(AGENT_OUT)
	$(CC) -m32 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer $(AGENT_CFLAGS) $(AGENT_CPPFLAGS) -o $@ $(AGENT_SRCS) $(MBEDTLS_LIBS) -pthread

# The parts that need no broker or core, each with its own test program. test_mqtt311 and
# test_heap_count are plain C99 with no Mbed TLS: built for 64 bits with the sanitizers.
$(AGENT_OUT)/test_mqtt311: $(AGENT_HERE)/../tests/test_mqtt311.c $(AGENT_HERE)/mqtt311.c $(AGENT_HERE)/mqtt311.h | agent-out-given
	mkdir -p $(AGENT_OUT)
	$(CC) $(AGENT_CFLAGS) -g -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ $(filter %.c,$^)

$(AGENT_OUT)/test_heap_count: $(AGENT_HERE)/../tests/test_heap_count.c $(AGENT_HERE)/heap_count.c $(AGENT_HERE)/heap_count.h | agent-out-given
	mkdir -p $(AGENT_OUT)
	$(CC) $(AGENT_CFLAGS) -g -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ $(filter %.c,$^)

$(AGENT_OUT)/etls-probe: $(AGENT_HERE)/../tests/etls_probe.c $(AGENT_HERE)/esp_tls_host.c $(AGENT_HERE)/heap_count.c $(AGENT_HERE)/esp_tls_host.h $(MBEDTLS_OUT)/lib/libmbedtls.a | agent-out-given
	mkdir -p $(AGENT_OUT)
	$(CC) $(MBEDTLS_CFLAGS) $(AGENT_CFLAGS) $(MBEDTLS_CPPFLAGS) -o $@ $(filter %.c,$^) $(MBEDTLS_LIBS)

# The agent core's host targets (components/hilt_agent/core, tests/), included by ../Makefile.
# Everything is written under CORE_OUT, a folder outside the repository.
#
#   make core-check CORE_OUT=<dir>   compile the core for -m32 and -m64, -std=c99 -Wall -Wextra -Werror
#   make core-test  CORE_OUT=<dir>   build and run the unit tests (-m32 and -m64, ASan + UBSan)
#   make core-fuzz  CORE_OUT=<dir> [FUZZ_LINES=200000] [FUZZ_SEED=1]   the fuzz driver under ASan + UBSan, 32 and 64 bits
#   make core-stdio CORE_OUT=<dir>   the core on stdin/stdout over the test port (for test/native/core.spec.ts)

CC ?= gcc
CORE_DIR := components/hilt_agent
CORE_SRC := $(wildcard $(CORE_DIR)/core/*.c)
CORE_HDR := $(wildcard $(CORE_DIR)/core/*.h $(CORE_DIR)/include/*.h tests/*.h)
CORE_INC := -I$(CORE_DIR)/include -I$(CORE_DIR)/core
CORE_WARN := -std=c99 -pedantic -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wcast-qual \
             -Wwrite-strings -Wundef -Wformat=2
# The checked objects are optimised as ESP-IDF builds them (-Os), so flow warnings such as
# maybe-uninitialized show up here rather than in an ESP-IDF build.
CHECK_OPT := -Os
SANITIZE := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LINES ?= 200000
FUZZ_SEED ?= 1

.PHONY: core-check core-test core-fuzz core-stdio core-out
core-out:
	@test -n "$(CORE_OUT)" || { echo "CORE_OUT is not set: pass CORE_OUT=<dir outside the repository>" >&2; exit 2; }

$(CORE_OUT)/m32/%.o: $(CORE_DIR)/core/%.c $(CORE_HDR) | core-out
	@mkdir -p $(dir $@)
	$(CC) -m32 $(CHECK_OPT) $(CORE_WARN) $(CORE_INC) -c $< -o $@

$(CORE_OUT)/m64/%.o: $(CORE_DIR)/core/%.c $(CORE_HDR) | core-out
	@mkdir -p $(dir $@)
	$(CC) -m64 $(CHECK_OPT) $(CORE_WARN) $(CORE_INC) -c $< -o $@

core-check: $(patsubst $(CORE_DIR)/core/%.c,$(CORE_OUT)/m32/%.o,$(CORE_SRC)) \
            $(patsubst $(CORE_DIR)/core/%.c,$(CORE_OUT)/m64/%.o,$(CORE_SRC))

$(CORE_OUT)/test_core_m32 $(CORE_OUT)/test_core_m64: $(CORE_SRC) tests/test_core.c tests/test_port.c $(CORE_HDR) | core-out
	@mkdir -p $(CORE_OUT)
	$(CC) $(if $(findstring m32,$@),-m32,-m64) $(CORE_WARN) $(SANITIZE) $(CORE_INC) -Itests $(CORE_SRC) tests/test_core.c tests/test_port.c -o $@

core-test: core-check $(CORE_OUT)/test_core_m32 $(CORE_OUT)/test_core_m64
	$(CORE_OUT)/test_core_m32
	$(CORE_OUT)/test_core_m64

# Both widths: the host agent is a 32-bit build, and 64 bits catch what 32 bits hide.
$(CORE_OUT)/fuzz_lines_m32 $(CORE_OUT)/fuzz_lines_m64: $(CORE_SRC) tests/fuzz_lines.c tests/test_port.c $(CORE_HDR) | core-out
	@mkdir -p $(CORE_OUT)
	$(CC) $(if $(findstring m32,$@),-m32,-m64) $(CORE_WARN) $(SANITIZE) $(CORE_INC) -Itests $(CORE_SRC) tests/fuzz_lines.c tests/test_port.c -o $@

core-fuzz: $(CORE_OUT)/fuzz_lines_m32 $(CORE_OUT)/fuzz_lines_m64
	ASAN_OPTIONS=detect_leaks=1 $(CORE_OUT)/fuzz_lines_m32 $(FUZZ_LINES) $(FUZZ_SEED)
	ASAN_OPTIONS=detect_leaks=1 $(CORE_OUT)/fuzz_lines_m64 $(FUZZ_LINES) $(FUZZ_SEED)

$(CORE_OUT)/core_stdio: $(CORE_SRC) tests/core_stdio.c tests/test_port.c $(CORE_HDR) | core-out
	@mkdir -p $(CORE_OUT)
	$(CC) -m64 $(CORE_WARN) $(SANITIZE) $(CORE_INC) -Itests $(CORE_SRC) tests/core_stdio.c tests/test_port.c -o $@

core-stdio: $(CORE_OUT)/core_stdio

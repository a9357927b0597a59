/*
 * The core over the test port, on stdin/stdout: reads every input line, runs it through
 * hilt_agent_run, then prints what the core wrote (protocol lines, and log lines as
 * "L tag: message"). test/native/core.spec.ts feeds it the same lines as the emulator and
 * compares the answers. No network: a connect gets the test port's empty result.
 *
 *   core_stdio [comma-separated enabled ciphersuites] < lines
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_port.h"

int main(int argc, char **argv)
{
    static test_port_t tp;
    static hilt_port_t port;
    static char input[1 << 20];
    static const char *suites[256];
    size_t n = fread(input, 1, sizeof input - 1, stdin), i, count = 0;
    char *list;
    input[n] = '\0';
    tp_init(&tp, &port);
    if (argc > 1) {
        list = argv[1];
        while (list != NULL && *list != '\0' && count < 256) {
            char *comma = strchr(list, ',');
            if (comma) *comma = '\0';
            suites[count++] = list;
            list = comma ? comma + 1 : NULL;
        }
        tp.facts.ciphersuites = suites;
        tp.facts.ciphersuite_count = count;
    }
    tp.input = input;
    tp.input_ended = true;
    hilt_agent_run(&port);
    for (i = 0; i < tp.line_count; i++) printf("%s\n", tp.lines[i]);
    tp_free(&tp);
    return 0;
}

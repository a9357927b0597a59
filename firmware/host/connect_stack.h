/*
 * connect_stack.h: the host port's stand-in for the ESP-IDF port's connect task.
 *
 * On a board the connect runs in a FreeRTOS task of CONFIG_HILT_AGENT_CONNECT_STACK bytes (or the
 * command's `stack=`), and uxTaskGetStackHighWaterMark says how much of it the connect used. Here
 * it runs on a thread whose stack this module maps: `size` bytes painted with 0xa5 (as FreeRTOS
 * paints a task's stack), with PROT_NONE guard pages below. After the connect the painted bytes
 * nobody touched give the high-water mark. A connect that runs past the bottom faults in the
 * guard; the SIGSEGV handler (on its own signal stack) prints ESP-IDF's stack-overflow panic
 * and reboots the agent: it executes itself again with the same arguments plus --after-panic
 * (the boot event then says reset reason PANIC, as esp_reset_reason() does after a panic).
 *
 * The figures are the x86 (32-bit) build's: no register windows, another ABI, and software
 * crypto where an ESP32 has accelerators. docs/fidelity.md compares them with Espressif's.
 */
#ifndef HILT_CONNECT_STACK_H
#define HILT_CONNECT_STACK_H

#include <stdbool.h>
#include <stdint.h>

/** The size when the command gave no `stack=` (the ESP-IDF port's Kconfig default). */
#define CS_DEFAULT_STACK 8192u

/**
 * Installs the SIGSEGV handler and keeps what a reboot needs (argv, for executing the agent
 * again). Call once from main, before any connect.
 */
void cs_init(int argc, char **argv);

/**
 * Runs fn(arg) on a thread with a `size`-byte painted stack (0: CS_DEFAULT_STACK) and waits for
 * it. On return *peak_used holds the bytes of that stack the call used, and *measured whether
 * the figure is the firmware-like one (false in sanitizer builds, whose frames are not). NULL on
 * success, else a one-line reason (no memory or thread for the task).
 */
const char *cs_run(uint32_t size, void (*fn)(void *), void *arg, uint32_t *peak_used, bool *measured);

#endif

/*
 * The connect task of the host port: a thread on a painted stack with a guard below it
 * (connect_stack.h says why). Layout of one mapping, low addresses first:
 *
 *   [ guard: GUARD_BYTES, PROT_NONE ][ the task's stack: size bytes, painted ][ SLACK_BYTES ]
 *
 * glibc keeps the thread's descriptor and TLS at the top of a stack it is given, and the entry
 * function has a frame of its own; both live in the slack. The entry function then drops its
 * stack pointer to the top of the task's stack (a variable-length array of exactly the excess),
 * so the connect starts with `size` bytes below it, within a few dozen bytes.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, sigaltstack */
#define _POSIX_C_SOURCE 200809L
#include "connect_stack.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAINT 0xa5                  /* FreeRTOS's tskSTACK_FILL_BYTE */
#define GUARD_BYTES (64u * 1024u)   /* wide enough that a large frame lands in it, not beyond */
#define SLACK_BYTES (64u * 1024u)   /* glibc's descriptor and TLS, the entry frame */
#define ENTRY_FRAME 256u            /* what the entry function itself may use below its first local */

/* AddressSanitizer's frames carry redzones and are several times the firmware's: a sanitizer
 * build gives the task four times the stack and reports no figure (it would not be the firmware's). */
#if defined(__SANITIZE_ADDRESS__)
#define SCALE 4u
#define MEASURED false
#else
#define SCALE 1u
#define MEASURED true
#endif

extern char **environ;

/* The running task. The SIGSEGV handler reads the guard bounds, hence volatile. */
static struct {
    char *volatile guard_lo;
    char *volatile guard_hi;
    size_t size;
    char *end;                      /* the top of the mapping */
    void (*fn)(void *);
    void *arg;
    bool no_room;                   /* glibc took more of the slack than it can spare */
} task;

static char **reboot_argv;
/* The handler runs on this stack: the task's own is exhausted when it faults. */
static char alt_stack[64 * 1024];

static void put(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void put_hex(uintptr_t v)
{
    char out[2 + sizeof v * 2 + 1];
    size_t i, digits = sizeof v * 2;
    out[0] = '0';
    out[1] = 'x';
    for (i = 0; i < digits; i++) out[2 + i] = "0123456789abcdef"[(v >> (4 * (digits - 1 - i))) & 0xf];
    out[2 + digits] = '\0';
    put(out);
}

/*
 * ESP-IDF's output for a FreeRTOS stack overflow (vApplicationStackOverflowHook, then the panic
 * handler's backtrace and esp_restart), then the ROM's lines as the chip resets. Only
 * async-signal-safe calls: write, close, execve, _exit.
 */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
    char *at = (char *)si->si_addr;
    int fd;
    (void)uc;
    if (task.guard_lo == NULL || at < task.guard_lo || at >= task.guard_hi) {
        /* Not the task's overflow: a plain crash, as without this handler. */
        signal(sig, SIG_DFL);
        return;
    }
    put("***ERROR*** A stack overflow in task hilt_connect has been detected.\n");
    put("\n\nBacktrace: ");
    /* The host has no Xtensa PC:SP pairs to give; the faulting address stands in for the SP. */
    put_hex(0);
    put(":");
    put_hex((uintptr_t)at);
    put(" |<-CORRUPTED\n\n\n\n\nELF file SHA256: 0000000000000000\n\nRebooting...\n");
    put("ets Jul 29 2019 12:21:46\n\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n");
    /* The reboot: the sockets go (the broker sees the connection drop), the agent starts again. */
    for (fd = 3; fd < 1024; fd++) close(fd);
    if (reboot_argv != NULL) execve("/proc/self/exe", reboot_argv, environ);
    _exit(1);
}

void cs_init(int argc, char **argv)
{
    struct sigaction sa;
    int i, n = 0;
    bool again = false;
    /* argv plus --after-panic, once: the agent that starts after the panic says reset reason PANIC. */
    reboot_argv = calloc((size_t)argc + 2, sizeof *reboot_argv);
    if (reboot_argv != NULL) {
        for (i = 0; i < argc; i++) {
            reboot_argv[n++] = argv[i];
            if (strcmp(argv[i], "--after-panic") == 0) again = true;
        }
        if (!again) reboot_argv[n++] = (char *)"--after-panic";
        reboot_argv[n] = NULL;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    /* SA_NODEFER: execve keeps the signal mask, and the rebooted agent must not start with
     * SIGSEGV blocked. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}

static void __attribute__((noinline)) task_body(void)
{
    task.fn(task.arg);
}

static void *task_entry(void *unused)
{
    char here = 0;
    char *top = task.guard_hi + task.size;
    stack_t ss, before;
    (void)unused;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof alt_stack;
    /* Per thread: the fault is delivered to this one. The one it had is put back at the end
     * (AddressSanitizer frees the signal stack it gave the thread when the thread ends). */
    sigaltstack(&ss, &before);
    if (&here > top + 2 * ENTRY_FRAME && &here < task.end) {
        volatile char drop[(size_t)(&here - top) - ENTRY_FRAME];
        drop[sizeof drop - 1] = here;
        task_body();
    } else if (!MEASURED) {
        /* A sanitizer may keep locals off the stack (fake frames): run without the drop. */
        task_body();
    } else {
        task.no_room = true;
    }
    sigaltstack(&before, NULL);
    return NULL;
}

const char *cs_run(uint32_t size, void (*fn)(void *), void *arg, uint32_t *peak_used, bool *measured)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t usable = (size_t)(size ? size : CS_DEFAULT_STACK) * SCALE;
    size_t stack_bytes = (usable + page - 1) / page * page + SLACK_BYTES;
    size_t total = GUARD_BYTES + stack_bytes, i;
    char *region, *floor;
    pthread_attr_t attr;
    pthread_t thread;
    int err;

    *peak_used = 0;
    *measured = false;
    region = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return "no memory for the connect task's stack";
    floor = region + GUARD_BYTES;
    if (mprotect(region, GUARD_BYTES, PROT_NONE) != 0) {
        munmap(region, total);
        return "cannot protect the connect task's guard page";
    }
    memset(floor, PAINT, usable);
    task.size = usable;
    task.fn = fn;
    task.arg = arg;
    task.guard_lo = region;
    task.guard_hi = floor;
    task.end = region + total;
    task.no_room = false;

    pthread_attr_init(&attr);
    err = pthread_attr_setstack(&attr, floor, stack_bytes);
    if (err == 0) err = pthread_create(&thread, &attr, task_entry, NULL);
    pthread_attr_destroy(&attr);
    if (err == 0) pthread_join(thread, NULL);
    task.guard_lo = task.guard_hi = NULL;
    if (err != 0) {
        munmap(region, total);
        return "cannot start the connect task";
    }
    if (task.no_room) {
        munmap(region, total);
        return "no room for the connect task under glibc's thread data";
    }
    if (MEASURED) {
        /* The high-water mark: the lowest byte that is no longer the paint. */
        for (i = 0; i < usable && (unsigned char)floor[i] == PAINT; i++) {}
        *peak_used = (uint32_t)(usable - i);
        *measured = true;
    }
    munmap(region, total);
    return NULL;
}

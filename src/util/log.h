/* Diagnostics for -d LIST and -D FILE: the one place guest and emulator events are logged. */
#ifndef PCVM_UTIL_LOG_H
#define PCVM_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* -d items (the names QEMU users know). */
enum log_item {
    LOG_GUEST_ERRORS = 1u << 0,  /* guest did something invalid (bad port, bad register write) */
    LOG_INT          = 1u << 1,  /* every interrupt and exception taken */
    LOG_CPU_RESET    = 1u << 2,  /* CPU state at reset */
    LOG_IN_ASM       = 1u << 3,  /* guest code, disassembled once per translated trace */
    LOG_EXEC         = 1u << 4,  /* every trace executed */
    LOG_UNIMP        = 1u << 5,  /* unimplemented device features the guest used */
    LOG_CPU          = 1u << 6,  /* CPU state before each trace */
    LOG_PCALL        = 1u << 7,  /* protected-mode far calls, gates and task switches */
    LOG_MMU          = 1u << 8,  /* page faults and TLB flushes */
    LOG_IOPORT       = 1u << 9,  /* port I/O */
    LOG_OUT_ASM      = 1u << 10, /* host code (none until the JIT exists) */
    LOG_TRACE        = 1u << 11, /* device tracing */
};

struct pcvm_log {
    unsigned mask;  /* enabled log_item bits */
    FILE *out;      /* -D file, or stderr */
};

/* True when item is enabled (cheap: test before building a message). */
static inline bool log_enabled(const struct pcvm_log *log, unsigned item)
{
    return log && (log->mask & item);
}

/* Write a message for item when it is enabled. */
void log_printf(struct pcvm_log *log, unsigned item, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse a -d list ("guest_errors,int"); returns the mask, or -1 and the bad item in *bad. */
long log_parse_items(const char *list, const char **bad, unsigned *badlen);
/* Print the -d help listing to stdout. */
void log_print_items(void);

#endif

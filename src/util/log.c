/* Diagnostics for -d / -D. */
#include "util/log.h"

#include <string.h>

static const struct {
    const char *name;
    unsigned item;
    const char *help;
} log_items[] = {
    { "guest_errors", LOG_GUEST_ERRORS, "log when the guest accesses invalid state (bad ports, registers)" },
    { "int", LOG_INT, "show interrupts and exceptions" },
    { "cpu_reset", LOG_CPU_RESET, "show CPU state before CPU resets" },
    { "in_asm", LOG_IN_ASM, "show guest code as it is translated" },
    { "exec", LOG_EXEC, "show each trace as it is executed" },
    { "unimp", LOG_UNIMP, "log unimplemented functionality" },
    { "cpu", LOG_CPU, "show CPU registers before each trace" },
    { "pcall", LOG_PCALL, "show protected-mode far calls, returns and task switches" },
    { "mmu", LOG_MMU, "log page faults and TLB flushes" },
    { "ioport", LOG_IOPORT, "show all port accesses" },
    { "out_asm", LOG_OUT_ASM, "show generated host code (none: pcvm interprets)" },
    { "trace", LOG_TRACE, "device tracing" },
};

void log_printf(struct pcvm_log *log, unsigned item, const char *fmt, ...)
{
    if (!log_enabled(log, item))
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log->out ? log->out : stderr, fmt, ap);
    va_end(ap);
}

long log_parse_items(const char *list, const char **bad, unsigned *badlen)
{
    unsigned mask = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        if (len == 3 && !strncmp(p, "all", 3)) {
            for (size_t i = 0; i < sizeof(log_items) / sizeof(log_items[0]); i++)
                mask |= log_items[i].item;
            found = true;
        }
        for (size_t i = 0; !found && i < sizeof(log_items) / sizeof(log_items[0]); i++) {
            if (strlen(log_items[i].name) == len && !strncmp(p, log_items[i].name, len)) {
                mask |= log_items[i].item;
                found = true;
            }
        }
        if (!found) {
            if (bad)
                *bad = p;
            if (badlen)
                *badlen = (unsigned)len;
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return (long)mask;
}

void log_print_items(void)
{
    printf("Log items (comma separated):\n");
    for (size_t i = 0; i < sizeof(log_items) / sizeof(log_items[0]); i++)
        printf("%-15s %s\n", log_items[i].name, log_items[i].help);
}

/* pcvm entry point: options -> config -> machine -> main loop -> exit status. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/wiring.h"
#include "machine/pc.h"
#include "machine/snapshot.h"
#include "util/log.h"
#include "util/mainloop.h"

/* The one piece of process-wide state: where a termination signal asks the loop to stop, and
 * which signal (and sender) it was, reported once the machine has stopped. */
static struct mainloop *signal_loop;
static volatile sig_atomic_t signal_number;
static volatile sig_atomic_t signal_sender;

static void on_terminate(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (!signal_number) {
        signal_number = sig;
        signal_sender = info && info->si_code == SI_USER ? info->si_pid : 0;
    }
    if (signal_loop)
        mainloop_request_exit(signal_loop, 0);
}

static void install_signal_handlers(struct mainloop *ml)
{
    signal_loop = ml;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_terminate;
    sa.sa_flags = SA_SIGINFO;   /* no SA_RESTART: a wait for a socket client sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed socket peer must not kill the VM */
}

/* QEMU's line: "terminating on signal N from pid P (program)". */
static void report_signal(void)
{
    int sig = signal_number, pid = signal_sender;
    if (!pid) {
        fprintf(stderr, "pcvm: terminating on signal %d\n", sig);
        return;
    }
    char path[64], name[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(name, 1, sizeof(name) - 1, f);
        name[n] = 0;   /* the first NUL ends argv[0] */
        fclose(f);
    }
    if (name[0])
        fprintf(stderr, "pcvm: terminating on signal %d from pid %d (%s)\n", sig, pid, name);
    else
        fprintf(stderr, "pcvm: terminating on signal %d from pid %d\n", sig, pid);
}

/* A signal before the machine exists (waiting for a server socket's first client): as QEMU,
 * whose handlers are not installed yet, the process ends by that signal, after the sockets
 * are removed and the terminal restored. */
static void die_by_signal(int sig)
{
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Features the command line accepts but the machine does not have yet: one clear line. */
static const char *not_yet_supported(const struct vm_config *cfg)
{
    (void)cfg;
    return NULL;
}

int main(int argc, char **argv)
{
    struct vm_config cfg;
    int status = cli_parse_or_exit(&cfg, argc, argv);
    if (status >= 0)
        return status;

    const char *refusal = not_yet_supported(&cfg);
    if (refusal) {
        fprintf(stderr, "%s\n", refusal);
        vm_config_free(&cfg);
        return 1;
    }

    struct pcvm_log log = { .mask = cfg.log_mask, .out = stderr };
    if (cfg.log_file) {
        log.out = fopen(cfg.log_file, "w");
        if (!log.out) {
            fprintf(stderr, "pcvm: -D %s: %s\n", cfg.log_file, strerror(errno));
            vm_config_free(&cfg);
            return 1;
        }
        setvbuf(log.out, NULL, _IOFBF, 1 << 16);
    }

    static struct mainloop ml;
    static struct vm_chardevs chardevs;
    static struct pc pc;
    char err[1024];
    status = 1;
    if (mainloop_init(&ml) < 0) {
        fprintf(stderr, "pcvm: cannot create the event loop: %s\n", strerror(errno));
        goto out_log;
    }
    install_signal_handlers(&ml);
    if (vm_chardevs_open(&chardevs, &cfg, &ml, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out_ml;
    }
    if (signal_number) {
        vm_chardevs_close(&chardevs);
        mainloop_destroy(&ml);
        die_by_signal(signal_number);
        goto out_log;
    }
    if (pc_create(&pc, &cfg, &log, &ml, &chardevs, err, sizeof(err)) < 0) {
        pc_destroy(&pc);
        vm_chardevs_close(&chardevs);
        fprintf(stderr, "%s\n", err);
        goto out_ml;
    }
    if (pc_snapshot_startup(&pc, err, sizeof(err)) < 0) {   /* -loadvm, -incoming */
        pc_destroy(&pc);
        vm_chardevs_close(&chardevs);
        fprintf(stderr, "%s\n", err);
        goto out_ml;
    }
    if (cfg.pidfile) {
        FILE *f = fopen(cfg.pidfile, "w");
        if (!f) {
            pc_destroy(&pc);
            vm_chardevs_close(&chardevs);
            fprintf(stderr, "pcvm: -pidfile %s: %s\n", cfg.pidfile, strerror(errno));
            goto out_ml;
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    status = pc_run(&pc);
    pc_destroy(&pc);               /* the monitors detach from their chardevs here */
    vm_chardevs_close(&chardevs);  /* flushes guest output, restores the terminal */
    if (signal_number)
        report_signal();           /* after the terminal is back in cooked mode */
    if (cfg.pidfile)
        unlink(cfg.pidfile);
out_ml:
    signal_loop = NULL;
    mainloop_destroy(&ml);
out_log:
    if (log.out && log.out != stderr)
        fclose(log.out);
    vm_config_free(&cfg);
    return status;
}

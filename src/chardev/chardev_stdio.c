/* stdio back end: the terminal in raw mode, restored on every exit path. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "chardev/chardev_fd.h"

/* The one piece of process-wide state in the chardevs: signal handlers and atexit cannot be
 * handed a pointer, and the terminal itself is process-wide. */
static struct termios saved_tio;
static struct termios raw_tio;
static volatile sig_atomic_t tio_saved;
static bool exit_hooks_installed;
static struct sigaction old_actions[NSIG];

static const int restore_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV,
                                       SIGBUS, SIGFPE, SIGILL, SIGTSTP, SIGCONT };

static void restore_terminal(void)
{
    if (tio_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void write_str(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    if (sig == SIGCONT) {   /* back from Ctrl-Z: raw again */
        if (tio_saved)
            tcsetattr(STDIN_FILENO, TCSANOW, &raw_tio);
        return;
    }
    const struct sigaction *old = &old_actions[sig];
    bool old_is_handler = (old->sa_flags & SA_SIGINFO) ? old->sa_sigaction != NULL
                                                       : old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN;
    if ((sig == SIGINT || sig == SIGTERM || sig == SIGHUP) && old_is_handler) {
        /* pcvm's own handler stops the machine; the terminal is restored on that way out and
         * it reports the signal. Pass the sender along. */
        if (old->sa_flags & SA_SIGINFO)
            old->sa_sigaction(sig, info, ctx);
        else
            old->sa_handler(sig);
        return;
    }
    restore_terminal();
    if (sig == SIGTSTP) {
        raise(SIGSTOP);
        return;
    }
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
        char msg[] = "\npcvm: terminating on signal NN\n";
        char *p = strstr(msg, "NN");
        p[0] = (char)('0' + sig / 10);
        p[1] = (char)('0' + sig % 10);
        if (p[0] == '0')
            memmove(p, p + 1, strlen(p));
        write_str(msg);
    }
    /* Hand the signal to whoever had it (default action, ASan ...). */
    sigaction(sig, old, NULL);
    if (sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE && sig != SIGILL)
        raise(sig);
    /* faults: returning re-executes the faulting instruction under the old handler */
}

static void install_exit_hooks(void)
{
    if (exit_hooks_installed)
        return;
    exit_hooks_installed = true;
    atexit(restore_terminal);
    for (size_t i = 0; i < sizeof(restore_signals) / sizeof(restore_signals[0]); i++) {
        int sig = restore_signals[i];
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART | SA_SIGINFO;
        sigaction(sig, &sa, &old_actions[sig]);
    }
}

static void stdio_close(struct chardev *chr)
{
    fdchr_close_common(chr);
    restore_terminal();
    tio_saved = 0;
}

const struct chardev_ops chardev_stdio_ops = { .write = fdchr_write, .close = stdio_close };

struct chardev *chardev_stdio_open(const struct chardev_spec *spec, const char *label,
                                   struct mainloop *ml, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct chardev *chr = fdchr_new(label, ml, CHARDEV_STDIO);
    struct fdchr *f = chr->priv;
    chr->ops = &chardev_stdio_ops;
    f->in_fd = STDIN_FILENO;
    f->out_fd = STDOUT_FILENO;
    f->out_blocking = true;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
        raw_tio = saved_tio;
        raw_tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
                                       IXON);
        raw_tio.c_oflag |= OPOST;   /* keep "\n" -> "\r\n" as a terminal user expects */
        raw_tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
        if (!spec->signal)
            raw_tio.c_lflag &= ~(tcflag_t)ISIG;   /* Ctrl-C goes to the guest */
        raw_tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
        raw_tio.c_cflag |= CS8;
        raw_tio.c_cc[VMIN] = 1;
        raw_tio.c_cc[VTIME] = 0;
        tio_saved = 1;
        install_exit_hooks();
        tcsetattr(STDIN_FILENO, TCSANOW, &raw_tio);
        f->stdio_raw = true;
    }
    fdchr_register(f);
    return chr;
}

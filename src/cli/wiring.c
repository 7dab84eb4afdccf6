/* Opening the character devices a config names. */
#include "cli/wiring.h"

#include <stdio.h>
#include <string.h>

#include "gdbstub/gdbstub.h"

static struct chardev *own(struct vm_chardevs *cd, struct chardev *chr)
{
    if (chr)
        cd->owned[cd->n_owned++] = chr;
    return chr;
}

/* A front end for spec; *mux_out gets the mux when spec made one (mon:...). */
static int get_frontend(struct vm_chardevs *cd, const struct vm_config *cfg, const char *opt,
                        const char *spec, const char *label, struct mainloop *ml,
                        struct chardev **out, struct chardev **mux_out, char *err, size_t errlen)
{
    char e[512];
    *out = NULL;
    if (mux_out)
        *mux_out = NULL;
    if (!strncmp(spec, "chardev:", 8)) {
        const char *id = spec + 8;
        for (unsigned i = 0; i < cfg->n_chardevs; i++) {
            if (strcmp(cfg->chardevs[i].id, id))
                continue;
            struct chardev *chr = cd->by_id[i];
            if (chardev_is_mux(chr)) {
                *out = chardev_mux_frontend(chr, label);
                if (!*out) {
                    snprintf(err, errlen, "pcvm: %s %s: too many users of chardev '%s'", opt,
                             spec, id);
                    return -1;
                }
            } else {
                if (cd->id_used[i]) {
                    snprintf(err, errlen, "pcvm: %s %s: chardev '%s' is already in use "
                             "(add mux=on to share it)", opt, spec, id);
                    return -1;
                }
                cd->id_used[i] = true;
                *out = chr;
            }
            return 0;
        }
        snprintf(err, errlen, "pcvm: %s %s: no -chardev with this id", opt, spec);
        return -1;
    }
    struct chardev *chr = own(cd, chardev_open(spec, label, ml, e, sizeof(e)));
    if (!chr) {
        if (e[0]) {
            snprintf(err, errlen, "pcvm: %s %s: %s", opt, spec, e);
            return -1;
        }
        return 0;   /* none */
    }
    if (chardev_is_mux(chr)) {
        *out = chardev_mux_frontend(chr, label);
        if (mux_out)
            *mux_out = chr;
    } else {
        *out = chr;
    }
    return 0;
}

/* -gdb SPEC / -s: the stub's connection, opened as QEMU would (tcp: a server that does not
 * hold the start); one line naming the option when it cannot be opened (port taken). */
static int open_gdb(struct vm_chardevs *cd, const struct vm_config *cfg, struct mainloop *ml,
                    char *err, size_t errlen)
{
    if (!strncmp(cfg->gdb, "chardev:", 8))
        return get_frontend(cd, cfg, "-gdb", cfg->gdb, "gdb", ml, &cd->gdb, NULL, err, errlen);
    char spec[1200], e[512];
    gdbstub_chardev_spec(cfg->gdb, spec, sizeof(spec));
    cd->gdb = own(cd, chardev_open(spec, "gdb", ml, e, sizeof(e)));
    if (!cd->gdb && e[0]) {
        snprintf(err, errlen, "pcvm: -gdb %s: %s", cfg->gdb, e);
        return -1;
    }
    return 0;
}

int vm_chardevs_open(struct vm_chardevs *cd, const struct vm_config *cfg, struct mainloop *ml,
                     char *err, size_t errlen)
{
    memset(cd, 0, sizeof(*cd));
    char e[512];
    for (unsigned i = 0; i < cfg->n_chardevs; i++) {
        cd->by_id[i] = own(cd, chardev_open(cfg->chardevs[i].spec, cfg->chardevs[i].id, ml, e,
                                            sizeof(e)));
        if (!cd->by_id[i]) {
            snprintf(err, errlen, "pcvm: -chardev %s: %s", cfg->chardevs[i].spec, e);
            goto fail;
        }
    }
    for (unsigned i = 0; i < cfg->n_serial; i++) {
        char label[24];
        snprintf(label, sizeof(label), "serial%u", i);
        struct chardev *mux = NULL;
        if (get_frontend(cd, cfg, "-serial", cfg->serial[i], label, ml, &cd->serial[i], &mux, err,
                         errlen) < 0)
            goto fail;
        cd->n_serial = i + 1;
        if (mux) {   /* mon:SPEC: the monitor shares it, behind Ctrl-A c */
            char mlabel[24];
            snprintf(mlabel, sizeof(mlabel), "monitor%u", cd->n_monitors);
            cd->monitor[cd->n_monitors++] = chardev_mux_frontend(mux, mlabel);
        }
    }
    for (unsigned i = 0; i < cfg->n_monitors; i++) {
        const struct vm_monitor *m = &cfg->monitors[i];
        char label[24];
        snprintf(label, sizeof(label), "monitor%u", cd->n_monitors);
        char ref[80];
        const char *spec = m->spec;
        if (!spec) {
            snprintf(ref, sizeof(ref), "chardev:%s", m->chardev_id);
            spec = ref;
        }
        struct chardev *chr = NULL;
        const char *opt = m->spec ? (m->control ? "-qmp" : "-monitor") : "-mon";
        if (get_frontend(cd, cfg, opt, spec, label, ml, &chr, NULL, err, errlen) < 0)
            goto fail;
        if (chr) {
            cd->monitor_control[cd->n_monitors] = m->control;
            cd->monitor_pretty[cd->n_monitors] = m->pretty;
            cd->monitor[cd->n_monitors++] = chr;
        }
    }
    if (cfg->debugcon &&
        get_frontend(cd, cfg, "-debugcon", cfg->debugcon, "debugcon", ml, &cd->debugcon, NULL, err,
                     errlen) < 0)
        goto fail;
    if (cfg->gdb && open_gdb(cd, cfg, ml, err, errlen) < 0)
        goto fail;
    for (unsigned i = 0; i < cfg->n_devices; i++) {
        const struct vm_device *d = &cfg->devices[i];
        if (strcmp(d->driver, "virtconsole") && strcmp(d->driver, "virtserialport"))
            continue;
        for (unsigned k = 0; k < d->n_props; k++) {
            if (strcmp(d->props[k].key, "chardev"))
                continue;
            char opt[48], ref[80];
            snprintf(opt, sizeof(opt), "-device %s", d->driver);
            snprintf(ref, sizeof(ref), "chardev:%s", d->props[k].value);
            if (get_frontend(cd, cfg, opt, ref, d->props[k].value, ml, &cd->device[i], NULL, err, errlen) < 0)
                goto fail;
        }
    }
    return 0;
fail:
    vm_chardevs_close(cd);
    return -1;
}

void vm_chardevs_close(struct vm_chardevs *cd)
{
    for (unsigned i = cd->n_owned; i-- > 0;)
        chardev_close(cd->owned[i]);
    memset(cd, 0, sizeof(*cd));
}

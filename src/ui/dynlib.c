/* Libraries loaded on first use (dynlib.h). */
#include "ui/dynlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t dynlib_lock = PTHREAD_MUTEX_INITIALIZER;

int dynlib_load(struct dynlib *lib, char *err, size_t errlen)
{
    pthread_mutex_lock(&dynlib_lock);
    int rc = 0;
    if (lib->handle)
        goto out;
    void *h = NULL;
    char why[256] = "";
    for (const char *const *n = lib->sonames; *n && !h; n++) {
        h = dlopen(*n, RTLD_NOW | RTLD_LOCAL);
        const char *e = h ? NULL : dlerror();
        if (e && !why[0])
            snprintf(why, sizeof(why), "%s", e);   /* the soname's reason is the telling one */
    }
    if (!h) {
        snprintf(err, errlen, "cannot load %s: %s", lib->what, why[0] ? why : lib->sonames[0]);
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < lib->nsyms; i++) {
        dlerror();
        void *p = dlsym(h, lib->syms[i].name);
        if (!p) {
            snprintf(err, errlen, "%s (%s) lacks %s: too old?", lib->what, lib->sonames[0], lib->syms[i].name);
            dlclose(h);
            rc = -1;
            goto out;
        }
        *lib->syms[i].slot = p;
    }
    lib->handle = h;
out:
    pthread_mutex_unlock(&dynlib_lock);
    return rc;
}

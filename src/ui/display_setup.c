/* -vnc and -display sdl, and QEMU's default window. */
#include "ui/display_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/sdl.h"
#include "ui/vnc.h"

int display_start_frontends(struct display *d, const struct vm_config *cfg, char *err, size_t errlen)
{
    if (cfg->vnc) {
        struct vnc_spec spec;
        char why[256];
        if (vnc_spec_parse(cfg->vnc, &spec, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "pcvm: -vnc %s: %s", cfg->vnc, why);
            return -1;
        }
        if (!spec.none && !vnc_start(&spec, cfg->keyboard_layout, d, err, errlen))
            return -1;
    }
    if (cfg->display == VM_DISPLAY_SDL && !sdl_start(d, err, errlen))
        return -1;
    /* QEMU opens a window when nothing else says where the screen goes (no -display, -vnc
     * or -nographic) and the desktop has a display; so does pcvm, through SDL. Without one,
     * or when the window cannot open, the guest runs on without a screen, as before. */
    const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    bool desktop = (x11 && *x11) || (wayland && *wayland);
    if (cfg->display == VM_DISPLAY_DEFAULT && !cfg->nographic && !cfg->vnc && desktop) {
        char why[320];
        if (!sdl_start(d, why, sizeof(why)))
            fprintf(stderr, "pcvm: warning: no window (%s); -display none runs without one\n",
                    strncmp(why, "pcvm: ", 6) ? why : why + 6);
    }
    return 0;
}

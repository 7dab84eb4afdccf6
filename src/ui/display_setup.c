/* -vnc and -display sdl. */
#include "ui/display_setup.h"

#include <stdio.h>

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
    return 0;
}

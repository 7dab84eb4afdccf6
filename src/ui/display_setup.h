/* Starting the display front ends the command line asks for. */
#ifndef PCVM_UI_DISPLAY_SETUP_H
#define PCVM_UI_DISPLAY_SETUP_H

#include <stddef.h>

#include "cli/config.h"
#include "ui/display.h"

/* Start -vnc and -display sdl as cfg says; 0, or -1 with one line in err. */
int display_start_frontends(struct display *d, const struct vm_config *cfg, char *err, size_t errlen);

#endif

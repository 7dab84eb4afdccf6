/* Writing the display's picture to a file: PPM (P6) or PNG (through libpng). */
#ifndef PCVM_UI_SCREENDUMP_H
#define PCVM_UI_SCREENDUMP_H

#include <stddef.h>

#include "ui/vga_render.h"

enum screendump_format { SCREENDUMP_PPM, SCREENDUMP_PNG };

/* Write s to path in format; 0, or -1 with a one-line reason in err. */
int screendump_write(const struct display_surface *s, const char *path, enum screendump_format format,
                     char *err, size_t errlen);

#endif

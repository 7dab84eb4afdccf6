/* The SDL2 window (-display sdl). Its own thread owns SDL; the main thread hands it changed
 * lines through the display. QEMU's keys: Ctrl-Alt-G grabs or releases the mouse and
 * keyboard, Ctrl-Alt-F toggles full screen, Ctrl-Alt-Q quits; a click in the window grabs. */
#ifndef PCVM_UI_SDL_H
#define PCVM_UI_SDL_H

#include <stddef.h>

#include "ui/display.h"

struct sdl_window;
/* Open the window (as a front end of d, destroyed with it); NULL with one line in err when
 * there is no usable video (no $DISPLAY ...). */
struct sdl_window *sdl_start(struct display *d, char *err, size_t errlen);

#endif

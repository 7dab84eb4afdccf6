/* The monitor's display commands: HMP screendump, mouse_move, mouse_button, set_password vnc,
 * info vnc, and QMP screendump. */
#ifndef PCVM_UI_DISPLAY_MONITOR_H
#define PCVM_UI_DISPLAY_MONITOR_H

#include <stdbool.h>

#include "monitor/monitor.h"
#include "monitor/registry.h"
#include "ui/display.h"

/* Add the display commands (called with d) to the machine's monitor registry; 0 or -1. */
int display_monitor_register(struct display *d, struct monitor_registry *reg);

#endif

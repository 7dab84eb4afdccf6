/* -netdev tap: frames through a Linux TAP device (ifname= creates or attaches one, fd= uses a
 * descriptor already opened by the caller); script=no/downscript=no: the host side is
 * configured by the user, as with QEMU. */
#ifndef PCVM_NET_TAP_H
#define PCVM_NET_TAP_H

#include <stddef.h>

#include "cli/config.h"
#include "net/net.h"
#include "util/log.h"
#include "util/mainloop.h"

struct net_tap;

/* Open the TAP device; NULL with one line in err. */
struct net_tap *net_tap_create(const struct vm_netdev *nd, const char *label, struct mainloop *ml,
                               struct pcvm_log *log, char *err, size_t errlen);
/* The back end's port. */
struct net_port *net_tap_port(struct net_tap *t);
/* Close the device (a device pcvm created disappears) and free. */
void net_tap_destroy(struct net_tap *t);

#endif

/*
 * lazy_systemd.h - libsystemd's sd_notify through
 * berth_lazy_load(BERTH_LIB_SYSTEMD): include it instead of
 * <systemd/sd-daemon.h>. The calls keep their names; each is a call through
 * the loaded table (lazylib.h).
 */
#ifndef BERTH_LAZY_SYSTEMD_H
#define BERTH_LAZY_SYSTEMD_H

#include <systemd/sd-daemon.h>
#include "lazylib.h"

/* Every libsystemd function berth calls: a call to one not listed fails to link. */
#define BERTH_LAZY_SYSTEMD_SYMS(X)                                                          \
    X(sd_notify)                                                                            \
    X(sd_notifyf)                                                                           \
    X(sd_watchdog_enabled)

struct berth_lazy_systemd {
    BERTH_LAZY_SYSTEMD_SYMS(BERTH_LAZY_FIELD)
};

#ifndef BERTH_LAZY_NO_MAP
#define BERTH_LAZY_SYSTEMD ((const struct berth_lazy_systemd *)berth_lazy_table(BERTH_LIB_SYSTEMD))
#define sd_notify (BERTH_LAZY_SYSTEMD->sd_notify)
#define sd_notifyf (BERTH_LAZY_SYSTEMD->sd_notifyf)
#define sd_watchdog_enabled (BERTH_LAZY_SYSTEMD->sd_watchdog_enabled)
#endif

#endif

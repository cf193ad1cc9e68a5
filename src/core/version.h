/* version.h - berth's version, shared by the CLI and the daemon's build info metric. */
#ifndef BERTH_VERSION_H
#define BERTH_VERSION_H

#define BERTH_VERSION "0.1.0"

#endif

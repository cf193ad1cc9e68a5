/* blobstore.c - the blob store's driver table: looks a driver up by name. */
#include <string.h>
#include "store.h"
#include "banned.h"

static const struct berth_blobstore_ops *const drivers[] = {
    &berth_blobstore_fs_ops,
};

const struct berth_blobstore_ops *berth_blobstore_driver(const char *name)
{
    size_t i;

    if (!name) return NULL;
    for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, name) == 0) return drivers[i];
    return NULL;
}

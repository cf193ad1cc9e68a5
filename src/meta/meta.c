/* meta.c - choosing a metadata driver by name; what every driver shares. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "meta.h"
#include "banned.h"

static const struct berth_meta_ops *const drivers[] = {
    &berth_meta_sqlite_ops,
    &berth_meta_pg_ops,
};

const struct berth_meta_ops *berth_meta_driver(const char *name)
{
    size_t i;

    if (!name) return NULL;
    for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, name) == 0) return drivers[i];
    return NULL;
}

void berth_meta_scopemap_release(struct berth_meta_scopemap *sm)
{
    size_t i;

    if (!sm) return;
    for (i = 0; sm->rules && i < sm->nrules; i++) free(sm->rules[i]);
    free(sm->rules);
    sm->rules = NULL;
    sm->nrules = 0;
}

void berth_meta_upload_release(struct berth_meta_upload *u)
{
    if (!u) return;
    free(u->ext);
    u->ext = NULL;
}

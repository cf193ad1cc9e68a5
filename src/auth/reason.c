/* reason.c - names and client texts of the refusal reasons (BERTH_AUTH_REASON_MAP). */
#include "auth.h"
#include "banned.h"

struct reason_row {
    const char *name;
    const char *text;
};

static const struct reason_row reason_rows[] = {
#define ROW(name, text) {#name, text},
    BERTH_AUTH_REASON_MAP(ROW)
#undef ROW
};

/*
 * A value outside the table (a cast from a stored integer, say) must not
 * index past it, and must not read as success either: it falls back to a
 * generic refusal that tells the client nothing.
 */
static const char fallback_name[] = "UNKNOWN_REASON";
static const char fallback_text[] = "access denied";

const char *berth_auth_reason_name(enum berth_auth_reason r)
{
    if ((unsigned)r >= BERTH_AUTH_REASON_COUNT) return fallback_name;
    return reason_rows[r].name;
}

const char *berth_auth_reason_text(enum berth_auth_reason r)
{
    if ((unsigned)r >= BERTH_AUTH_REASON_COUNT) return fallback_text;
    return reason_rows[r].text;
}

enum berth_auth_reason berth_auth_reason_shown(enum berth_auth_reason r)
{
    if (r == BERTH_AUTH_BAD_SECRET || r == BERTH_AUTH_UNKNOWN_PRINCIPAL) return BERTH_AUTH_INVALID_CREDENTIALS;
    return r;
}

/*
 * regname.c - the checks of a registry argument: a resource name
 * ("teamreg1") or a login server ("teamreg1.localhost:5000"), with messages
 * that say which to use.
 */
#include <ctype.h>
#include <string.h>
#include "client.h"
#include "banned.h"

enum berth_rc berth_client_check_registry_arg(const char *flag, const char *s, enum berth_client_name_want want,
                                              struct berth_err *err)
{
    int upper = 0, dotted = 0;
    const char *p;
    char lower[256];
    size_t i;

    if (!s || !*s) return berth_err_set(err, BERTH_EINVAL, "%s needs a registry", flag);
    for (p = s; *p; p++) {
        if (isupper((unsigned char)*p)) upper = 1;
        if (*p == '.' || *p == ':') dotted = 1;
    }
    for (i = 0; s[i] && i + 1 < sizeof(lower); i++) lower[i] = (char)tolower((unsigned char)s[i]);
    lower[i] = '\0';
    if (upper)
        return berth_err_set(err, BERTH_EINVAL, "'%s' has uppercase letters: %s are lowercase, use '%s'", s,
                             want == BERTH_CLIENT_WANT_RESOURCE ? "registry names" : "login servers", lower);
    if (want == BERTH_CLIENT_WANT_RESOURCE && dotted) {
        size_t n = strcspn(s, ".:");
        /* "teamreg1.localhost:5000" names its registry; an address ("127.0.0.1:5000") does not */
        if (n < 5 || strspn(s, "0123456789") >= n)
            return berth_err_set(err, BERTH_EINVAL, "%s takes a registry name (see 'berth registry list'), not the "
                                 "login server '%s'", flag, s);
        return berth_err_set(err, BERTH_EINVAL, "%s takes a registry name like '%.*s', not the login server '%s'",
                             flag, (int)n, s, s);
    }
    if (want == BERTH_CLIENT_WANT_LOGIN_SERVER && !dotted)
        return berth_err_set(err, BERTH_EINVAL,
                             "%s takes a login server like '%s.localhost:5000', not the registry name '%s'", flag,
                             s, s);
    return BERTH_OK;
}

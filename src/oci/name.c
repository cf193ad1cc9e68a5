/* name.c - repository name and tag validation (distribution spec grammar). */
#include <stdio.h>
#include "oci.h"
#include "banned.h"

#define NAME_RULE                                                                          \
    "a valid name is '/'-separated components of lowercase letters and digits, "           \
    "joined inside a component by '.', '_', '__' or a run of '-', at most 255 bytes"
#define TAG_RULE                                                                           \
    "a valid tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_name_sep(char c)
{
    return c == '.' || c == '_' || c == '-';
}

static int is_tag_char(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
}

/*
 * Renders one byte for a message. Client bytes go into logs and JSON error
 * bodies, so anything outside printable ASCII is shown as a hex escape.
 */
static const char *show_byte(char c, char out[8])
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x21 && u <= 0x7e && u != '\'' && u != '\\')
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", u);
    return out;
}

/* A separator run between two alphanumerics must be ".", "_", "__" or "-+". */
static int sep_valid(const char *s, size_t n)
{
    size_t i;
    if (n == 1) return 1;
    if (n == 2 && s[0] == '_' && s[1] == '_') return 1;
    for (i = 0; i < n; i++)
        if (s[i] != '-') return 0;
    return 1;
}

static enum berth_rc bad_name_char(const char *name, size_t i, struct berth_err *err)
{
    char b[8];
    if (name[i] >= 'A' && name[i] <= 'Z')
        return berth_err_set(err, BERTH_ENAME,
                             "invalid repository name: repository name must be lowercase "
                             "(%s at byte %zu); " NAME_RULE,
                             show_byte(name[i], b), i);
    return berth_err_set(err, BERTH_ENAME,
                         "invalid repository name: invalid character %s at byte %zu; " NAME_RULE,
                         show_byte(name[i], b), i);
}

enum berth_rc berth_oci_name_check(const char *name, size_t len, struct berth_err *err)
{
    size_t i = 0;

    if (!name || len == 0)
        return berth_err_set(err, BERTH_ENAME, "invalid repository name: name is empty; " NAME_RULE);
    if (len > BERTH_NAME_MAX)
        return berth_err_set(err, BERTH_ENAME,
                             "invalid repository name: name longer than %d bytes (%zu bytes); " NAME_RULE,
                             BERTH_NAME_MAX, len);
    for (;;) {
        /* i is at the start of a path component */
        if (i == len || name[i] == '/')
            return berth_err_set(err, BERTH_ENAME,
                                 "invalid repository name: empty path component at byte %zu "
                                 "(leading, trailing or doubled '/'); " NAME_RULE,
                                 i);
        if (is_name_sep(name[i]))
            return berth_err_set(err, BERTH_ENAME,
                                 "invalid repository name: path component at byte %zu must start "
                                 "with a lowercase letter or digit; " NAME_RULE,
                                 i);
        while (i < len && name[i] != '/') {
            size_t j;
            if (is_lower_alnum(name[i])) {
                i++;
                continue;
            }
            if (!is_name_sep(name[i])) return bad_name_char(name, i, err);
            for (j = i; j < len && is_name_sep(name[j]); j++)
                ;
            BERTH_ASSERT(j > i);
            if (j == len || name[j] == '/')
                return berth_err_set(err, BERTH_ENAME,
                                     "invalid repository name: path component ending at byte %zu "
                                     "must end with a lowercase letter or digit; " NAME_RULE,
                                     j);
            if (!sep_valid(name + i, j - i))
                return berth_err_set(err, BERTH_ENAME,
                                     "invalid repository name: separator '%.*s%s' at byte %zu is not "
                                     "'.', '_', '__' or a run of '-'; " NAME_RULE,
                                     (int)(j - i > 16 ? 16 : j - i), name + i, j - i > 16 ? "..." : "",
                                     i);
            i = j;
        }
        if (i == len) return BERTH_OK;
        i++; /* past the '/' */
    }
}

enum berth_rc berth_oci_tag_check(const char *tag, size_t len, struct berth_err *err)
{
    size_t i;
    char b[8];

    if (!tag || len == 0) return berth_err_set(err, BERTH_ETAG, "invalid tag: tag is empty; " TAG_RULE);
    if (len > BERTH_TAG_MAX)
        return berth_err_set(err, BERTH_ETAG, "invalid tag: tag longer than %d bytes (%zu bytes); " TAG_RULE,
                             BERTH_TAG_MAX, len);
    if (tag[0] == '.' || tag[0] == '-')
        return berth_err_set(err, BERTH_ETAG, "invalid tag: tag must not start with %s; " TAG_RULE,
                             show_byte(tag[0], b));
    for (i = 0; i < len; i++)
        if (!is_tag_char(tag[i]))
            return berth_err_set(err, BERTH_ETAG, "invalid tag: invalid character %s at byte %zu; " TAG_RULE,
                                 show_byte(tag[i], b), i);
    return BERTH_OK;
}

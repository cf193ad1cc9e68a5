/* ref.c - a manifest reference: a tag or a digest. */
#include <string.h>
#include "oci.h"
#include "banned.h"

enum berth_rc berth_ref_parse(const char *s, size_t len, struct berth_ref *out, struct berth_err *err)
{
    struct berth_ref r;
    enum berth_rc rc;

    if (!s) len = 0;
    memset(&r, 0, sizeof(r));
    /* tags cannot contain ':', so its presence decides which grammar applies */
    if (len && memchr(s, ':', len)) {
        rc = berth_digest_parse(s, len, &r.digest, err);
        if (rc) return rc;
        r.is_digest = 1;
    } else {
        rc = berth_oci_tag_check(s, len, err);
        if (rc) return rc;
        BERTH_ASSERT(len < sizeof(r.tag));
        memcpy(r.tag, s, len); /* len <= BERTH_TAG_MAX */
        r.tag[len] = '\0';
    }
    *out = r;
    return BERTH_OK;
}

/* test_netrule.c - IP addresses and CIDR ranges: parsing, refusals with their reason, canonical text, matching. */
#include <stdlib.h>
#include <string.h>
#include "auth.h"
#include "test.h"

/* Parses s, which must be valid, and returns its canonical text in a static buffer. */
static const char *canon(const char *s)
{
    static char out[BERTH_NETRULE_TEXT_MAX];
    struct berth_netrule r;
    struct berth_err err = BERTH_ERR_INIT;

    if (berth_netrule_parse(s, &r, &err) != BERTH_OK) BERTH_TEST_FAIL("'%s' refused: %s", s, berth_err_msg(&err));
    berth_netrule_format(&r, out, sizeof(out));
    return out;
}

/* The refusal message for s, which must be refused. */
static const char *why(const char *s)
{
    static struct berth_err err;
    struct berth_netrule r;

    berth_err_clear(&err);
    if (berth_netrule_parse(s, &r, &err) != BERTH_EINVAL) BERTH_TEST_FAIL("'%s' was accepted", s);
    return berth_err_msg(&err);
}

static int matches(const char *rule, const char *addr)
{
    struct berth_netrule r;
    struct berth_netaddr a;
    struct berth_err err = BERTH_ERR_INIT;

    if (berth_netrule_parse(rule, &r, &err) != BERTH_OK) BERTH_TEST_FAIL("rule '%s': %s", rule, berth_err_msg(&err));
    if (berth_netaddr_parse(addr, &a, &err) != BERTH_OK) BERTH_TEST_FAIL("addr '%s': %s", addr, berth_err_msg(&err));
    return berth_netrule_match(&r, &a);
}

TEST(netrule_parses_addresses_and_ranges)
{
    ASSERT_EQ_STR(canon("203.0.113.7"), "203.0.113.7");
    ASSERT_EQ_STR(canon("203.0.113.7/32"), "203.0.113.7");
    ASSERT_EQ_STR(canon("10.0.0.0/8"), "10.0.0.0/8");
    ASSERT_EQ_STR(canon("0.0.0.0/0"), "0.0.0.0/0");
    ASSERT_EQ_STR(canon("2001:db8::/32"), "2001:db8::/32");
    ASSERT_EQ_STR(canon("2001:DB8:0:0::/64"), "2001:db8::/64");
    ASSERT_EQ_STR(canon("::1"), "::1");
    ASSERT_EQ_STR(canon("::1/128"), "::1");
    ASSERT_EQ_STR(canon("::/0"), "::/0");
    /* IPv4-mapped IPv6 is IPv4, its prefix counted past the 96 mapped bits */
    ASSERT_EQ_STR(canon("::ffff:192.0.2.1"), "192.0.2.1");
    ASSERT_EQ_STR(canon("::ffff:192.0.2.0/120"), "192.0.2.0/24");
}

TEST(netrule_refuses_with_the_reason)
{
    ASSERT_EQ_STR(why("10.0.0.0/33"), "prefix length 33 is more than 32");
    ASSERT_EQ_STR(why("2001:db8::/129"), "prefix length 129 is more than 128");
    ASSERT_EQ_STR(why("10.1.2.3/8"), "'10.1.2.3/8' has host bits set (the network is 10.0.0.0/8)");
    ASSERT_EQ_STR(why("2001:db8::1/32"), "'2001:db8::1/32' has host bits set (the network is 2001:db8::/32)");
    ASSERT_EQ_STR(why("10.0.0.0/"), "'10.0.0.0/' has no prefix length after '/'");
    ASSERT_EQ_STR(why("10.0.0.0/x"), "prefix length 'x' is not a number from 0 to 32");
    ASSERT_EQ_STR(why("10.0.0.0/-1"), "prefix length '-1' is not a number from 0 to 32");
    ASSERT_EQ_STR(why("10.0.0.0/08"), "prefix length '08' is not a number from 0 to 32");
    ASSERT_EQ_STR(why("10.0.0.0/1000"), "prefix length '1000' is not a number from 0 to 32");
    ASSERT_EQ_STR(why("10.0.0.256"), "'10.0.0.256' is not an IPv4 or IPv6 address");
    ASSERT_EQ_STR(why("10.0.0"), "'10.0.0' is not an IPv4 or IPv6 address");
    ASSERT_EQ_STR(why("010.0.0.1"), "'010.0.0.1' is not an IPv4 or IPv6 address");
    ASSERT_EQ_STR(why("fe80::1%eth0"), "'fe80::1%eth0' is not an IPv4 or IPv6 address");
    ASSERT_EQ_STR(why("[::1]"), "'[::1]' is not an IPv4 or IPv6 address");
    ASSERT_EQ_STR(why(" 10.0.0.1"), "' 10.0.0.1' is not an IPv4 or IPv6 address");
    ASSERT_EQ_STR(why("example.com"), "'example.com' is not an IPv4 or IPv6 address");
    ASSERT_EQ_STR(why(""), "empty rule: give an IP address or a CIDR range");
    ASSERT_EQ_STR(why("::ffff:192.0.2.0/64"), "prefix length 64 is less than 96 for an IPv4-mapped range");
    ASSERT_TRUE(strstr(why("1111:2222:3333:4444:5555:6666:7777:8888/128/128/128/128/128/128/128"), "too long") != NULL);
}

TEST(netrule_matches_inside_its_range_only)
{
    ASSERT_TRUE(matches("10.0.0.0/8", "10.255.1.2"));
    ASSERT_TRUE(!matches("10.0.0.0/8", "11.0.0.0"));
    ASSERT_TRUE(matches("127.0.0.2", "127.0.0.2"));
    ASSERT_TRUE(!matches("127.0.0.2", "127.0.0.3"));
    ASSERT_TRUE(matches("127.0.0.2/31", "127.0.0.3"));
    ASSERT_TRUE(!matches("127.0.0.2/31", "127.0.0.4"));
    ASSERT_TRUE(matches("192.168.0.0/23", "192.168.1.255"));
    ASSERT_TRUE(!matches("192.168.0.0/23", "192.168.2.0"));
    ASSERT_TRUE(matches("0.0.0.0/0", "203.0.113.7"));
    ASSERT_TRUE(!matches("0.0.0.0/0", "::1"));
    ASSERT_TRUE(matches("::/0", "2001:db8::5"));
    ASSERT_TRUE(!matches("::/0", "203.0.113.7"));
    ASSERT_TRUE(matches("2001:db8::/32", "2001:db8:ffff::1"));
    ASSERT_TRUE(!matches("2001:db8::/32", "2001:db9::1"));
    ASSERT_TRUE(matches("::1", "::1"));
    /* a dual-stack peer ::ffff:a.b.c.d is an IPv4 client */
    ASSERT_TRUE(matches("127.0.0.0/8", "::ffff:127.0.0.9"));
}

TEST(netrule_lists_parse_and_match)
{
    struct berth_netrule *v = NULL;
    struct berth_netaddr a;
    struct berth_err err = BERTH_ERR_INIT;
    size_t n = 99;

    ASSERT_RC(berth_netrules_parse_list("", 10, &v, &n, &err), BERTH_OK);
    ASSERT_EQ_INT(n, 0);
    ASSERT_TRUE(v == NULL);
    ASSERT_RC(berth_netrules_parse_list("127.0.0.0/8, ::1 ,10.1.0.0/16", 10, &v, &n, &err), BERTH_OK);
    ASSERT_EQ_INT(n, 3);
    ASSERT_RC(berth_netaddr_parse("10.1.9.9", &a, &err), BERTH_OK);
    ASSERT_TRUE(berth_netrules_match(v, n, &a));
    ASSERT_RC(berth_netaddr_parse("10.2.0.1", &a, &err), BERTH_OK);
    ASSERT_TRUE(!berth_netrules_match(v, n, &a));
    ASSERT_RC(berth_netaddr_parse("::1", &a, &err), BERTH_OK);
    ASSERT_TRUE(berth_netrules_match(v, n, &a));
    free(v);
    v = NULL;
    ASSERT_RC(berth_netrules_parse_list("127.0.0.1,,::1", 10, &v, &n, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(berth_err_msg(&err), "empty item") != NULL);
    ASSERT_RC(berth_netrules_parse_list("127.0.0.1,", 10, &v, &n, &err), BERTH_EINVAL);
    ASSERT_RC(berth_netrules_parse_list("10.0.0.0/33", 10, &v, &n, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(berth_err_msg(&err), "prefix length 33 is more than 32");
    ASSERT_RC(berth_netrules_parse_list("1.1.1.1,2.2.2.2,3.3.3.3", 2, &v, &n, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(berth_err_msg(&err), "more than 2 items");
    ASSERT_TRUE(v == NULL);
}

TEST(netaddr_formats_canonically)
{
    struct berth_netaddr a;
    struct berth_err err = BERTH_ERR_INIT;
    char out[64];

    ASSERT_RC(berth_netaddr_parse("2001:0DB8:0000::0001", &a, &err), BERTH_OK);
    ASSERT_EQ_INT(a.family, 6);
    berth_netaddr_format(&a, out, sizeof(out));
    ASSERT_EQ_STR(out, "2001:db8::1");
    ASSERT_RC(berth_netaddr_parse("::ffff:10.0.0.1", &a, &err), BERTH_OK);
    ASSERT_EQ_INT(a.family, 4);
    berth_netaddr_format(&a, out, sizeof(out));
    ASSERT_EQ_STR(out, "10.0.0.1");
    ASSERT_RC(berth_netaddr_parse("10.0.0.0/8", &a, &err), BERTH_EINVAL);
}

/* test_core.c - buf, err, config and util. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "config.h"
#include "err.h"
#include "util.h"
#include "test.h"

TEST(buf_appends_and_stays_terminated)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    ASSERT_RC(berth_buf_puts(&b, "abc"), BERTH_OK);
    ASSERT_RC(berth_buf_printf(&b, "-%d-", 42), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), "abc-42-");
    ASSERT_EQ_INT(b.len, 7);
    berth_buf_release(&b);
}

TEST(buf_cap_is_sticky)
{
    struct berth_buf b = BERTH_BUF_INIT(4);
    ASSERT_RC(berth_buf_puts(&b, "abcd"), BERTH_OK);
    ASSERT_RC(berth_buf_putc(&b, 'e'), BERTH_ETOOBIG);
    ASSERT_RC(berth_buf_puts(&b, ""), BERTH_ETOOBIG);
    ASSERT_RC(berth_buf_rc(&b), BERTH_ETOOBIG);
    ASSERT_EQ_STR(berth_buf_str(&b), "abcd");
    berth_buf_reset(&b);
    ASSERT_RC(berth_buf_rc(&b), BERTH_OK);
    berth_buf_release(&b);
}

TEST(buf_json_escapes)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    berth_buf_json_str(&b, "a\"b\\c\n\x01", 7);
    ASSERT_EQ_STR(berth_buf_str(&b), "\"a\\\"b\\\\c\\n\\u0001\"");
    berth_buf_release(&b);
}

TEST(buf_detach_hands_over)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t n;
    char *p;
    berth_buf_puts(&b, "xyz");
    p = berth_buf_detach(&b, &n);
    ASSERT_EQ_STR(p, "xyz");
    ASSERT_EQ_INT(n, 3);
    ASSERT_TRUE(b.p == NULL);
    free(p);
    berth_buf_release(&b);
}

TEST(err_table_maps_codes)
{
    struct berth_err err = BERTH_ERR_INIT;
    ASSERT_EQ_INT(berth_rc_status(BERTH_EDIGEST), 400);
    ASSERT_EQ_STR(berth_rc_ocicode(BERTH_EDIGEST), "DIGEST_INVALID");
    ASSERT_EQ_STR(berth_rc_ocicode(BERTH_EMANIFESTBLOB), "MANIFEST_BLOB_UNKNOWN");
    ASSERT_EQ_INT(berth_rc_status(BERTH_EUPLOADUNKNOWN), 404);
    ASSERT_EQ_STR(berth_rc_name(BERTH_ETOOBIG), "ETOOBIG");
    ASSERT_EQ_STR(berth_err_msg(&err), "success");
    ASSERT_RC(berth_err_set(&err, BERTH_ENAME, "bad %s", "x"), BERTH_ENAME);
    ASSERT_EQ_STR(berth_err_msg(&err), "bad x");
    ASSERT_EQ_STR(berth_rc_name((enum berth_rc)9999), "EINTERNAL");
}

TEST(config_defaults_and_ranges)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    char *argv[] = {(char *)"--listen", (char *)"127.0.0.1:1", (char *)"--manifest-max=8M", (char *)"--fsync"};

    berth_config_init(&cfg);
    ASSERT_EQ_STR(cfg.listen, "127.0.0.1:5000");
    ASSERT_EQ_INT(cfg.manifest_max, 4 * 1024 * 1024);
    ASSERT_RC(berth_config_load(&cfg, 4, argv, &err), BERTH_OK);
    ASSERT_EQ_STR(cfg.listen, "127.0.0.1:1");
    ASSERT_EQ_INT(cfg.manifest_max, 8 * 1024 * 1024);
    ASSERT_RC(berth_config_set(&cfg, "max-connections", "0", &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "max-connections") && strstr(err.msg, "1..65536"));
    ASSERT_RC(berth_config_set(&cfg, "fsync", "maybe", &err), BERTH_ECONFIG);
    ASSERT_RC(berth_config_set(&cfg, "log-level", "loud", &err), BERTH_ECONFIG);
    ASSERT_RC(berth_config_set(&cfg, "nope", "1", &err), BERTH_ECONFIG);
    ASSERT_RC(berth_config_set(&cfg, "threads", "12x", &err), BERTH_ECONFIG);
    berth_config_release(&cfg);
}

TEST(config_file_and_env)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/c.json", berth_test_tmpdir());
    const char *doc = "{\"listen\":\"127.0.0.1:7\",\"threads\":3,\"fsync\":false}";

    ASSERT_RC(berth_write_atomic(path, doc, strlen(doc), 0600, &err), BERTH_OK);
    berth_config_init(&cfg);
    ASSERT_RC(berth_config_load_file(&cfg, path, &err), BERTH_OK);
    ASSERT_EQ_STR(cfg.listen, "127.0.0.1:7");
    ASSERT_EQ_INT(cfg.threads, 3);
    ASSERT_EQ_INT(cfg.fsync, 0);
    setenv("BERTH_THREADS", "5", 1);
    ASSERT_RC(berth_config_load_env(&cfg, &err), BERTH_OK);
    ASSERT_EQ_INT(cfg.threads, 5);
    setenv("BERTH_THREADS", "-1", 1);
    ASSERT_RC(berth_config_load_env(&cfg, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "BERTH_THREADS") != NULL);
    doc = "{\"threads\":\"x\"";
    ASSERT_RC(berth_write_atomic(path, doc, strlen(doc), 0600, &err), BERTH_OK);
    ASSERT_RC(berth_config_load_file(&cfg, path, &err), BERTH_ECONFIG);
    berth_config_release(&cfg);
    free(path);
}

struct diff_seen {
    char text[512];
    int live;
};

static void diff_note(const char *name, const char *old_text, const char *new_text, int live, void *arg)
{
    struct diff_seen *d = arg;
    size_t n = strlen(d->text);
    snprintf(d->text + n, sizeof(d->text) - n, "%s%s:%s>%s", n ? " " : "", name, old_text, new_text);
    d->live += live;
}

TEST(config_diff_and_live_reload)
{
    struct berth_config run, next;
    struct berth_err err = BERTH_ERR_INIT;
    struct diff_seen seen = {"", 0};
    const char *held;

    ASSERT_TRUE(berth_config_is_live("page-max"));
    ASSERT_TRUE(berth_config_is_live("tls-cert"));
    ASSERT_TRUE(!berth_config_is_live("listen"));
    ASSERT_TRUE(!berth_config_is_live("no-such-key"));
    berth_config_init(&run);
    berth_config_init(&next);
    ASSERT_EQ_U64(berth_config_diff(&run, &next, diff_note, &seen), 0);
    ASSERT_RC(berth_config_set(&next, "page-max", "50", &err), BERTH_OK);
    ASSERT_RC(berth_config_set(&next, "listen", "127.0.0.1:6000", &err), BERTH_OK);
    ASSERT_RC(berth_config_set(&next, "external-url", "https://reg.example", &err), BERTH_OK);
    ASSERT_RC(berth_config_set(&next, "meta", "postgresql://u:secret@db/berth", &err), BERTH_OK);
    ASSERT_RC(berth_config_set(&next, "manifest-max", "8M", &err), BERTH_OK);
    ASSERT_RC(berth_config_set(&next, "log-level", "debug", &err), BERTH_OK);
    ASSERT_EQ_U64(berth_config_diff(&run, &next, diff_note, &seen), 6);
    ASSERT_EQ_STR(seen.text, "listen:127.0.0.1:5000>127.0.0.1:6000 meta:>(hidden) log-level:info>debug "
                             "manifest-max:4M>8M page-max:1000>50 external-url:>https://reg.example");
    ASSERT_EQ_INT(seen.live, 4);
    held = run.external_url; /* a request may still read the old string */
    berth_config_apply_live(&run, &next);
    ASSERT_EQ_INT((int)run.page_max, 50);
    ASSERT_EQ_INT((int)run.manifest_max, 8 << 20);
    ASSERT_EQ_INT((int)run.log_level, 3);
    ASSERT_EQ_STR(run.external_url, "https://reg.example");
    ASSERT_EQ_STR(held, "");
    ASSERT_EQ_STR(run.listen, "127.0.0.1:5000");
    ASSERT_EQ_STR(run.meta, "");
    ASSERT_EQ_U64(berth_config_diff(&run, &next, NULL, NULL), 2);
    berth_config_release(&run);
    berth_config_release(&next);
}

TEST(util_uuid_and_numbers)
{
    char u[37];
    uint64_t v;
    berth_uuid(u);
    ASSERT_TRUE(berth_uuid_valid(u));
    ASSERT_TRUE(!berth_uuid_valid("../../etc/passwd"));
    ASSERT_TRUE(!berth_uuid_valid("0123456789abcdef0123456789abcdef0123"));
    ASSERT_EQ_INT(berth_parse_u64("18446744073709551615", 20, &v), 0);
    ASSERT_EQ_U64(v, 18446744073709551615ULL);
    ASSERT_EQ_INT(berth_parse_u64("18446744073709551616", 20, &v), -1);
    ASSERT_EQ_INT(berth_parse_u64("", 0, &v), -1);
    ASSERT_EQ_INT(berth_parse_u64("1a", 2, &v), -1);
}

/* BERTH_ASSERT: in a build with BERTH_ASSERTS a false condition logs and aborts; elsewhere nothing runs. */
TEST(core_assert_aborts_only_when_compiled_in)
{
    pid_t pid;
    int status = 0, calls = 0;

    BERTH_ASSERT(1 + 1 == 2);
    BERTH_ASSERT(++calls > 0 || 1);
#ifdef BERTH_ASSERTS
    ASSERT_EQ_INT(calls, 1);
#else
    ASSERT_EQ_INT(calls, 0); /* not evaluated */
#endif
    pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, 2);
        BERTH_ASSERT(calls < 0);
        _exit(0);
    }
    ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
#ifdef BERTH_ASSERTS
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#else
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
}

/* A client's text quoted for a log value: quotes, backslashes and control bytes escaped, cut to fit. */
TEST(log_quote_escapes_and_fits)
{
    char out[16];

    ASSERT_EQ_STR(berth_log_quote("a \"b\" \\c", out, sizeof(out)), "a \\\"b\\\" \\\\c");
    ASSERT_EQ_STR(berth_log_quote("x\ny\x7f", out, sizeof(out)), "x\\x0ay\\x7f");
    ASSERT_EQ_STR(berth_log_quote("0123456789abcdefgh", out, sizeof(out)), "0123456789abcde");
    ASSERT_EQ_STR(berth_log_quote("abcdefghijklm\"z", out, sizeof(out)), "abcdefghijklm\\\"");
    ASSERT_EQ_STR(berth_log_quote("abcdefghijklmn\"z", out, sizeof(out)), "abcdefghijklmn"); /* no half escape */
    ASSERT_EQ_STR(berth_log_quote(NULL, out, sizeof(out)), "");
}

/* key=value lines as JSON: quoted values unescaped, numbers only for numeric keys, the rest as text. */
TEST(log_kv_to_json)
{
    char out[512];
    char q[64];
    char line[256];

    ASSERT_TRUE(berth_log_kv_to_json("ts=2026-01-01T00:00:00.000Z level=info msg=\"a b\" status=200 dur_ms=1.500 "
                                     "req=1234567890123456 registry=007",
                                     out, sizeof(out)) > 0);
    ASSERT_EQ_STR(out, "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"level\":\"info\",\"msg\":\"a b\",\"status\":200,"
                       "\"dur_ms\":1.500,\"req\":\"1234567890123456\",\"registry\":\"007\"}");
    /* berth_log_quote's escapes come back as the client's bytes, JSON-escaped */
    snprintf(line, sizeof(line), "ua=\"%s\" port=08", berth_log_quote("x \"y\"\n\\", q, sizeof(q)));
    ASSERT_TRUE(berth_log_kv_to_json(line, out, sizeof(out)) > 0);
    ASSERT_EQ_STR(out, "{\"ua\":\"x \\\"y\\\"\\u000a\\\\\",\"port\":\"08\"}");
    /* a quote nothing escaped, inside a message, stays text */
    ASSERT_TRUE(berth_log_kv_to_json("msg=\"user \"bob\" refused\" code=X", out, sizeof(out)) > 0);
    ASSERT_EQ_STR(out, "{\"msg\":\"user \\\"bob\\\" refused\",\"code\":\"X\"}");
    ASSERT_TRUE(berth_log_kv_to_json("level=warn http: Error: odd", out, sizeof(out)) > 0);
    ASSERT_EQ_STR(out, "{\"level\":\"warn\",\"text\":\"http: Error: odd\"}");
    ASSERT_TRUE(berth_log_kv_to_json("", out, sizeof(out)) > 0);
    ASSERT_EQ_STR(out, "{}");
    ASSERT_EQ_INT(berth_log_kv_to_json("msg=\"a long value\"", out, 10), -1);
}

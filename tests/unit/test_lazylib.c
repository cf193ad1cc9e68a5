/* test_lazylib.c - the dlopen'ed libraries: each one loads and answers, and a failure names the file and the package. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lazy_curl.h"
#include "lazy_pq.h"
#include "lazy_systemd.h"
#include "test.h"

TEST(lazy_load_curl)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *e;

    ASSERT_RC(berth_lazy_load(BERTH_LIB_CURL, &err), BERTH_OK);
    ASSERT_TRUE(berth_lazy_loaded(BERTH_LIB_CURL));
    ASSERT_TRUE(!strncmp(curl_version(), "libcurl/", 8));
    e = curl_easy_escape(NULL, "a b/c", 0); /* a call through the table, its arguments and result intact */
    ASSERT_EQ_STR(e, "a%20b%2Fc");
    curl_free(e);
    /* a second load (and one from another caller) finds it loaded */
    ASSERT_RC(berth_lazy_load(BERTH_LIB_CURL, &err), BERTH_OK);
}

TEST(lazy_load_pq)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_TRUE(!berth_lazy_loaded(BERTH_LIB_PQ)); /* nothing loads a library before it is asked for */
    ASSERT_RC(berth_lazy_load(BERTH_LIB_PQ, &err), BERTH_OK);
    ASSERT_TRUE(PQlibVersion() >= 100000);
    ASSERT_EQ_INT(PQisthreadsafe(), 1);
}

TEST(lazy_load_systemd)
{
    struct berth_err err = BERTH_ERR_INIT;

    unsetenv("NOTIFY_SOCKET");
    ASSERT_RC(berth_lazy_load(BERTH_LIB_SYSTEMD, &err), BERTH_OK);
    ASSERT_EQ_INT(sd_notify(0, "READY=1"), 0); /* no systemd listening: nothing sent, no error */
}

TEST(lazy_open_missing_library)
{
    static const char *const names[] = {"berth_nothing"};
    struct berth_lazy_spec spec = {"libberth-missing.so.7", "libberth-missing7", "a test", names, 1};
    struct berth_err err = BERTH_ERR_INIT;
    void *syms[1] = {NULL}, *h = NULL;

    ASSERT_RC(berth_lazy_open(&spec, syms, &h, &err), BERTH_EUNSUPPORTED);
    ASSERT_TRUE(h == NULL);
    ASSERT_TRUE(!strncmp(err.msg, "a test needs libberth-missing.so.7 (Debian package libberth-missing7): ", 70));
    ASSERT_TRUE(strstr(err.msg, "libberth-missing.so.7: cannot open shared object file") != NULL);
}

TEST(lazy_open_missing_symbol)
{
    static const char *const names[] = {"strlen", "berth_no_such_function"};
    struct berth_lazy_spec spec = {"libc.so.6", "libc6", "a test", names, 2};
    struct berth_err err = BERTH_ERR_INIT;
    void *syms[2] = {NULL, NULL}, *h = NULL;

    ASSERT_RC(berth_lazy_open(&spec, syms, &h, &err), BERTH_EUNSUPPORTED);
    ASSERT_TRUE(h == NULL);
    ASSERT_TRUE(strstr(err.msg, "(Debian package libc6)") != NULL);
    ASSERT_TRUE(strstr(err.msg, "berth_no_such_function") != NULL);
    spec.n = 1; /* strlen alone is there */
    ASSERT_RC(berth_lazy_open(&spec, syms, &h, &err), BERTH_OK);
    ASSERT_TRUE(syms[0] != NULL && h != NULL);
}

/* A call into a library no one loaded is a bug: it aborts with a message, never a jump through NULL. */
TEST(lazy_call_before_load_aborts)
{
    int fds[2], status = 0;
    char msg[256] = "";
    ssize_t n;
    pid_t pid;

    ASSERT_EQ_INT(pipe(fds), 0);
    pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        (void)sd_notify(0, "READY=1"); /* libsystemd: nothing in this child loaded it */
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], msg, sizeof(msg) - 1);
    close(fds[0]);
    ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    ASSERT_TRUE(n > 0);
    ASSERT_TRUE(strstr(msg, "libsystemd.so.0 called before berth_lazy_load") != NULL);
}

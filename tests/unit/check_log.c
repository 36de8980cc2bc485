/*
 * Unit tests for log.c: where lines go (file, stderr, syslog), whole
 * lines from many processes, reopening after rotation (SIGHUP, and the
 * path naming another file).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "unit.h"

static char	 dir[] = "/tmp/p2p-check-log-XXXXXX";

/* The whole file as a string (static buffer), "" when missing. */
static const char *
slurp(const char *path)
{
	static char	 buf[1 << 20];

	return unit_slurp(path, buf, sizeof(buf));
}

static const char *
in_dir(const char *name)
{
	return unit_path(dir, name);
}

static void
open_log(const char *name)
{
	struct p2p_err	 err;

	p2p_err_init(&err);
	unlink(in_dir(name));
	log_init("/usr/lib/p2p/cgi-bin/unit");
	ck_assert_msg(log_open(in_dir(name), &err) == 0, "%s", err.msg);
}

START_TEST(test_file_lines)
{
	const char	*text;

	open_log("a.log");
	log_info("GET /fhir/metadata 200 id=%s", "0123456789abcdef");
	log_warn("evil\nline\\%s", "");
	log_err("bad");
	log_close();
	text = slurp(in_dir("a.log"));
	ck_assert_msg(strstr(text, "unit[info] GET /fhir/metadata 200 "
	    "id=0123456789abcdef\n") != NULL, "%s", text);
	/* a newline in a message cannot forge a line */
	ck_assert_msg(strstr(text, "unit[warn] evil\\x0aline\\x5c\n") != NULL,
	    "%s", text);
	ck_assert_msg(strstr(text, "unit[error] bad\n") != NULL, "%s", text);
}
END_TEST

/* Held lines reach the file at log_flush() / log_hold(0), whole and in
 * order; a full buffer is written before it overflows. */
START_TEST(test_hold)
{
	char		 big[1000];
	const char	*text;
	int		 i;

	open_log("h.log");
	log_hold(1);
	log_info("one");
	log_info("two");
	ck_assert_str_eq(slurp(in_dir("h.log")), "");
	log_hold(0);
	text = slurp(in_dir("h.log"));
	ck_assert_ptr_nonnull(strstr(text, "[info] one\n"));
	ck_assert_ptr_nonnull(strstr(strstr(text, "one"), "[info] two\n"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_hold(1);
	for (i = 0; i < 100; i++)		/* ~100 KiB: more than held */
		log_info("%d %s", i, big);
	ck_assert_int_gt(strlen(slurp(in_dir("h.log"))), 50000);
	log_flush();
	text = slurp(in_dir("h.log"));
	ck_assert_ptr_nonnull(strstr(text, "[info] 99 xxx"));
	ck_assert_ptr_nonnull(strstr(strstr(text, "[info] 0 xxx"),
	    "[info] 1 xxx"));
	log_hold(0);
	log_close();
}
END_TEST

START_TEST(test_mode_0640)
{
	struct stat	 sb;

	open_log("mode.log");
	log_info("x");
	log_close();
	ck_assert_int_eq(stat(in_dir("mode.log"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0077 & ~0040, 0);
}
END_TEST

/* logrotate renames the file: within LOG_CHECK_SECS a new one is made. */
START_TEST(test_reopen_after_rename)
{
	struct timespec	 ts = { LOG_CHECK_SECS, 200000000L };

	open_log("r.log");
	log_info("before rotation");
	ck_assert_int_eq(rename(in_dir("r.log"), in_dir("r.log.1")), 0);
	nanosleep(&ts, NULL);
	log_info("after rotation");
	log_close();
	ck_assert(strstr(slurp(in_dir("r.log.1")), "before rotation") != NULL);
	ck_assert(strstr(slurp(in_dir("r.log.1")), "after rotation") == NULL);
	ck_assert(strstr(slurp(in_dir("r.log")), "after rotation") != NULL);
}
END_TEST

/* Removed without a new file: the next check makes it again. */
START_TEST(test_reopen_after_unlink)
{
	struct timespec	 ts = { LOG_CHECK_SECS, 200000000L };

	open_log("u.log");
	log_info("one");
	ck_assert_int_eq(unlink(in_dir("u.log")), 0);
	nanosleep(&ts, NULL);
	log_info("two");
	log_close();
	ck_assert(strstr(slurp(in_dir("u.log")), "two") != NULL);
}
END_TEST

/* SIGHUP: the very next line goes to a new file, no wait. */
START_TEST(test_reopen_on_sighup)
{
	open_log("h.log");
	log_info("first");
	ck_assert_int_eq(rename(in_dir("h.log"), in_dir("h.log.1")), 0);
	ck_assert_int_eq(raise(SIGHUP), 0);	/* handled: not fatal */
	log_info("second");
	log_close();
	ck_assert(strstr(slurp(in_dir("h.log.1")), "second") == NULL);
	ck_assert(strstr(slurp(in_dir("h.log")), "second") != NULL);
}
END_TEST

/* Several processes append to one file: every line whole, none lost. */
START_TEST(test_processes_write_whole_lines)
{
	enum { PROCS = 4, LINES = 2000 };
	const char	*text, *p, *nl;
	char		 want[64];
	int		 i, j, status, n = 0;
	pid_t		 pid[PROCS];

	unlink(in_dir("m.log"));
	for (i = 0; i < PROCS; i++) {
		if ((pid[i] = fork()) == 0) {
			struct p2p_err	 err;

			p2p_err_init(&err);
			log_init("w");
			if (log_open(in_dir("m.log"), &err) == -1)
				_exit(1);
			for (j = 0; j < LINES; j++)
				log_info("process %d line %d %s", i, j,
				    "padding padding padding padding padding");
			_exit(0);
		}
		ck_assert_int_ne(pid[i], -1);
	}
	for (i = 0; i < PROCS; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	text = slurp(in_dir("m.log"));
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		ck_assert_msg(strstr(p, "w[info] process ") != NULL &&
		    strstr(p, "w[info] process ") < nl, "line %d", n);
		ck_assert_msg(nl - p > 40 && strncmp(nl - 7, "padding", 7) == 0,
		    "line %d: %.*s", n, (int)(nl - p), p);
		n++;
	}
	ck_assert_int_eq(*p, '\0');
	ck_assert_int_eq(n, PROCS * LINES);
	snprintf(want, sizeof(want), "process %d line %d ", PROCS - 1,
	    LINES - 1);
	ck_assert(strstr(text, want) != NULL);
}
END_TEST

/* "stderr" and "-": fd 2; a file that cannot be opened changes nothing. */
START_TEST(test_stderr_and_failure)
{
	struct p2p_err	 err;
	int		 fd, saved;
	const char	*text;

	fd = open(in_dir("stderr.out"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	saved = dup(2);
	dup2(fd, 2);
	log_init("s");
	p2p_err_init(&err);
	ck_assert_int_eq(log_open("stderr", &err), 0);
	log_info("to stderr");
	ck_assert_int_eq(log_open("-", &err), 0);
	log_info("dash too");
	ck_assert_int_eq(log_open("/nonexistent/dir/p2p.log", &err), -1);
	ck_assert(strstr(err.msg, "/nonexistent/dir/p2p.log") != NULL);
	log_info("still stderr");
	dup2(saved, 2);
	close(saved);
	close(fd);
	text = slurp(in_dir("stderr.out"));
	ck_assert(strstr(text, "s[info] to stderr\n") != NULL);
	ck_assert(strstr(text, "s[info] dash too\n") != NULL);
	ck_assert(strstr(text, "s[info] still stderr\n") != NULL);
}
END_TEST

/* With log_tee(1) a line goes to the file and to stderr. */
START_TEST(test_tee)
{
	int	 fd, saved;

	fd = open(in_dir("tee.out"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	dup2(fd, 2);
	open_log("tee.log");
	log_tee(1);
	log_info("both places");
	log_close();
	dup2(saved, 2);
	close(saved);
	close(fd);
	ck_assert(strstr(slurp(in_dir("tee.log")), "both places") != NULL);
	ck_assert(strstr(slurp(in_dir("tee.out")), "both places") != NULL);
}
END_TEST

/*
 * "syslog": syslog(3) writes to /dev/log.  The child gets a mount
 * namespace of its own (private, so nothing reaches the host) with an
 * empty /dev, and listens there itself.  Skipped where namespaces are
 * not allowed (not root, or a restricted container).
 */
static int
syslog_child(void)
{
	struct sockaddr_un	 sa;
	struct timeval		 tv = { 5, 0 };
	struct p2p_err		 err;
	char			 msg[512];
	ssize_t			 n;
	int			 s;

	if (unshare(CLONE_NEWNS) == -1)
		return 77;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		return 77;
	if (mount("none", "/dev", "tmpfs", 0, NULL) == -1)
		return 77;
	if ((s = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/dev/log");
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		return 3;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	p2p_err_init(&err);
	log_init("sysl");
	if (log_open("syslog", &err) == -1)
		return 4;
	log_info("via syslog id=%s", "00ff");
	if ((n = recv(s, msg, sizeof(msg) - 1, 0)) <= 0)
		return 5;
	msg[n] = '\0';
	/* <30>: facility daemon (3 << 3), severity info (6); LOG_PID */
	if (strncmp(msg, "<30>", 4) != 0 || strstr(msg, "sysl[") == NULL ||
	    strstr(msg, "[info] via syslog id=00ff") == NULL) {
		fprintf(stderr, "syslog got: %s\n", msg);
		return 6;
	}
	log_close();
	return 0;
}

START_TEST(test_syslog)
{
	pid_t	 pid;
	int	 status;

	if (geteuid() != 0) {
		fprintf(stderr, "check_log: syslog test skipped (not root)\n");
		return;
	}
	if ((pid = fork()) == 0)
		_exit(syslog_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "check_log: syslog test skipped (no mount "
		    "namespace here)\n");
		return;
	}
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

int
main(void)
{
	const struct unit_test	 tests[] = {
		UNIT_TEST(test_file_lines),
		UNIT_TEST(test_hold),
		UNIT_TEST(test_mode_0640),
		UNIT_TEST(test_reopen_after_rename),
		UNIT_TEST(test_reopen_after_unlink),
		UNIT_TEST(test_reopen_on_sighup),
		UNIT_TEST(test_processes_write_whole_lines),
		UNIT_TEST(test_stderr_and_failure),
		UNIT_TEST(test_tee),
		UNIT_TEST(test_syslog),
	};

	return unit_run_in(unit_tests("log", NULL, NULL, 30, tests,
	    UNIT_N(tests)), dir);
}

/*
 * control.c - the ControlSocket server of sesverify-milter.
 *	Owns the control socket, its one server thread and the line protocol
 *	(list, show, refresh, forget, stats; see control.h and the man page).
 *	Does not own the cache: every answer is read from or sent to the
 *	engine through its public interface.  Input is bounded and parsed
 *	strictly; anything else is answered with ERR.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "metrics.h"
#include "milter.h"
#include "stats.h"

static pthread_t control_thread;
static int control_fd = -1;
static int stop_pipe[2] = {-1, -1};
static sv_engine *control_engine;
static bool control_running;

/* control_open - bind the Unix socket of spec ("unix:PATH" or "PATH"), mode 0660 */
int control_open(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	char path[sizeof(sun.sun_path)];
	int fd;

	if (daemon_unix_path(spec, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "ControlSocket %s: only unix:PATH is supported", spec);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "ControlSocket %s exists and is not a socket", path);
			return -1;
		}
		unlink(path); /* stale socket of an earlier run */
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 16) < 0) {
		snprintf(err, errlen, "ControlSocket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* iso_time - "2026-01-02T03:04:05Z", or "-" for 0 */
static const char *iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		return "-";
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* json_time - a JSON string for t, or null */
static void json_time(sv_buf *out, const char *key, time_t t)
{
	char buf[32];

	sv_buf_printf(out, ",\"%s\":", key);
	if (t == 0)
		sv_buf_puts(out, "null");
	else
		sv_buf_json_string(out, iso_time(t, buf, sizeof(buf)));
}

/* entry_json - one entry object of the protocol */
static void entry_json(sv_buf *out, const char *domain, const sv_entry_view *v)
{
	sv_buf_puts(out, "{\"domain\":");
	sv_buf_json_string(out, domain);
	sv_buf_puts(out, ",\"state\":");
	sv_buf_json_string(out, sv_state_name(v->state));
	sv_buf_printf(out, ",\"verified\":%s,\"stale\":%s,\"refreshing\":%s",
	              v->state == SV_STATE_VERIFIED ? "true" : "false", v->stale ? "true" : "false",
	              v->refreshing ? "true" : "false");
	json_time(out, "fetched_at", v->fetched_at);
	json_time(out, "expires_at", v->expires_at);
	json_time(out, "api_checked_at", v->api_checked_at);
	sv_buf_puts(out, ",\"request_id\":");
	if (v->request_id[0])
		sv_buf_json_string(out, v->request_id);
	else
		sv_buf_puts(out, "null");
	sv_buf_puts(out, ",\"attributes\":[");
	if (v->fail_type[0]) {
		/* the view carries the first failing record only */
		sv_buf_puts(out, "{\"type\":");
		sv_buf_json_string(out, v->fail_type);
		sv_buf_puts(out, ",\"send_domain\":");
		sv_buf_json_string(out, v->fail_name);
		sv_buf_puts(out, ",\"expected\":");
		sv_buf_json_string(out, v->fail_expected);
		sv_buf_puts(out, ",\"current\":");
		sv_buf_json_string(out, v->fail_current);
		sv_buf_puts(out, ",\"status\":false}");
	}
	sv_buf_puts(out, "],\"error\":");
	if (v->error_code[0]) {
		sv_buf_puts(out, "{\"code\":");
		sv_buf_json_string(out, v->error_code);
		sv_buf_puts(out, ",\"message\":");
		sv_buf_json_string(out, "last refresh failed");
		sv_buf_puts(out, "}");
	} else {
		sv_buf_puts(out, "null");
	}
	sv_buf_puts(out, "}");
}

/* entry_text - the "show" body: one "key: value" per line */
static void entry_text(sv_buf *out, const char *domain, const sv_entry_view *v)
{
	char t1[32];

	sv_buf_printf(out, "domain: %s\nstate: %s\nstale: %s\nrefreshing: %s\n", domain,
	              sv_state_name(v->state), v->stale ? "yes" : "no",
	              v->refreshing ? "yes" : "no");
	sv_buf_printf(out, "fetched_at: %s\n", iso_time(v->fetched_at, t1, sizeof(t1)));
	sv_buf_printf(out, "expires_at: %s\n", iso_time(v->expires_at, t1, sizeof(t1)));
	sv_buf_printf(out, "api_checked_at: %s\n", iso_time(v->api_checked_at, t1, sizeof(t1)));
	sv_buf_printf(out, "request_id: %s\n", v->request_id[0] ? v->request_id : "-");
	if (v->fail_type[0]) {
		if (v->fail_missing || !v->fail_current[0])
			sv_buf_printf(out, "failing_record: %s %s missing (expected \"%s\")\n",
			              v->fail_type, v->fail_name, v->fail_expected);
		else
			sv_buf_printf(
			    out, "failing_record: %s %s wrong (found \"%s\", expected \"%s\")\n",
			    v->fail_type, v->fail_name, v->fail_current, v->fail_expected);
	}
	if (v->error_code[0])
		sv_buf_printf(out, "error: %s\n", v->error_code);
}

struct list_ctx {
	sv_buf *out;
	bool json;
	size_t n;
	const char *want; /* show: the one domain, else NULL */
	sv_entry_view found;
	bool hit;
	size_t by_state[SV_STATE_ERROR + 1];
};

/* list_one - sv_engine_walk callback for list, show and stats */
static void list_one(const char *domain, const sv_entry_view *v, void *arg)
{
	struct list_ctx *c = arg;
	char t1[32];

	if ((unsigned)v->state <= SV_STATE_ERROR)
		c->by_state[v->state]++;
	if (c->want) {
		if (strcmp(domain, c->want) == 0) {
			c->found = *v;
			c->hit = true;
		}
		return;
	}
	if (c->out == NULL)
		return;
	if (c->json) {
		if (c->n)
			sv_buf_puts(c->out, ",");
		entry_json(c->out, domain, v);
	} else {
		sv_buf_printf(c->out, "%-40s %-10s %c%c %-20s %s\n", domain,
		              sv_state_name(v->state), v->stale ? 's' : '-',
		              v->refreshing ? 'r' : '-', iso_time(v->expires_at, t1, sizeof(t1)),
		              v->request_id[0] ? v->request_id : "-");
	}
	c->n++;
}

struct stat_item {
	char name[64];
	uint64_t value;
};
struct stat_ctx {
	struct stat_item items[256];
	size_t n;
};

/* stat_one - collect a counter, first name wins (engine and process counters) */
static void stat_one(const char *name, uint64_t value, void *arg)
{
	struct stat_ctx *c = arg;

	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->items[i].name, name) == 0)
			return;
	if (c->n == SV_ARRAY_LEN(c->items) || strlen(name) >= sizeof(c->items[0].name))
		return;
	snprintf(c->items[c->n].name, sizeof(c->items[0].name), "%s", name);
	c->items[c->n++].value = value;
}

/* do_stats - counters plus cache entries by state */
static void do_stats(sv_engine *e, bool json, sv_buf *out)
{
	static struct stat_ctx sc; /* the control thread is alone */
	struct list_ctx lc = {0};
	char name[64];
	size_t total = 0;

	sc.n = 0;
	sv_engine_walk(e, list_one, &lc);
	for (int s = 0; s <= SV_STATE_ERROR; s++) {
		snprintf(name, sizeof(name), "cache.entries.%s", sv_state_name((sv_state)s));
		stat_one(name, lc.by_state[s], &sc);
		total += lc.by_state[s];
	}
	stat_one("cache.entries", total, &sc);
	sv_engine_stats(e, stat_one, &sc);
	sv_stat_walk(stat_one, &sc);
	sv_buf_puts(out, "OK\n");
	if (json)
		sv_buf_puts(out, "{");
	for (size_t i = 0; i < sc.n; i++) {
		if (json) {
			sv_buf_puts(out, i ? "," : "");
			sv_buf_json_string(out, sc.items[i].name);
			sv_buf_printf(out, ":%llu", (unsigned long long)sc.items[i].value);
		} else {
			sv_buf_printf(out, "%s %llu\n", sc.items[i].name,
			              (unsigned long long)sc.items[i].value);
		}
	}
	if (json)
		sv_buf_puts(out, "}\n");
}

/* split - up to max whitespace-separated words of line; -1 if more */
static int split(char *line, char **words, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return -1;
		words[n++] = w;
	}
	return n;
}

/* printable - only printable ASCII reaches the answer */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* control_execute - run one command line; the whole answer goes to out */
int control_execute(sv_engine *e, const char *line, sv_buf *out)
{
	char buf[CONTROL_LINE_MAX + 1], domain[SV_DOMAIN_MAX + 1];
	char *w[4];
	const char *why = NULL;
	bool json = false;
	int n;

	if (strlen(line) > CONTROL_LINE_MAX) {
		sv_buf_puts(out, "ERR line too long\n");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	buf[strcspn(buf, "\r\n")] = 0;
	if (!printable(buf) || (n = split(buf, w, 3)) < 0) {
		sv_buf_puts(out, "ERR malformed command\n");
		return -1;
	}
	if (n > 0 && strcmp(w[n - 1], "json") == 0) {
		json = true;
		n--;
	}
	if (n == 0) {
		sv_buf_puts(out, "ERR empty command\n");
		return -1;
	}
	if (strcmp(w[0], "metrics") == 0 && n == 1 && !json) {
		sv_buf_puts(out, "OK\n");
		metrics_render(e, out);
		return 0;
	}
	if (strcmp(w[0], "list") == 0 || strcmp(w[0], "stats") == 0) {
		if (n != 1) {
			sv_buf_printf(out, "ERR %s takes no argument\n", w[0]);
			return -1;
		}
		if (w[0][0] == 's') {
			do_stats(e, json, out);
			return 0;
		}
		struct list_ctx lc = {.out = out, .json = json};
		sv_buf_puts(out, json ? "OK\n[" : "OK\n");
		if (!json)
			sv_buf_printf(out, "%-40s %-10s %-2s %-20s %s\n", "DOMAIN", "STATE", "FL",
			              "EXPIRES", "REQUEST_ID");
		sv_engine_walk(e, list_one, &lc);
		if (json)
			sv_buf_puts(out, "]\n");
		return 0;
	}
	if (strcmp(w[0], "show") != 0 && strcmp(w[0], "refresh") != 0 &&
	    strcmp(w[0], "forget") != 0) {
		sv_buf_puts(out,
		            "ERR unknown command (list, show, refresh, forget, stats, metrics)\n");
		return -1;
	}
	if (n != 2) {
		sv_buf_printf(out, "ERR usage: %s DOMAIN [json]\n", w[0]);
		return -1;
	}
	if (sv_domain_normalize(w[1], domain, &why) < 0) {
		sv_buf_printf(out, "ERR bad domain: %s\n", why ? why : "invalid");
		return -1;
	}
	if (strcmp(w[0], "show") == 0) {
		struct list_ctx lc = {.want = domain};
		sv_engine_walk(e, list_one, &lc);
		if (!lc.hit) {
			sv_buf_printf(out, "NOTFOUND %s\n", domain);
			return 0;
		}
		sv_buf_puts(out, "OK\n");
		if (json) {
			entry_json(out, domain, &lc.found);
			sv_buf_puts(out, "\n");
		} else {
			entry_text(out, domain, &lc.found);
		}
		return 0;
	}
	if (strcmp(w[0], "refresh") == 0) {
		if (sv_engine_refresh(e, domain) < 0) {
			sv_buf_printf(out, "ERR cannot queue a refresh of %s\n", domain);
			return -1;
		}
		mlog(SV_LOG_INFO, "control: refresh %s queued", domain);
		sv_buf_puts(out, "OK\n");
		if (json) {
			sv_buf_puts(out, "{\"domain\":");
			sv_buf_json_string(out, domain);
			sv_buf_puts(out, ",\"refresh\":\"queued\"}\n");
		}
		return 0;
	}
	if (sv_engine_forget(e, domain) < 0) {
		sv_buf_printf(out, "NOTFOUND %s\n", domain);
		return 0;
	}
	mlog(SV_LOG_INFO, "control: forgot %s", domain);
	sv_buf_puts(out, "OK\n");
	if (json) {
		sv_buf_puts(out, "{\"domain\":");
		sv_buf_json_string(out, domain);
		sv_buf_puts(out, ",\"forgotten\":true}\n");
	}
	return 0;
}

/* read_line - one bounded line with a deadline; -1 on timeout/overflow */
static int read_line(int fd, char *line, size_t size, bool *too_long)
{
	size_t n = 0;
	ssize_t r;

	*too_long = false;
	while (n < size - 1) {
		r = read(fd, line + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (memchr(line + n, 0, (size_t)r)) {
			line[0] = 1; /* a NUL is malformed, not an end */
			n = 1;
			break;
		}
		n += (size_t)r;
		line[n] = 0;
		if (strchr(line, '\n'))
			return 0;
	}
	line[n] = 0;
	if (n == size - 1) {
		char junk[4096];
		size_t drained = 0;
		*too_long = true;
		/*
		 * Swallow the rest of the line (bounded) so that closing the
		 * socket does not reset it before the client reads our ERR.
		 */
		while (drained < 64 * 1024 && (r = read(fd, junk, sizeof(junk))) > 0) {
			drained += (size_t)r;
			if (memchr(junk, '\n', (size_t)r))
				break;
		}
	}
	return n > 0 ? 0 : -1;
}

/* write_all - the whole answer, or give up */
static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

/* serve - one client: one command, one answer */
static void serve(int fd)
{
	struct timeval tv = {.tv_sec = 2};
	char line[CONTROL_LINE_MAX + 2];
	bool too_long;
	sv_buf out;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sv_buf_init(&out, 16 * 1024 * 1024);
	if (read_line(fd, line, sizeof(line), &too_long) < 0)
		sv_buf_puts(&out, "ERR no command\n");
	else if (too_long)
		sv_buf_puts(&out, "ERR line too long\n");
	else
		control_execute(control_engine, line, &out);
	if (sv_buf_failed(&out)) {
		sv_buf_reset(&out);
		sv_buf_puts(&out, "ERR answer too large\n");
	}
	write_all(fd, out.data, out.len);
	sv_buf_free(&out);
}

/* control_main - the server thread: accept until stopped */
static void *control_main(void *arg)
{
	struct pollfd pfd[2];

	(void)arg;
	pfd[0].fd = control_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = stop_pipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			mlog(SV_LOG_ERR, "control: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		int c = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve(c);
		close(c);
	}
	return NULL;
}

/* control_start - serve fd on a thread of its own */
int control_start(int fd, sv_engine *engine)
{
	int rc;

	if (pipe2(stop_pipe, O_CLOEXEC) < 0)
		return -1;
	control_fd = fd;
	control_engine = engine;
	rc = pthread_create(&control_thread, NULL, control_main, NULL);
	if (rc != 0) {
		mlog(SV_LOG_ERR, "control: pthread_create: %s", strerror(rc));
		return -1;
	}
	control_running = true;
	return 0;
}

/* control_stop - end the thread and close the socket */
void control_stop(void)
{
	if (!control_running)
		return;
	if (write(stop_pipe[1], "x", 1) < 0)
		mlog(SV_LOG_WARNING, "control: cannot wake the server thread");
	pthread_join(control_thread, NULL);
	control_running = false;
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	close(control_fd);
	control_fd = -1;
}

/*
 * control.c - the ControlSocket server of sesverify-milter.
 *	Owns the control socket, its one server thread and the line protocol
 *	(list, show, refresh, forget, stats; see control.h and the man page),
 *	who may run which command (SO_PEERCRED), the per-client deadlines,
 *	the bound on forced refreshes and the grants of the API budget it
 *	hands to sesverify check and list (grant).
 *	Does not own the cache: every answer is read from or sent to the
 *	engine through its public interface.  Input is bounded and parsed
 *	strictly; anything else is answered with ERR.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
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
#include "ctlproto.h"
#include "mlog.h"

static pthread_t control_thread;
static int control_fd = -1;
static int stop_pipe[2] = {-1, -1};
static sv_engine *control_engine;
static bool control_running;
static char control_user[64]; /* the milter's user, for "permission denied" */

/* forced refreshes: the start times of the last REFRESH_MAX, a ring */
static int64_t refresh_times[CONTROL_REFRESH_MAX];
static unsigned refresh_next;

/* now_ms - monotonic milliseconds */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * refresh_allowed - the bound on forced refreshes: at most
 *	CONTROL_REFRESH_MAX per CONTROL_REFRESH_WINDOW_S seconds, so that
 *	they never fill the queue that mail's unknown domains wait in.
 *	0, or the seconds until the next one is allowed.
 */
static int refresh_allowed(void)
{
	int64_t now = now_ms(), oldest = refresh_times[refresh_next % CONTROL_REFRESH_MAX];

	if (refresh_next >= CONTROL_REFRESH_MAX &&
	    now - oldest < (int64_t)CONTROL_REFRESH_WINDOW_S * 1000)
		return (int)((oldest + CONTROL_REFRESH_WINDOW_S * 1000 - now + 999) / 1000);
	refresh_times[refresh_next++ % CONTROL_REFRESH_MAX] = now;
	return 0;
}

/* control_open - bind the Unix socket of spec ("unix:PATH" or "PATH"), mode 0660 */
int control_open(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	char path[sizeof(sun.sun_path)];
	mode_t old_mask;
	int fd, rc;

	if (sv_unix_socket_path(spec, path, sizeof(path), NULL, 0) != 0) {
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
	/* born mode 0660: a chmod by path could follow a swapped-in symlink */
	old_mask = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (rc < 0 || listen(fd, 16) < 0) {
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

/* entry_error_message - what the error code of an entry means */
static const char *entry_error_message(const sv_entry_view *v)
{
	if (strcmp(v->error_code, SV_ECODE_NXDOMAIN) == 0)
		return "domain does not exist in DNS (NXDOMAIN)";
	if (v->state == SV_STATE_NOT_EXIST)
		return "not set up in Tencent Cloud SES";
	return "last refresh failed";
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
		sv_buf_json_string(out, entry_error_message(v));
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

struct stat_ctx {
	sv_buf *out;
	bool json;
	size_t n; /* counters written */
};

/* stat_put - one counter: a "name value" line, or a member of the JSON object */
static void stat_put(struct stat_ctx *c, const char *name, uint64_t value)
{
	if (c->json) {
		sv_buf_puts(c->out, c->n ? "," : "");
		sv_buf_json_string(c->out, name);
		sv_buf_printf(c->out, ":%llu", (unsigned long long)value);
	} else {
		sv_buf_printf(c->out, "%s %llu\n", name, (unsigned long long)value);
	}
	c->n++;
}

/* stat_one - sv_engine_stats callback: every figure but the cache.entries
 * ones, which do_stats wrote already from the entries' views */
static void stat_one(const char *name, uint64_t value, void *arg)
{
	sv_state st;

	if (strcmp(name, "cache.entries") == 0 ||
	    (strncmp(name, "cache.entries.", 14) == 0 && sv_state_parse(name + 14, &st) == 0))
		return;
	stat_put(arg, name, value);
}

/* do_stats - cache entries by state, then every counter, none left out */
static void do_stats(sv_engine *e, bool json, sv_buf *out)
{
	struct stat_ctx sc = {.out = out, .json = json};
	struct list_ctx lc = {0};
	char name[64];
	size_t total = 0;

	sv_engine_walk(e, list_one, &lc);
	sv_buf_puts(out, CTL_OK "\n");
	if (json)
		sv_buf_puts(out, "{");
	for (int s = 0; s <= SV_STATE_ERROR; s++) {
		snprintf(name, sizeof(name), "cache.entries.%s", sv_state_name((sv_state)s));
		stat_put(&sc, name, lc.by_state[s]);
		total += lc.by_state[s];
	}
	stat_put(&sc, "cache.entries", total);
	sv_engine_stats(e, stat_one, &sc);
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

/* execute - run one command line; may_change: refresh and forget allowed */
static int execute(sv_engine *e, const char *line, sv_buf *out, bool may_change)
{
	char buf[CTL_LINE_MAX + 1], domain[SV_DOMAIN_MAX + 1];
	char *w[4];
	const char *why = NULL;
	const ctl_verb *v;
	bool json = false;
	int n;

	if (strlen(line) > CTL_LINE_MAX) {
		sv_buf_puts(out, CTL_ERR " line too long\n");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	buf[strcspn(buf, "\r\n")] = 0;
	if (!printable(buf) || (n = split(buf, w, 3)) < 0) {
		sv_buf_puts(out, CTL_ERR " malformed command\n");
		return -1;
	}
	if (n > 0 && strcmp(w[n - 1], CTL_JSON) == 0) {
		json = true;
		n--;
	}
	if (n == 0) {
		sv_buf_puts(out, CTL_ERR " empty command\n");
		return -1;
	}
	v = ctl_verb_find(w[0]);
	if (!v || (!v->json && (json || n != 1))) {
		sv_buf_puts(out, CTL_ERR " unknown command (");
		for (size_t i = 0; i < ctl_nverbs; i++)
			sv_buf_printf(out, "%s%s", i ? ", " : "", ctl_verbs[i].name);
		sv_buf_puts(out, ")\n");
		return -1;
	}
	if (strcmp(v->name, "grant") == 0) { /* only on a connection: client_answer */
		sv_buf_puts(out, CTL_ERR " grant: only on a ControlSocket connection\n");
		return -1;
	}
	if (!v->json) { /* metrics */
		sv_buf_puts(out, CTL_OK "\n");
		metrics_render(e, out);
		return 0;
	}
	if (!v->domain) {
		if (n != 1) {
			sv_buf_printf(out, CTL_ERR " %s takes no argument\n", w[0]);
			return -1;
		}
		if (w[0][0] == 's') {
			do_stats(e, json, out);
			return 0;
		}
		struct list_ctx lc = {.out = out, .json = json};
		sv_buf_puts(out, json ? CTL_OK "\n[" : CTL_OK "\n");
		if (!json)
			sv_buf_printf(out, "%-40s %-10s %-2s %-20s %s\n", "DOMAIN", "STATE", "FL",
			              "EXPIRES", "REQUEST_ID");
		sv_engine_walk(e, list_one, &lc);
		if (json)
			sv_buf_puts(out, "]\n");
		return 0;
	}
	if (n != 2) {
		sv_buf_printf(out, CTL_ERR " usage: %s DOMAIN [json]\n", w[0]);
		return -1;
	}
	if (!may_change && v->changes) {
		sv_buf_printf(out,
		              CTL_ERR
		              " permission denied: %s changes the cache; only root and %s may "
		              "(list, show, stats and metrics are open to the socket's group)\n",
		              w[0], control_user[0] ? control_user : "the milter's user");
		return -1;
	}
	if (sv_domain_normalize(w[1], domain, &why) < 0) {
		sv_buf_printf(out, CTL_ERR " bad domain: %s\n", why ? why : "invalid");
		return -1;
	}
	if (strcmp(w[0], "show") == 0) {
		struct list_ctx lc = {.want = domain};
		sv_engine_walk(e, list_one, &lc);
		if (!lc.hit) {
			sv_buf_printf(out, CTL_NOTFOUND " %s\n", domain);
			return 0;
		}
		sv_buf_puts(out, CTL_OK "\n");
		if (json) {
			entry_json(out, domain, &lc.found);
			sv_buf_puts(out, "\n");
		} else {
			entry_text(out, domain, &lc.found);
		}
		return 0;
	}
	if (strcmp(w[0], "refresh") == 0) {
		int wait_s = refresh_allowed();
		if (wait_s > 0) {
			sv_buf_printf(
			    out,
			    CTL_ERR " refresh limit: at most %d forced refreshes per %d s (mail's "
			            "unknown domains come first); try again in %d s\n",
			    CONTROL_REFRESH_MAX, CONTROL_REFRESH_WINDOW_S, wait_s);
			return -1;
		}
		if (sv_engine_refresh(e, domain) < 0) {
			sv_buf_printf(out, CTL_ERR " cannot queue a refresh of %s\n", domain);
			return -1;
		}
		mlog(SV_LOG_INFO, "control: refresh %s queued", domain);
		sv_buf_puts(out, CTL_OK "\n");
		if (json) {
			sv_buf_puts(out, "{\"domain\":");
			sv_buf_json_string(out, domain);
			sv_buf_puts(out, ",\"refresh\":\"queued\"}\n");
		}
		return 0;
	}
	if (sv_engine_forget(e, domain) < 0) {
		sv_buf_printf(out, CTL_NOTFOUND " %s\n", domain);
		return 0;
	}
	mlog(SV_LOG_INFO, "control: forgot %s", domain);
	sv_buf_puts(out, CTL_OK "\n");
	if (json) {
		sv_buf_puts(out, "{\"domain\":");
		sv_buf_json_string(out, domain);
		sv_buf_puts(out, ",\"forgotten\":true}\n");
	}
	return 0;
}

/* control_execute - run one command line as root; the whole answer goes to out */
int control_execute(sv_engine *e, const char *line, sv_buf *out)
{
	return execute(e, line, out, true);
}

/*
 * One client: its line comes in, then its answer goes out, each within
 * a deadline; the server thread polls every client, so a slow one holds
 * nobody else up.
 */
struct client {
	int fd;           /* -1: free slot */
	bool may_change;  /* root or the milter's user (SO_PEERCRED) */
	bool too_long;    /* discarding the rest of an overlong line */
	bool writing;     /* the answer is in out */
	int grant;        /* GRANT_WAITING or GRANT_HELD: a "grant" client */
	uint64_t ticket;  /* of the held grant */
	size_t inlen;     /* octets in in */
	size_t drained;   /* of an overlong line */
	size_t outpos;    /* octets of out already sent */
	int64_t deadline; /* now_ms() limit of the current phase */
	sv_buf out;
	char in[CTL_LINE_MAX + 2];
};

static struct client clients[CONTROL_CLIENTS_MAX];
static unsigned grants_busy; /* clients with a grant state */

enum { GRANT_NONE, GRANT_WAITING, GRANT_HELD };

/* client_close - free the slot */
static void client_close(struct client *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	if (c->writing)
		sv_buf_free(&c->out);
	if (c->grant == GRANT_HELD)
		sv_engine_api_done(control_engine, c->ticket); /* its answer has arrived */
	if (c->grant != GRANT_NONE)
		grants_busy--;
	c->grant = GRANT_NONE;
	c->fd = -1;
}

/* is_grant - the line is the "grant" verb alone */
static bool is_grant(const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	return len == 5 && memcmp(line, "grant", 5) == 0;
}

/*
 * grant_try - a waiting client gets its grant (OK, and the connection is
 *	kept until the client closes it) or an ERR past its deadline; else
 *	the microseconds until the next try
 */
static int64_t grant_try(struct client *c, int64_t now)
{
	static const char okline[] = CTL_OK "\n";
	char msg[160];
	int64_t w = sv_engine_api_try(control_engine, &c->ticket);
	int n;

	if (w == 0) {
		c->grant = GRANT_HELD;
		c->deadline = now + CONTROL_GRANT_HOLD_MS;
		sv_stat_add("control.grants", 1);
		if (write(c->fd, okline, sizeof(okline) - 1) != (ssize_t)sizeof(okline) - 1)
			client_close(c); /* gone: the grant ends at once */
		return 0;
	}
	if (w > 0 && now + (w + 999) / 1000 < c->deadline)
		return w;
	n = snprintf(msg, sizeof(msg), CTL_ERR " grant: %s\n",
	             w < 0 ? "the daemon is stopping"
	                   : "no grant within the wait; the API budget is busy");
	if (write(c->fd, msg, (size_t)n) < 0) {
		/* best effort */
	}
	sv_stat_add("control.grants.timeout", 1);
	client_close(c);
	return 0;
}

/* client_answer - run what was received and start sending the answer */
static void client_answer(struct client *c)
{
	static const char busy[] = CTL_ERR " grant: busy: too many grants held\n";

	if (!c->too_long && is_grant(c->in, c->inlen)) {
		if (grants_busy >= CONTROL_GRANTS_MAX) {
			if (write(c->fd, busy, sizeof(busy) - 1) < 0) {
				/* best effort */
			}
			client_close(c);
			return;
		}
		grants_busy++;
		c->grant = GRANT_WAITING;
		c->deadline = now_ms() + CONTROL_GRANT_WAIT_MS;
		return;
	}
	sv_buf_init(&c->out, CTL_REPLY_MAX);
	c->in[c->inlen] = 0;
	if (c->too_long)
		sv_buf_puts(&c->out, CTL_ERR " line too long\n");
	else if (c->inlen == 0)
		sv_buf_puts(&c->out, CTL_ERR " no command\n");
	else if (memchr(c->in, 0, c->inlen))
		sv_buf_puts(&c->out, CTL_ERR " malformed command\n"); /* a NUL is not an end */
	else
		execute(control_engine, c->in, &c->out, c->may_change);
	if (sv_buf_failed(&c->out)) {
		sv_buf_reset(&c->out);
		sv_buf_puts(&c->out, CTL_ERR " answer too large\n");
	}
	c->writing = true;
	c->outpos = 0;
	c->deadline = now_ms() + CONTROL_SEND_MS;
}

/* client_read - take what the client sent; answer at a newline or its end */
static void client_read(struct client *c)
{
	char junk[4096], *nl;
	size_t room = sizeof(c->in) - 1 - c->inlen;
	char *dst = c->too_long || room == 0 ? junk : c->in + c->inlen;
	size_t want = dst == junk ? sizeof(junk) : room;
	ssize_t r;

	if (c->grant != GRANT_NONE) {
		/* a grant's client closed (or wrote): its request has its answer */
		r = read(c->fd, junk, sizeof(junk));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		client_close(c);
		return;
	}
	r = read(c->fd, dst, want);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r < 0) {
		client_close(c);
		return;
	}
	if (r == 0) {
		client_answer(c); /* the end of its input ends the line */
		return;
	}
	if (dst == junk) {
		/* the rest of an overlong line is swallowed (bounded) so that
		 * closing the socket does not reset it before our ERR is read */
		c->too_long = true;
		c->drained += (size_t)r;
		if (memchr(junk, '\n', (size_t)r) || c->drained >= 64 * 1024)
			client_answer(c);
		return;
	}
	c->inlen += (size_t)r;
	nl = memchr(c->in, '\n', c->inlen);
	if (nl) {
		c->inlen = (size_t)(nl - c->in);
		client_answer(c);
	} else if (c->inlen == sizeof(c->in) - 1) {
		c->too_long = true;
	}
}

/* client_write - send more of the answer; close when it is all out */
static void client_write(struct client *c)
{
	ssize_t w = write(c->fd, c->out.data + c->outpos, c->out.len - c->outpos);

	if (w < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (w > 0)
		c->outpos += (size_t)w;
	if (w <= 0 || c->outpos == c->out.len)
		client_close(c);
}

/* client_expired - past its deadline: a last word (best effort), then gone */
static void client_expired(struct client *c)
{
	static const char msg[] = CTL_ERR " no complete command line within the "
	                                  "deadline; dropped\n";

	if (c->grant == GRANT_WAITING) {
		grant_try(c, c->deadline); /* a last try, then ERR */
		return;
	}
	if (!c->writing && c->grant == GRANT_NONE && write(c->fd, msg, sizeof(msg) - 1) < 0) {
		/* it may be gone already */
	}
	client_close(c);
}

/* client_accept - a new client in a free slot, or told that we are busy */
static void client_accept(void)
{
	static const char busy[] = CTL_ERR " busy: too many control clients\n";
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0)
			continue;
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->may_change = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
		                (cred.uid == 0 || cred.uid == geteuid());
		c->deadline = now_ms() + CONTROL_LINE_MS;
		return;
	}
	if (write(fd, busy, sizeof(busy) - 1) < 0) {
		/* best effort */
	}
	close(fd);
}

/* control_main - the server thread: every client polled, each with a deadline */
static void *control_main(void *arg)
{
	struct pollfd pfd[2 + CONTROL_CLIENTS_MAX];
	struct client *who[CONTROL_CLIENTS_MAX];

	(void)arg;
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
		clients[i].fd = -1;
	for (;;) {
		int64_t now = now_ms(), next = -1;
		nfds_t n = 2;
		int timeout;

		pfd[0] = (struct pollfd){.fd = control_fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = stop_pipe[0], .events = POLLIN};
		for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
			struct client *c = &clients[i];
			if (c->fd < 0)
				continue;
			if (now >= c->deadline) {
				client_expired(c);
				continue;
			}
			if (c->grant == GRANT_WAITING) {
				int64_t w = grant_try(c, now);
				if (c->fd < 0)
					continue;
				if (w > 0 && (next < 0 || now + (w + 999) / 1000 < next))
					next = now + (w + 999) / 1000;
			}
			if (next < 0 || c->deadline < next)
				next = c->deadline;
			who[n - 2] = c;
			pfd[n++] =
			    (struct pollfd){.fd = c->fd, .events = c->writing ? POLLOUT : POLLIN};
		}
		timeout = next < 0 ? -1 : (int)(next - now);
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			mlog(SV_LOG_ERR, "control: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		for (nfds_t i = 2; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (who[i - 2]->writing)
				client_write(who[i - 2]);
			else
				client_read(who[i - 2]);
		}
		if (pfd[0].revents & POLLIN)
			client_accept();
	}
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
		client_close(&clients[i]);
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
	/* the worker runs as UserID by now: that user may change the cache */
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		snprintf(control_user, sizeof(control_user), "%s", pw.pw_name);
	else
		snprintf(control_user, sizeof(control_user), "uid %ld", (long)geteuid());
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

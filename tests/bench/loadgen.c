/*
 * NAME
 *	loadgen - milter-protocol load generator (benchmark tool)
 * SYNOPSIS
 *	loadgen -s SOCKET [-c CONNS] [-m MSGS] [-d MIX] [-t SECS] [-r RCPTS]
 *		[-a CLIENTADDR] [-D DAEMON] [-u] [-n NAME] [-S SEED] [-T SECS] [-v]
 * DESCRIPTION
 *	Plays the MTA side of the milter protocol (version 6) against a
 *	filter, as Postfix's smtpd would: option negotiation, then per
 *	connection CONNECT and HELO, and per message MAIL, RCPT, DATA, the
 *	headers, EOH, a body chunk and end of message, each preceded by the
 *	macros Postfix sends at that stage.  Steps the filter negotiates away
 *	(SMFIP_NO*) are not sent, replies it negotiates away (SMFIP_NR_*) are
 *	not waited for, and a macro list it sets (SMFIR_SETSYMLIST) limits
 *	the macros sent.  A message ends at the first reply that is not
 *	"continue" (the MTA would stop talking to the filter about it).
 *
 *	-s	unix:PATH, local:PATH, inet:PORT@HOST, inet6:PORT@HOST; HOST
 *		must be a loopback address: this tool never loads a remote host.
 *	-c	concurrent connections, one thread each (default 1, max 1024).
 *	-m	messages per connection (default 100).
 *	-d	sender-domain mix "DOMAIN:WEIGHT,...", where the domain "rand"
 *		stands for a fresh random domain (rNNNN.loadgen.test) on every
 *		message, and "seq" for s0.loadgen.test, s1.loadgen.test, ...
 *		numbered across all connections (a driver can make exactly
 *		those known to the SES emulator); default "verified.test:1".
 *	-t	stop starting messages after SECS seconds (default 300).
 *	-r	recipients per message (default 1).
 *	-a	client address sent in CONNECT and {client_addr} (127.0.0.1).
 *	-D	{daemon_name} (default ORIGINATING, Postfix's submission name).
 *	-u	unauthenticated: no {auth_type}/{auth_authen} at MAIL.
 *	-n	name printed in the report (e.g. "null", "sesverify").
 *	-S	random seed (default: time and pid).
 *	-T	per-reply timeout in seconds (default 30, Postfix's
 *		milter_command_timeout).
 *	-v	print the negotiated options and per-class latencies.
 *
 *	SIGTERM or SIGINT ends the run early: no new message is started,
 *	messages in flight are finished, and the report covers what was done
 *	(a driver measures "during some other load" this way).
 *
 *	The clock starts when every connection has negotiated and said
 *	CONNECT/HELO, and stops when the last message is answered; connection
 *	set-up is reported separately.  Latency is measured per message (its
 *	first command to its final reply) and per MAIL FROM (MAIL to its
 *	reply).  Every final reply is counted per domain class and code
 *	("accept", "550 5.7.1", "451 4.7.1", "tempfail", ...), so a benchmark
 *	run also shows a wrong decision.
 * OUTPUT
 *	Human-readable lines, then one machine-readable line
 *	"RESULT name=... msgs=N secs=S rate=R msg_p50=... errors=E" (µs).
 *	Per class and code: "OUTCOME CLASS CODE COUNT".
 * DIAGNOSTICS
 *	Exit 0 when every message got a final reply, 1 on any protocol,
 *	connection or timeout error (the first one per connection is
 *	printed), 2 on a usage error.
 *
 *	This file owns only this tool.  It does not link libmilter or
 *	libsesverify; the wire format follows <libmilter/mfdef.h>.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#define LG_MAX_CONNS    1024
#define LG_MAX_TOTAL    10000000UL /* messages in one run: bounds the latency arrays */
#define LG_MAX_CLASSES  32
#define LG_MAX_OUTCOMES 16 /* distinct codes per class */
#define LG_MAX_RCPTS    100
#define LG_MAX_PACKET   (1024 * 1024)
#define LG_KEY          24

/* Macro stages, in SMFIR_SETSYMLIST's numbering (SMFIM_*). */
enum { ST_CONNECT = 0, ST_HELO, ST_ENVFROM, ST_ENVRCPT, ST_DATA, ST_EOM, ST_EOH, ST_N };

typedef struct lg_class {
	char name[256];
	unsigned weight;
	bool random; /* "rand": a fresh random domain each time */
	bool seq;    /* "seq": s0.loadgen.test, s1..., numbered across connections */
} lg_class;

typedef struct lg_outcome {
	int cls;
	char key[LG_KEY];
	uint64_t count;
} lg_outcome;

typedef struct lg_conn {
	int fd;
	unsigned char *in;
	size_t in_len, in_off;
	unsigned char *out;
	size_t out_len, out_cap;
	uint32_t version, actions, proto;
	char *symlist[ST_N]; /* NULL: send Postfix's default macros */
} lg_conn;

typedef struct lg_thread {
	pthread_t tid;
	int idx;
	uint64_t rng;
	uint32_t *lat_msg; /* ns, saturated */
	uint32_t *lat_mail;
	unsigned char *cls;
	size_t n;
	lg_outcome out[LG_MAX_CLASSES * LG_MAX_OUTCOMES];
	size_t nout;
	uint64_t replies[256];
	uint64_t decided[4]; /* MAIL, RCPT, content, EOM */
	uint64_t errors;
	uint64_t rand_seq;
	bool failed;
	char err[256];
	uint32_t version, actions, proto;
} lg_thread;

/* Run parameters, set once by main before any thread starts. */
static struct {
	const char *socket;
	int conns;
	unsigned long msgs;
	double duration;
	int rcpts;
	const char *client_addr;
	const char *daemon_name;
	bool unauth;
	const char *name;
	uint64_t seed;
	int timeout_ms;
	bool verbose;
	lg_class classes[LG_MAX_CLASSES];
	int nclasses;
	unsigned total_weight;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct timespec deadline;
} opt;

static pthread_barrier_t start_barrier;
static atomic_ulong seq_next;                /* the next "seq" domain number */
static volatile sig_atomic_t stop_requested; /* SIGTERM/SIGINT: finish and report */

static const char *decided_name[4] = {"MAIL", "RCPT", "content", "EOM"};

/* now_ns - monotonic clock in nanoseconds */
static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* rng_next - xorshift64*: cheap, per thread, good enough for a domain mix */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* fail - record the first error of a connection and mark it failed */
static void fail(lg_thread *t, const char *fmt, ...)
{
	va_list ap;

	t->errors++;
	t->failed = true;
	if (t->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
}

/* usage - print the synopsis and exit 2 */
static void usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "loadgen: %s\n", why);
	fprintf(stderr,
	        "usage: loadgen -s SOCKET [-c CONNS] [-m MSGS] [-d DOMAIN:W,...] [-t SECS]\n"
	        "\t[-r RCPTS] [-a CLIENTADDR] [-D DAEMON] [-u] [-n NAME] [-S SEED] [-T SECS] "
	        "[-v]\n");
	exit(2);
}

/* parse_ulong - strict decimal in [lo, hi] */
static unsigned long parse_ulong(const char *s, unsigned long lo, unsigned long hi,
                                 const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		goto bad;
	return v;
bad:
	fprintf(stderr, "loadgen: %s: \"%s\" is not a number in %lu..%lu\n", what, s, lo, hi);
	exit(2);
}

/* parse_mix - "DOMAIN:WEIGHT,..." into opt.classes */
static void parse_mix(const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *item;

	if (copy == NULL)
		usage("out of memory");
	opt.nclasses = 0;
	opt.total_weight = 0;
	for (item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(item, ':');
		lg_class *c;
		size_t i;

		if (opt.nclasses == LG_MAX_CLASSES)
			usage("-d: too many domains (at most 32)");
		c = &opt.classes[opt.nclasses];
		if (colon != NULL)
			*colon = '\0';
		if (*item == '\0' || strlen(item) >= sizeof(c->name))
			usage("-d: empty or overlong domain");
		for (i = 0; item[i] != '\0'; i++)
			if ((unsigned char)item[i] <= ' ' || item[i] == '<' || item[i] == '>' ||
			    item[i] == '@' || (unsigned char)item[i] >= 0x7f)
				usage("-d: a domain holds a space, control, '<', '>' or '@'");
		snprintf(c->name, sizeof(c->name), "%s", item);
		c->random = strcmp(item, "rand") == 0;
		c->seq = strcmp(item, "seq") == 0;
		c->weight =
		    colon != NULL ? (unsigned)parse_ulong(colon + 1, 0, 1000000, "-d weight") : 1;
		opt.total_weight += c->weight;
		opt.nclasses++;
	}
	free(copy);
	if (opt.nclasses == 0 || opt.total_weight == 0)
		usage("-d: no domain with a positive weight");
}

/* is_loopback - refuse anything but 127/8 and ::1 */
static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/* parse_socket - SOCKET spec into opt.addr; exits on a bad or remote one */
static void parse_socket(const char *spec)
{
	const char *path = NULL;

	memset(&opt.addr, 0, sizeof(opt.addr));
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strncmp(spec, "local:", 6) == 0)
		path = spec + 6;
	else if (spec[0] == '/')
		path = spec;
	if (path != NULL) {
		struct sockaddr_un *un = (struct sockaddr_un *)&opt.addr;

		if (*path == '\0' || strlen(path) >= sizeof(un->sun_path))
			usage("-s: empty or overlong unix socket path");
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		opt.addrlen = sizeof(*un);
		return;
	}
	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0) {
		bool v6 = spec[4] == '6';
		const char *p = spec + (v6 ? 6 : 5), *at = strchr(p, '@');
		char port[8], host[64];
		struct addrinfo hints, *res = NULL;

		if (at == NULL || at == p || (size_t)(at - p) >= sizeof(port) ||
		    strlen(at + 1) >= sizeof(host))
			usage("-s: inet sockets are inet:PORT@HOST");
		memcpy(port, p, (size_t)(at - p));
		port[at - p] = '\0';
		parse_ulong(port, 1, 65535, "-s port");
		snprintf(host, sizeof(host), "%s", at + 1);
		if (strcmp(host, "localhost") == 0)
			snprintf(host, sizeof(host), "%s", v6 ? "::1" : "127.0.0.1");
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = v6 ? AF_INET6 : AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
		if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
			usage("-s: HOST must be a numeric address or localhost");
		if (!is_loopback(res->ai_addr)) {
			freeaddrinfo(res);
			usage("-s: refusing a non-loopback address");
		}
		memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
		opt.addrlen = res->ai_addrlen;
		freeaddrinfo(res);
		return;
	}
	usage("-s: expected unix:PATH, local:PATH, inet:PORT@HOST or inet6:PORT@HOST");
}

/* put32 - append a big-endian 32-bit integer */
static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* get32 - read a big-endian 32-bit integer */
static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* out_reserve - make room for n more output bytes */
static int out_reserve(lg_conn *c, size_t n)
{
	unsigned char *p;
	size_t cap = c->out_cap;

	if (c->out_len + n <= c->out_cap)
		return 0;
	while (cap < c->out_len + n)
		cap = cap != 0 ? cap * 2 : 4096;
	p = realloc(c->out, cap);
	if (p == NULL)
		return -1;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/*
 * send_cmd - queue one command from NUL-separated parts
 *	Commands that get no reply are coalesced with the next one that
 *	does; flush() writes them all at once.
 */
static int send_cmd(lg_conn *c, char cmd, const void *data, size_t len)
{
	if (len + 1 > LG_MAX_PACKET || out_reserve(c, len + 5) < 0)
		return -1;
	put32(c->out + c->out_len, (uint32_t)(len + 1));
	c->out[c->out_len + 4] = (unsigned char)cmd;
	if (len > 0)
		memcpy(c->out + c->out_len + 5, data, len);
	c->out_len += len + 5;
	return 0;
}

/* flush - write every queued command */
static int flush(lg_conn *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	c->out_len = 0;
	return 0;
}

/*
 * read_reply - one packet from the filter
 *	Returns 0 and sets *cmd, *data (inside the connection's buffer, valid
 *	until the next call) and *len; -1 on EOF, error or a malformed
 *	length; -2 on timeout.
 */
static int read_reply(lg_conn *c, char *cmd, const unsigned char **data, size_t *len)
{
	for (;;) {
		size_t avail = c->in_len - c->in_off;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;
		int r;

		if (avail >= 5) {
			uint32_t plen = get32(c->in + c->in_off);

			if (plen == 0 || plen > LG_MAX_PACKET)
				return -1;
			if (avail >= (size_t)plen + 4) {
				*cmd = (char)c->in[c->in_off + 4];
				*data = c->in + c->in_off + 5;
				*len = plen - 1;
				c->in_off += (size_t)plen + 4;
				return 0;
			}
		}
		if (c->in_off > 0) {
			memmove(c->in, c->in + c->in_off, avail);
			c->in_len = avail;
			c->in_off = 0;
		}
		r = poll(&pfd, 1, opt.timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -2;
		if (r < 0)
			return -1;
		n = recv(c->fd, c->in + c->in_len, LG_MAX_PACKET + 5 - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->in_len += (size_t)n;
	}
}

/* reply_outcome - the count key of a final reply ("accept", "550 5.7.1", ...) */
static void reply_outcome(char cmd, const unsigned char *data, size_t len, char key[LG_KEY])
{
	size_t i, n;

	switch (cmd) {
	case SMFIR_ACCEPT:
		snprintf(key, LG_KEY, "accept");
		return;
	case SMFIR_CONTINUE:
		snprintf(key, LG_KEY, "continue");
		return;
	case SMFIR_REJECT:
		snprintf(key, LG_KEY, "reject");
		return;
	case SMFIR_TEMPFAIL:
		snprintf(key, LG_KEY, "tempfail");
		return;
	case SMFIR_DISCARD:
		snprintf(key, LG_KEY, "discard");
		return;
	case SMFIR_SHUTDOWN:
		snprintf(key, LG_KEY, "421 shutdown");
		return;
	case SMFIR_CONN_FAIL:
		snprintf(key, LG_KEY, "connfail");
		return;
	case SMFIR_REPLYCODE:
		/* "550 5.7.1 text": keep the code and the enhanced code only */
		for (n = 0, i = 0; i < len && data[i] != '\0' && n < 2; i++)
			if (data[i] == ' ')
				n++;
		n = i > 0 && n == 2 ? i - 1 : i;
		if (n >= LG_KEY)
			n = LG_KEY - 1;
		for (i = 0; i < n; i++)
			key[i] = (data[i] >= ' ' && data[i] < 0x7f) ? (char)data[i] : '?';
		key[n] = '\0';
		return;
	default:
		snprintf(key, LG_KEY, "cmd-%02x", (unsigned char)cmd);
	}
}

/* is_modification - replies an MTA accepts (and ignores here) before the final one */
static bool is_modification(char cmd)
{
	return strchr("+-2bmehiq", cmd) != NULL;
}

/*
 * await - wait for the filter's answer to one step
 *	Returns 1 for "continue", 0 for a final decision (key filled), -1 on
 *	error (recorded).  eom: the end of message, where modification
 *	requests may come first and "continue" is final too.
 */
static int await(lg_thread *t, lg_conn *c, bool eom, char key[LG_KEY])
{
	char cmd;
	const unsigned char *data;
	size_t len;
	int r;

	if (flush(c) < 0) {
		fail(t, "write: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		r = read_reply(c, &cmd, &data, &len);
		if (r == -2) {
			fail(t, "no reply within %d ms", opt.timeout_ms);
			return -1;
		}
		if (r < 0) {
			fail(t, "connection closed or malformed packet");
			return -1;
		}
		t->replies[(unsigned char)cmd]++;
		if (cmd == SMFIR_PROGRESS)
			continue;
		if (eom && is_modification(cmd))
			continue;
		/* skip (only after a body chunk) means: no more body, go on */
		if ((cmd == SMFIR_CONTINUE || cmd == SMFIR_SKIP) && !eom)
			return 1;
		if (strchr("acrtdy4f", cmd) == NULL) {
			fail(t, "unexpected reply '%c' (0x%02x)",
			     cmd >= ' ' && cmd < 0x7f ? cmd : '?', (unsigned char)cmd);
			return -1;
		}
		reply_outcome(cmd, data, len, key);
		return 0;
	}
}

/* step - send a command and, unless its reply was negotiated away, await it */
static int step(lg_thread *t, lg_conn *c, char cmd, const void *data, size_t len, uint32_t nr_flag,
                char key[LG_KEY])
{
	if (send_cmd(c, cmd, data, len) < 0) {
		fail(t, "out of memory");
		return -1;
	}
	if (nr_flag != 0 && (c->proto & nr_flag) != 0)
		return 1;
	return await(t, c, false, key);
}

/* sym_wanted - does the filter's macro list for a stage name this macro? */
static bool sym_wanted(const lg_conn *c, int stage, const char *name)
{
	const char *list = c->symlist[stage], *p;
	size_t n = strlen(name);

	if (list == NULL)
		return true;
	for (p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* send_macros - queue one MACRO packet with NULL-terminated name/value pairs */
static int send_macros(lg_conn *c, int stage, char stage_cmd, const char *const *nv)
{
	char buf[2048];
	size_t len = 0;
	int i;

	buf[len++] = stage_cmd;
	for (i = 0; nv[i] != NULL; i += 2) {
		size_t a = strlen(nv[i]) + 1, b = strlen(nv[i + 1]) + 1;

		if (!sym_wanted(c, stage, nv[i]))
			continue;
		if (len + a + b > sizeof(buf))
			return -1;
		memcpy(buf + len, nv[i], a);
		memcpy(buf + len + a, nv[i + 1], b);
		len += a + b;
	}
	if (len == 1)
		return 0; /* Postfix sends no empty macro packet */
	return send_cmd(c, SMFIC_MACRO, buf, len);
}

/* join0 - NUL-separated concatenation of strings into buf; returns the length */
static size_t join0(char *buf, size_t size, int n, ...)
{
	va_list ap;
	size_t len = 0;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		size_t l = strlen(s) + 1;

		if (len + l > size) {
			len = 0;
			break;
		}
		memcpy(buf + len, s, l);
		len += l;
	}
	va_end(ap);
	return len;
}

/* conn_open - connect to the filter */
static int conn_open(lg_thread *t, lg_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->in = malloc(LG_MAX_PACKET + 5);
	if (c->in == NULL) {
		fail(t, "out of memory");
		return -1;
	}
	c->fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(t, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&opt.addr, opt.addrlen) < 0) {
		fail(t, "connect %s: %s", opt.socket, strerror(errno));
		return -1;
	}
	return 0;
}

/* conn_close - release a connection */
static void conn_close(lg_conn *c)
{
	int i;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	free(c->out);
	for (i = 0; i < ST_N; i++)
		free(c->symlist[i]);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* negotiate - SMFIC_OPTNEG as Postfix offers it (v6, all actions, all steps) */
static int negotiate(lg_thread *t, lg_conn *c)
{
	unsigned char buf[12];
	const unsigned char *data;
	size_t len, off;
	char cmd;

	put32(buf, SMFI_PROT_VERSION);
	put32(buf + 4, SMFI_CURR_ACTS);
	put32(buf + 8, SMFI_CURR_PROT);
	if (send_cmd(c, SMFIC_OPTNEG, buf, sizeof(buf)) < 0 || flush(c) < 0) {
		fail(t, "write OPTNEG: %s", strerror(errno));
		return -1;
	}
	if (read_reply(c, &cmd, &data, &len) != 0 || cmd != SMFIC_OPTNEG || len < 12) {
		fail(t, "bad or no OPTNEG reply");
		return -1;
	}
	c->version = get32(data);
	c->actions = get32(data + 4);
	c->proto = get32(data + 8);
	if (c->version < 2 || c->version > SMFI_PROT_VERSION) {
		fail(t, "filter speaks protocol version %" PRIu32, c->version);
		return -1;
	}
	if ((c->proto & ~(uint32_t)SMFI_CURR_PROT) != 0) {
		fail(t, "filter asks for protocol bits 0x%" PRIx32 " never offered", c->proto);
		return -1;
	}
	/* Optional macro lists: (uint32 stage, "name name ...\0")* */
	for (off = 12; off + 5 <= len;) {
		uint32_t stage = get32(data + off);
		const unsigned char *s = data + off + 4;
		const unsigned char *nul = memchr(s, '\0', len - off - 4);

		if (nul == NULL || stage >= ST_N) {
			fail(t, "malformed macro list in OPTNEG reply");
			return -1;
		}
		free(c->symlist[stage]);
		c->symlist[stage] = strdup((const char *)s);
		off = (size_t)(nul - data) + 1;
	}
	t->version = c->version;
	t->actions = c->actions;
	t->proto = c->proto;
	return 0;
}

/* session_open - negotiate, then CONNECT and HELO as Postfix sends them */
static int session_open(lg_thread *t, lg_conn *c)
{
	char buf[512], port[2], client[80];
	const char *conn_macros[] = {"j",
	                             "mx.loadgen.test",
	                             "{daemon_name}",
	                             opt.daemon_name,
	                             "{daemon_addr}",
	                             "127.0.0.1",
	                             "v",
	                             "Postfix 3.7.11",
	                             "_",
	                             client,
	                             "{client_addr}",
	                             opt.client_addr,
	                             "{client_name}",
	                             "localhost",
	                             NULL};
	char key[LG_KEY];
	bool v6 = strchr(opt.client_addr, ':') != NULL;
	size_t len;
	int r;

	if (negotiate(t, c) < 0)
		return -1;
	snprintf(client, sizeof(client), "localhost [%s]", opt.client_addr);
	if ((c->proto & SMFIP_NOCONNECT) == 0) {
		uint16_t p = (uint16_t)(20000 + t->idx);

		port[0] = (char)(p >> 8);
		port[1] = (char)p;
		len = join0(buf, sizeof(buf), 1, "localhost");
		buf[len++] = v6 ? SMFIA_INET6 : SMFIA_INET;
		memcpy(buf + len, port, 2);
		len += 2;
		len += join0(buf + len, sizeof(buf) - len, 1, opt.client_addr);
		if (send_macros(c, ST_CONNECT, SMFIC_CONNECT, conn_macros) < 0)
			goto nomem;
		r = step(t, c, SMFIC_CONNECT, buf, len, SMFIP_NR_CONN, key);
		if (r <= 0) {
			if (r == 0)
				fail(t, "filter refused the connection: %s", key);
			return -1;
		}
	}
	if ((c->proto & SMFIP_NOHELO) == 0) {
		len = join0(buf, sizeof(buf), 1, "client.loadgen.test");
		r = step(t, c, SMFIC_HELO, buf, len, SMFIP_NR_HELO, key);
		if (r <= 0) {
			if (r == 0)
				fail(t, "filter refused HELO: %s", key);
			return -1;
		}
	}
	return 0;
nomem:
	fail(t, "out of memory");
	return -1;
}

/* pick_domain - the next sender domain and its class index */
static int pick_domain(lg_thread *t, char *domain, size_t size)
{
	unsigned w = (unsigned)(rng_next(&t->rng) % opt.total_weight);
	int i;

	for (i = 0; i < opt.nclasses - 1; i++) {
		if (w < opt.classes[i].weight)
			break;
		w -= opt.classes[i].weight;
	}
	while (opt.classes[i].weight == 0)
		i--; /* only reached when the last weights are 0 */
	if (opt.classes[i].random)
		snprintf(domain, size, "r%016" PRIx64 "-%d-%" PRIu64 ".loadgen.test",
		         rng_next(&t->rng), t->idx, t->rand_seq++);
	else if (opt.classes[i].seq)
		snprintf(domain, size, "s%lu.loadgen.test", atomic_fetch_add(&seq_next, 1));
	else
		snprintf(domain, size, "%s", opt.classes[i].name);
	return i;
}

/* count_outcome - one more final reply of this class and key */
static void count_outcome(lg_thread *t, int cls, const char *key)
{
	size_t i;

	for (i = 0; i < t->nout; i++) {
		if (t->out[i].cls == cls && strcmp(t->out[i].key, key) == 0) {
			t->out[i].count++;
			return;
		}
	}
	if (t->nout == sizeof(t->out) / sizeof(t->out[0]))
		return;
	t->out[t->nout].cls = cls;
	snprintf(t->out[t->nout].key, LG_KEY, "%s", key);
	t->out[t->nout].count = 1;
	t->nout++;
}

/* sat32 - nanoseconds saturated into 32 bits (4.29 s) */
static uint32_t sat32(int64_t ns)
{
	return ns < 0 ? 0 : ns > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/*
 * one_message - MAIL .. end of message; records latency and outcome
 *	Returns 0, or -1 when the connection is unusable.
 */
static int one_message(lg_thread *t, lg_conn *c)
{
	char domain[300], sender[320], mail_addr[310], buf[1024], rcpt[64], key[LG_KEY] = "";
	char from_hdr[330], msgid[128];
	int cls = pick_domain(t, domain, sizeof(domain)), r = 1, i, stage = 0, accepted = 0;
	int64_t t0 = now_ns(), mail_ns = 0;
	size_t len;
	bool lead = (c->proto & SMFIP_HDR_LEADSPC) != 0;
	const char *mail_auth[] = {
	    "{auth_type}", "PLAIN", "{auth_authen}", "loadgen", "{mail_addr}", mail_addr, NULL};
	const char *mail_noauth[] = {"{mail_addr}", mail_addr, NULL};
	const char *rcpt_macros[] = {"{rcpt_addr}",   rcpt,   "{rcpt_host}", "sink.loadgen.test",
	                             "{rcpt_mailer}", "smtp", NULL};
	const char *qid_macros[] = {"i", msgid, NULL};
	const char *hdrs[][2] = {{"Received", "from client.loadgen.test (localhost [127.0.0.1])"},
	                         {"From", from_hdr},
	                         {"To", "<rcpt0@sink.loadgen.test>"},
	                         {"Subject", "loadgen"},
	                         {"Date", "Fri, 27 Nov 2026 01:00:00 +0000"},
	                         {"Message-ID", msgid}};

	snprintf(mail_addr, sizeof(mail_addr), "user@%s", domain);
	snprintf(sender, sizeof(sender), "<%s>", mail_addr);
	snprintf(from_hdr, sizeof(from_hdr), "Load Gen <%s>", mail_addr);
	snprintf(msgid, sizeof(msgid), "%X%" PRIX64, (unsigned)t->idx, t->rand_seq + t->n);

	if ((c->proto & SMFIP_NOMAIL) == 0) {
		if (send_macros(c, ST_ENVFROM, SMFIC_MAIL, opt.unauth ? mail_noauth : mail_auth) <
		    0)
			goto nomem;
		len = join0(buf, sizeof(buf), 1, sender);
		mail_ns = now_ns();
		r = step(t, c, SMFIC_MAIL, buf, len, SMFIP_NR_MAIL, key);
		mail_ns = now_ns() - mail_ns;
		if (r < 0)
			return -1;
	}
	for (i = 0; r == 1 && i < opt.rcpts && (c->proto & SMFIP_NORCPT) == 0; i++) {
		stage = 1;
		snprintf(rcpt, sizeof(rcpt), "rcpt%d@sink.loadgen.test", i);
		if (send_macros(c, ST_ENVRCPT, SMFIC_RCPT, rcpt_macros) < 0)
			goto nomem;
		snprintf(buf, sizeof(buf), "<%s>", rcpt);
		r = step(t, c, SMFIC_RCPT, buf, strlen(buf) + 1, SMFIP_NR_RCPT, key);
		if (r < 0)
			return -1;
		if (r == 0 && strcmp(key, "accept") != 0 && i + 1 < opt.rcpts) {
			r = 1; /* one recipient refused; the others go on */
			continue;
		}
		if (r == 1)
			accepted++;
	}
	if (r == 0 && stage == 1 && accepted == 0 && strcmp(key, "accept") != 0) {
		/* every recipient refused: the client gives up, the MTA aborts */
		if (send_cmd(c, SMFIC_ABORT, NULL, 0) < 0)
			goto nomem;
	}
	if (r == 1 && (c->proto & SMFIP_NODATA) == 0) {
		stage = 2;
		if (send_macros(c, ST_DATA, SMFIC_DATA, qid_macros) < 0)
			goto nomem;
		r = step(t, c, SMFIC_DATA, NULL, 0, SMFIP_NR_DATA, key);
	}
	for (i = 0; r == 1 && i < 6 && (c->proto & SMFIP_NOHDRS) == 0; i++) {
		stage = 2;
		len = join0(buf, sizeof(buf), 1, hdrs[i][0]);
		if (lead)
			buf[len++] = ' ';
		len += join0(buf + len, sizeof(buf) - len, 1, hdrs[i][1]);
		r = step(t, c, SMFIC_HEADER, buf, len, SMFIP_NR_HDR, key);
	}
	if (r == 1 && (c->proto & SMFIP_NOEOH) == 0) {
		stage = 2;
		if (send_macros(c, ST_EOH, SMFIC_EOH, qid_macros) < 0)
			goto nomem;
		r = step(t, c, SMFIC_EOH, NULL, 0, SMFIP_NR_EOH, key);
	}
	if (r == 1 && (c->proto & SMFIP_NOBODY) == 0) {
		static const char body[] = "Hello from loadgen.\r\n";

		stage = 2;
		r = step(t, c, SMFIC_BODY, body, sizeof(body) - 1, SMFIP_NR_BODY, key);
	}
	if (r == 1) {
		stage = 3;
		if (send_macros(c, ST_EOM, SMFIC_BODYEOB, qid_macros) < 0 ||
		    send_cmd(c, SMFIC_BODYEOB, NULL, 0) < 0)
			goto nomem;
		r = await(t, c, true, key);
	}
	if (r < 0)
		return -1;
	if (strcmp(key, "continue") == 0)
		snprintf(key, sizeof(key), "accept");
	count_outcome(t, cls, key);
	t->decided[stage]++;
	t->lat_msg[t->n] = sat32(now_ns() - t0);
	t->lat_mail[t->n] = sat32(mail_ns);
	t->cls[t->n] = (unsigned char)cls;
	t->n++;
	return 0;
nomem:
	fail(t, "out of memory");
	return -1;
}

/* on_stop - SIGTERM/SIGINT: start no new message, then report as usual */
static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* past_deadline - has the -t cap passed, or a stop been asked for? */
static bool past_deadline(void)
{
	struct timespec ts;

	if (stop_requested)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec > opt.deadline.tv_sec ||
	       (ts.tv_sec == opt.deadline.tv_sec && ts.tv_nsec >= opt.deadline.tv_nsec);
}

/* worker - one connection: set up, wait for the others, send its messages, quit */
static void *worker(void *arg)
{
	lg_thread *t = arg;
	lg_conn c;
	unsigned long m;
	bool ok;

	c.fd = -1;
	ok = conn_open(t, &c) == 0 && session_open(t, &c) == 0;
	pthread_barrier_wait(&start_barrier);
	for (m = 0; ok && m < opt.msgs && !past_deadline(); m++)
		ok = one_message(t, &c) == 0;
	if (ok && (send_cmd(&c, SMFIC_QUIT, NULL, 0) < 0 || flush(&c) < 0))
		fail(t, "write QUIT: %s", strerror(errno));
	conn_close(&c);
	return NULL;
}

/* cmp_u32 - qsort order */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* pct - nearest-rank percentile of a sorted array, in µs */
static double pct(const uint32_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1] / 1000.0;
}

/* report - merge the threads' figures and print them; returns the error count */
static uint64_t report(lg_thread *th, double secs, double setup_secs)
{
	size_t total = 0, i, j, k, n;
	uint32_t *msg, *mail, *tmp;
	uint64_t replies[256] = {0}, decided[4] = {0}, errors = 0, nmail = 0;
	lg_outcome all[LG_MAX_CLASSES * LG_MAX_OUTCOMES];
	size_t nall = 0;
	const lg_thread *neg = NULL;

	for (i = 0; i < (size_t)opt.conns; i++)
		total += th[i].n;
	msg = malloc((total + 1) * sizeof(*msg));
	mail = malloc((total + 1) * sizeof(*mail));
	tmp = malloc((total + 1) * sizeof(*tmp));
	if (msg == NULL || mail == NULL || tmp == NULL) {
		fprintf(stderr, "loadgen: out of memory for the report\n");
		exit(1);
	}
	for (k = 0, i = 0; i < (size_t)opt.conns; i++) {
		lg_thread *t = &th[i];

		if (neg == NULL && t->version != 0)
			neg = t;
		for (j = 0; j < t->n; j++, k++) {
			msg[k] = t->lat_msg[j];
			mail[k] = t->lat_mail[j];
		}
		for (j = 0; j < 256; j++)
			replies[j] += t->replies[j];
		for (j = 0; j < 4; j++)
			decided[j] += t->decided[j];
		errors += t->errors;
		for (j = 0; j < t->nout; j++) {
			size_t a;

			for (a = 0; a < nall; a++)
				if (all[a].cls == t->out[j].cls &&
				    strcmp(all[a].key, t->out[j].key) == 0)
					break;
			if (a == nall) {
				all[nall] = t->out[j];
				nall++;
			} else {
				all[a].count += t->out[j].count;
			}
		}
		if (t->err[0] != '\0')
			printf("error: connection %d: %s\n", t->idx, t->err);
	}
	/* MAIL latency only where MAIL was sent and answered */
	for (n = 0, i = 0; i < total; i++)
		if (mail[i] != 0)
			mail[n++] = mail[i];
	nmail = n;
	qsort(msg, total, sizeof(*msg), cmp_u32);
	qsort(mail, nmail, sizeof(*mail), cmp_u32);

	printf("loadgen %s: socket %s, %d connections x %lu messages, mix", opt.name, opt.socket,
	       opt.conns, opt.msgs);
	for (i = 0; i < (size_t)opt.nclasses; i++)
		printf("%s%s:%u", i ? "," : " ", opt.classes[i].name, opt.classes[i].weight);
	printf("\n");
	if (neg != NULL)
		printf("negotiated: version %" PRIu32 ", actions 0x%" PRIx32 ", protocol 0x%" PRIx32
		       "\n",
		       neg->version, neg->actions, neg->proto);
	printf("set-up: %.3f s; messages: %zu in %.3f s = %.1f msg/s\n", setup_secs, total, secs,
	       secs > 0 ? (double)total / secs : 0.0);
	printf("latency per message (us): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
	       pct(msg, total, 50), pct(msg, total, 90), pct(msg, total, 99), pct(msg, total, 100));
	printf("latency per MAIL FROM (us): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
	       pct(mail, nmail, 50), pct(mail, nmail, 90), pct(mail, nmail, 99),
	       pct(mail, nmail, 100));
	printf("decided at:");
	for (i = 0; i < 4; i++)
		printf(" %s %" PRIu64, decided_name[i], decided[i]);
	printf("\nreplies:");
	for (i = 0; i < 256; i++)
		if (replies[i] != 0)
			printf(" '%c' %" PRIu64, (char)i, replies[i]);
	printf("\n");
	for (i = 0; i < nall; i++)
		printf("OUTCOME %s %s %" PRIu64 "\n", opt.classes[all[i].cls].name, all[i].key,
		       all[i].count);
	if (opt.verbose) {
		for (j = 0; j < (size_t)opt.nclasses; j++) {
			for (n = 0, i = 0; i < (size_t)opt.conns; i++)
				for (k = 0; k < th[i].n; k++)
					if (th[i].cls[k] == j)
						tmp[n++] = th[i].lat_msg[k];
			qsort(tmp, n, sizeof(*tmp), cmp_u32);
			printf("class %s: %zu messages, p50 %.1f p99 %.1f max %.1f us\n",
			       opt.classes[j].name, n, pct(tmp, n, 50), pct(tmp, n, 99),
			       pct(tmp, n, 100));
		}
	}
	printf("RESULT name=%s conns=%d msgs=%zu secs=%.4f rate=%.1f msg_p50=%.1f msg_p90=%.1f "
	       "msg_p99=%.1f msg_max=%.1f mail_p50=%.1f mail_p90=%.1f mail_p99=%.1f "
	       "mail_max=%.1f errors=%" PRIu64 "\n",
	       opt.name, opt.conns, total, secs, secs > 0 ? (double)total / secs : 0.0,
	       pct(msg, total, 50), pct(msg, total, 90), pct(msg, total, 99), pct(msg, total, 100),
	       pct(mail, nmail, 50), pct(mail, nmail, 90), pct(mail, nmail, 99),
	       pct(mail, nmail, 100), errors);
	free(msg);
	free(mail);
	free(tmp);
	return errors;
}

/* parse_args - command line into opt */
static void parse_args(int argc, char **argv)
{
	int ch;

	opt.conns = 1;
	opt.msgs = 100;
	opt.duration = 300;
	opt.rcpts = 1;
	opt.client_addr = "127.0.0.1";
	opt.daemon_name = "ORIGINATING";
	opt.name = "run";
	opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	opt.timeout_ms = 30000;
	parse_mix("verified.test:1");
	while ((ch = getopt(argc, argv, "s:c:m:d:t:r:a:D:un:S:T:v")) != -1) {
		switch (ch) {
		case 's':
			opt.socket = optarg;
			break;
		case 'c':
			opt.conns = (int)parse_ulong(optarg, 1, LG_MAX_CONNS, "-c");
			break;
		case 'm':
			opt.msgs = parse_ulong(optarg, 1, LG_MAX_TOTAL, "-m");
			break;
		case 'd':
			parse_mix(optarg);
			break;
		case 't':
			opt.duration = (double)parse_ulong(optarg, 1, 3600, "-t");
			break;
		case 'r':
			opt.rcpts = (int)parse_ulong(optarg, 1, LG_MAX_RCPTS, "-r");
			break;
		case 'a': {
			unsigned char tmp[16];

			if (inet_pton(AF_INET, optarg, tmp) != 1 &&
			    inet_pton(AF_INET6, optarg, tmp) != 1)
				usage("-a: not an IP address");
			opt.client_addr = optarg;
			break;
		}
		case 'D':
			if (strlen(optarg) > 200)
				usage("-D: too long");
			opt.daemon_name = optarg;
			break;
		case 'u':
			opt.unauth = true;
			break;
		case 'n':
			if (strlen(optarg) > 64 || strchr(optarg, ' ') != NULL)
				usage("-n: at most 64 characters, no space");
			opt.name = optarg;
			break;
		case 'S':
			opt.seed = parse_ulong(optarg, 0, ULONG_MAX, "-S");
			break;
		case 'T':
			opt.timeout_ms = (int)parse_ulong(optarg, 1, 600, "-T") * 1000;
			break;
		case 'v':
			opt.verbose = true;
			break;
		default:
			usage(NULL);
		}
	}
	if (opt.socket == NULL || optind != argc)
		usage(NULL);
	if ((unsigned long)opt.conns * opt.msgs > LG_MAX_TOTAL)
		usage("-c x -m exceeds 10,000,000 messages");
	parse_socket(opt.socket);
}

int main(int argc, char **argv)
{
	lg_thread *th;
	int i, started = 0;
	int64_t t_setup, t0, t1;
	uint64_t errors;
	struct sigaction sa;

	parse_args(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	th = calloc((size_t)opt.conns, sizeof(*th));
	if (th == NULL)
		return 1;
	for (i = 0; i < opt.conns; i++) {
		th[i].idx = i;
		th[i].rng =
		    opt.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i * 0xBF58476D1CE4E5B9ULL + 1;
		th[i].lat_msg = malloc(opt.msgs * sizeof(uint32_t));
		th[i].lat_mail = malloc(opt.msgs * sizeof(uint32_t));
		th[i].cls = malloc(opt.msgs);
		if (th[i].lat_msg == NULL || th[i].lat_mail == NULL || th[i].cls == NULL) {
			fprintf(stderr, "loadgen: out of memory\n");
			return 1;
		}
	}
	if (pthread_barrier_init(&start_barrier, NULL, (unsigned)opt.conns + 1) != 0)
		return 1;
	t_setup = now_ns();
	clock_gettime(CLOCK_MONOTONIC, &opt.deadline);
	opt.deadline.tv_sec += (time_t)opt.duration;
	for (i = 0; i < opt.conns; i++) {
		if (pthread_create(&th[i].tid, NULL, worker, &th[i]) != 0) {
			fprintf(stderr, "loadgen: cannot start thread %d: %s\n", i,
			        strerror(errno));
			/* the barrier counts every connection: stop before the others wait */
			return 1;
		}
		started++;
	}
	pthread_barrier_wait(&start_barrier);
	t0 = now_ns();
	for (i = 0; i < started; i++)
		pthread_join(th[i].tid, NULL);
	t1 = now_ns();
	errors = report(th, (double)(t1 - t0) / 1e9, (double)(t0 - t_setup) / 1e9);
	for (i = 0; i < opt.conns; i++) {
		free(th[i].lat_msg);
		free(th[i].lat_mail);
		free(th[i].cls);
	}
	free(th);
	pthread_barrier_destroy(&start_barrier);
	return errors == 0 ? 0 : 1;
}

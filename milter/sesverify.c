/*
 * NAME
 *	sesverify 1 - command-line client of libsesverify
 * SUMMARY
 *	sesverify [-c FILE] check [--json] [--no-dns] DOMAIN...
 *	sesverify [-c FILE] precheck [--json] [--expect TYPE,NAME,VALUE]... DOMAIN...
 *	sesverify [-c FILE] list [--json]
 *	sesverify [-c FILE] cache list | show DOMAIN | refresh DOMAIN | forget DOMAIN | stats [--json]
 *	sesverify -h | -V
 * DESCRIPTION
 *	Owns: argument parsing, the human and JSON renderings of API and
 *	pre-check results, the exit status contract of DESIGN.md (0 all
 *	verified / success, 1 unverified or not set up, 2 usage or
 *	configuration, 3 API, network or DNS error; the worst result wins,
 *	3 over 1 over 0), and the client side of the milter's control socket.
 *	Does not own: signing, HTTP, JSON parsing of API answers, DNS (all in
 *	libsesverify, used through its public header only) or the cache (the
 *	running milter answers "cache" commands).
 *
 *	Every domain argument is validated before any network call, so a typo
 *	costs no API budget.  The SecretKey and token are never printed: the
 *	library's error messages are built without them.
 * DIAGNOSTICS
 *	Errors go to stderr prefixed "sesverify: "; configuration errors are
 *	"FILE:LINE: message" as sv_config_load reports them.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "compat.h" /* header-only: SV_PRINTF, SV_ARRAY_LEN */
#include "sesverify.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/sesverify-milter.conf"

#define EXIT_OKAY    0
#define EXIT_FAILED  1 /* unverified / not set up / not found */
#define EXIT_USAGE   2
#define EXIT_TROUBLE 3 /* API, network, DNS */

#define SHOW_WIDTH    36         /* table cells: longer values are shortened */
#define CTL_MAX_REPLY (16 << 20) /* control-socket answer cap */
#define CTL_TIMEOUT_S 30

static const char *progname = "sesverify";

static const char usage_text[] =
    "usage: sesverify [-c FILE] COMMAND [--json] ...\n"
    "  check [--json] [--no-dns] DOMAIN...     ask SES now (UpdateEmailIdentity) and show DNS\n"
    "  precheck [--json] [--expect TYPE,NAME,VALUE]... DOMAIN...\n"
    "                                          DNS only: compare live records\n"
    "  list [--json]                           every sender domain of the account\n"
    "  cache list|stats [--json]               the running milter's cache\n"
    "  cache show|refresh|forget DOMAIN [--json]\n"
    "  stats [--json | --prometheus]           the running milter's counters (Prometheus text)\n"
    "options: -c FILE  configuration (default " DEFAULT_CONF ")\n"
    "         -h help, -V version\n"
    "exit: 0 verified/success, 1 unverified or not set up, 2 usage/config, 3 API/network/DNS "
    "error\n";

/* A normalised domain name. */
typedef char dname[SV_DOMAIN_MAX + 1];

/* A parsed command line after the command word. */
typedef struct opts {
	int json;
	int no_dns;
	int prometheus;
	char **args; /* positional arguments (not owned) */
	int nargs;
	sv_attr *expect; /* --expect (owned) */
	size_t nexpect;
} opts;

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

/* warnx - "sesverify: message" on stderr */
static void warnx(const char *fmt, ...) SV_PRINTF(1, 2);
static void warnx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* usage - print usage on stderr and return the usage exit status */
static int usage(const char *why)
{
	if (why)
		warnx("%s", why);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

/* worse - combine exit statuses: 3 beats 1 beats 0 */
static int worse(int a, int b)
{
	if (a == EXIT_TROUBLE || b == EXIT_TROUBLE)
		return EXIT_TROUBLE;
	return a > b ? a : b;
}

/* xstrdup - strdup or die (the CLI has nothing to save on ENOMEM) */
static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p) {
		warnx("out of memory");
		exit(EXIT_TROUBLE);
	}
	return p;
}

/* shorten - s, or its head and tail around "..." when wider than width */
static const char *shorten(const char *s, size_t width, char *buf, size_t len)
{
	size_t n = strlen(s), head, tail;

	if (n <= width || width < 12 || len <= width)
		return s;
	tail = width / 3;
	head = width - tail - 3;
	snprintf(buf, len, "%.*s...%s", (int)head, s, s + n - tail);
	return buf;
}

/* ------------------------------------------------------------------ */
/* JSON output                                                        */
/* ------------------------------------------------------------------ */

/* utf8_len - length of the valid UTF-8 sequence at s, or 0 */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* json_str - write s as a JSON string (NULL as null); bad UTF-8 becomes U+FFFD */
static void json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (!s) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (; *p; p += n) {
		n = 1;
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p == '\r')
			fputs("\\r", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else if ((n = utf8_len(p)) == 0) {
			fputs("\\ufffd", fp);
			n = 1;
		} else
			fwrite(p, 1, n, fp);
	}
	fputc('"', fp);
}

/* json_key - ,"key": (first: no comma) */
static void json_key(FILE *fp, int *first, const char *key)
{
	if (!*first)
		fputc(',', fp);
	*first = 0;
	json_str(fp, key);
	fputc(':', fp);
}

/* json_error - "error": {"code","message"[,"class"]} or null */
static void json_error(FILE *fp, const char *code, const char *message, const char *cls)
{
	int first = 1;

	if (!code || !*code) {
		fputs("null", fp);
		return;
	}
	fputc('{', fp);
	json_key(fp, &first, "code");
	json_str(fp, code);
	json_key(fp, &first, "message");
	json_str(fp, message ? message : "");
	if (cls) {
		json_key(fp, &first, "class");
		json_str(fp, cls);
	}
	fputc('}', fp);
}

/* ------------------------------------------------------------------ */
/* Configuration and arguments                                        */
/* ------------------------------------------------------------------ */

/* report_config - print one "FILE:LINE: message" from sv_config_load */
static void report_config(const char *message, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", message);
}

/* load_config - -c FILE, else the default file if present, else defaults */
static sv_config *load_config(const char *path)
{
	sv_config *cfg = NULL;
	int errors;

	if (!path && access(DEFAULT_CONF, F_OK) == 0)
		path = DEFAULT_CONF;
	if (!path) {
		cfg = sv_config_defaults();
		if (!cfg)
			warnx("out of memory");
		return cfg;
	}
	errors = sv_config_load(path, &cfg, report_config, NULL);
	if (errors > 0) {
		warnx("%s: %d configuration error%s", path, errors, errors == 1 ? "" : "s");
		return NULL;
	}
	return cfg;
}

/* parse_expect - "TYPE,NAME,VALUE" (VALUE may hold commas) into an sv_attr */
static int parse_expect(const char *text, sv_attr *a)
{
	static const char *const types[] = {"TXT", "MX", "CNAME", "A"};
	const char *c1 = strchr(text, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	char name[SV_DOMAIN_MAX + 2], norm[SV_DOMAIN_MAX + 1];
	const char *why = NULL;
	size_t i, tl;

	memset(a, 0, sizeof(*a));
	if (!c2) {
		warnx("--expect '%s': want TYPE,NAME,VALUE", text);
		return -1;
	}
	tl = (size_t)(c1 - text);
	for (i = 0; i < SV_ARRAY_LEN(types); i++)
		if (strlen(types[i]) == tl && strncasecmp(text, types[i], tl) == 0)
			break;
	if (i == SV_ARRAY_LEN(types)) {
		warnx("--expect '%s': type must be TXT, MX, CNAME or A", text);
		return -1;
	}
	if ((size_t)(c2 - c1 - 1) >= sizeof(name)) {
		warnx("--expect '%s': name too long", text);
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	if (sv_domain_normalize(name, norm, &why) != 0) {
		warnx("--expect '%s': bad name '%s': %s", text, name, why ? why : "invalid");
		return -1;
	}
	snprintf(a->type, sizeof(a->type), "%s", types[i]);
	a->send_domain = xstrdup(norm);
	a->expected = xstrdup(c2 + 1);
	a->current = xstrdup("");
	return 0;
}

/* free_expect - release --expect attributes */
static void free_expect(opts *o)
{
	size_t i;

	for (i = 0; i < o->nexpect; i++) {
		free(o->expect[i].send_domain);
		free(o->expect[i].expected);
		free(o->expect[i].current);
	}
	free(o->expect);
	o->expect = NULL;
	o->nexpect = 0;
}

/* parse_opts - options after the command word; -1 on a usage error */
static int parse_opts(const char *cmd, int argc, char **argv, opts *o)
{
	int i, literal = 0;
	char msg[256];

	memset(o, 0, sizeof(*o));
	o->args = calloc((size_t)argc + 1, sizeof(char *));
	o->expect = calloc((size_t)argc + 1, sizeof(sv_attr));
	if (!o->args || !o->expect) {
		warnx("out of memory");
		return -1;
	}
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (literal || a[0] != '-' || a[1] == 0) {
			o->args[o->nargs++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			literal = 1;
		} else if (strcmp(a, "--json") == 0) {
			o->json = 1;
		} else if (strcmp(a, "--prometheus") == 0 && strcmp(cmd, "stats") == 0) {
			o->prometheus = 1;
		} else if (strcmp(a, "--no-dns") == 0 && strcmp(cmd, "check") == 0) {
			o->no_dns = 1;
		} else if (strcmp(a, "--expect") == 0 && strcmp(cmd, "precheck") == 0) {
			if (i + 1 >= argc) {
				usage("--expect needs TYPE,NAME,VALUE");
				return -1;
			}
			if (parse_expect(argv[++i], &o->expect[o->nexpect]) != 0)
				return -1;
			o->nexpect++;
		} else {
			snprintf(msg, sizeof(msg), "%s: unknown option '%s'", cmd, a);
			usage(msg);
			return -1;
		}
	}
	return 0;
}

/*
 * normalize_all - validate every domain argument before any network call
 *	Returns a malloc'd array of normalised names, or NULL after naming
 *	the first bad argument and the reason.
 */
static dname *normalize_all(const char *cmd, char **args, int n)
{
	dname *out;
	const char *why;
	int i;

	if (n == 0) {
		fprintf(stderr, "%s: %s: no DOMAIN given\n", progname, cmd);
		return NULL;
	}
	out = calloc((size_t)n, sizeof(*out));
	if (!out) {
		warnx("out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		why = NULL;
		if (sv_domain_normalize(args[i], out[i], &why) != 0) {
			char shown[80];

			warnx("%s: bad domain '%s': %s", cmd,
			      shorten(args[i], 60, shown, sizeof(shown)),
			      why ? why : "invalid domain name");
			free(out);
			return NULL;
		}
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* check                                                              */
/* ------------------------------------------------------------------ */

/* One domain's outcome: the API answer and, when run, the live DNS. */
typedef struct checked {
	sv_identity id;
	sv_precheck_result pc;
	int have_pc;
} checked;

/* identity_exit - exit status contribution of one API answer */
static int identity_exit(const sv_identity *id)
{
	switch (id->state) {
	case SV_STATE_VERIFIED:
		return EXIT_OKAY;
	case SV_STATE_UNVERIFIED:
	case SV_STATE_NOT_EXIST:
		return EXIT_FAILED;
	default:
		return EXIT_TROUBLE;
	}
}

/* live_item - the pre-check item for attribute i, if the pre-check ran */
static const sv_pc_item *live_item(const checked *c, size_t i)
{
	size_t k;

	if (!c->have_pc)
		return NULL;
	if (i < c->pc.nitems && c->pc.items[i].attr.send_domain &&
	    strcasecmp(c->pc.items[i].attr.send_domain, c->id.attrs[i].send_domain) == 0 &&
	    strcmp(c->pc.items[i].attr.type, c->id.attrs[i].type) == 0)
		return &c->pc.items[i];
	for (k = 0; k < c->pc.nitems; k++)
		if (c->pc.items[k].attr.send_domain &&
		    strcasecmp(c->pc.items[k].attr.send_domain, c->id.attrs[i].send_domain) == 0 &&
		    strcmp(c->pc.items[k].attr.type, c->id.attrs[i].type) == 0 &&
		    c->pc.items[k].attr.expected && c->id.attrs[i].expected &&
		    strcmp(c->pc.items[k].attr.expected, c->id.attrs[i].expected) == 0)
			return &c->pc.items[k];
	return NULL;
}

/* print_attr_table - TYPE NAME OK EXPECTED CURRENT [DNS], full values under failures */
static void print_attr_table(const checked *c)
{
	const sv_identity *id = &c->id;
	char b1[SHOW_WIDTH + 8], b2[SHOW_WIDTH + 8];
	int w = 4;
	size_t i;

	for (i = 0; i < id->nattrs; i++)
		if (id->attrs[i].send_domain && (int)strlen(id->attrs[i].send_domain) > w)
			w = (int)strlen(id->attrs[i].send_domain);
	printf("  %-5s %-*s %-4s %-*s %-*s%s\n", "TYPE", w, "NAME", "OK", SHOW_WIDTH, "EXPECTED",
	       c->have_pc ? SHOW_WIDTH : 0, "CURRENT (SES)", c->have_pc ? " DNS NOW" : "");
	for (i = 0; i < id->nattrs; i++) {
		const sv_attr *a = &id->attrs[i];
		const sv_pc_item *live = live_item(c, i);
		const char *exp = a->expected ? a->expected : "";
		const char *cur = a->current && *a->current ? a->current : "(none)";

		if (a->current && strcmp(a->current, exp) == 0)
			cur = "(same)";
		printf("  %-5s %-*s %-4s %-*s %-*s", a->type, w,
		       a->send_domain ? a->send_domain : "", a->status ? "ok" : "FAIL", SHOW_WIDTH,
		       shorten(exp, SHOW_WIDTH, b1, sizeof(b1)), c->have_pc ? SHOW_WIDTH : 0,
		       shorten(cur, SHOW_WIDTH, b2, sizeof(b2)));
		if (c->have_pc)
			printf(" %s", live ? sv_pc_verdict_name(live->verdict) : "-");
		putchar('\n');
		if (a->status)
			continue;
		printf("        expected: %s\n", exp);
		printf("        current:  %s\n", a->current && *a->current ? a->current : "(none)");
		if (live)
			printf("        dns now:  %s%s%s\n",
			       live->attr.current && *live->attr.current ? live->attr.current
			                                                 : "(none)",
			       live->detail ? " -- " : "", live->detail ? live->detail : "");
	}
}

/* print_checked_human - one domain of "check" for people */
static void print_checked_human(const checked *c)
{
	const sv_identity *id = &c->id;

	printf("%s: %s", id->domain, sv_state_name(id->state));
	if (id->state == SV_STATE_NOT_EXIST)
		printf(" (not set up in Tencent Cloud SES)");
	if (id->state == SV_STATE_ERROR || (id->error_code[0] && id->state != SV_STATE_NOT_EXIST))
		printf(" %s: %s [%s]", id->error_code[0] ? id->error_code : "error",
		       id->error_message ? id->error_message : "no answer",
		       sv_error_class_name(id->error_class));
	if (id->request_id[0])
		printf(" (RequestId %s)", id->request_id);
	putchar('\n');
	if (id->nattrs > 0)
		print_attr_table(c);
	if (c->have_pc && c->pc.verdict != SV_PRECHECK_MATCHES)
		printf("  dns: %s%s%s\n", sv_precheck_verdict_name(c->pc.verdict),
		       c->pc.error ? ": " : "", c->pc.error ? c->pc.error : "");
}

/* print_attr_json - one attribute object; live may be NULL */
static void print_attr_json(FILE *fp, const sv_attr *a, const sv_pc_item *live)
{
	int first = 1;

	fputc('{', fp);
	json_key(fp, &first, "type");
	json_str(fp, a->type);
	json_key(fp, &first, "send_domain");
	json_str(fp, a->send_domain ? a->send_domain : "");
	json_key(fp, &first, "expected");
	json_str(fp, a->expected ? a->expected : "");
	json_key(fp, &first, "current");
	json_str(fp, a->current ? a->current : "");
	json_key(fp, &first, "status");
	fputs(a->status ? "true" : "false", fp);
	if (live) {
		json_key(fp, &first, "dns");
		fputs("{\"verdict\":", fp);
		json_str(fp, sv_pc_verdict_name(live->verdict));
		fputs(",\"current\":", fp);
		json_str(fp, live->attr.current);
		fprintf(fp, ",\"rcode\":%d,\"detail\":", live->rcode);
		json_str(fp, live->detail);
		fputc('}', fp);
	}
	fputc('}', fp);
}

/* print_checked_json - one domain of "check" as a JSON object */
static void print_checked_json(FILE *fp, const checked *c)
{
	const sv_identity *id = &c->id;
	int first = 1;
	size_t i;

	fputc('{', fp);
	json_key(fp, &first, "domain");
	json_str(fp, id->domain);
	json_key(fp, &first, "state");
	json_str(fp, sv_state_name(id->state));
	json_key(fp, &first, "verified");
	fputs(id->state == SV_STATE_VERIFIED ? "true" : "false", fp);
	json_key(fp, &first, "request_id");
	json_str(fp, id->request_id[0] ? id->request_id : NULL);
	json_key(fp, &first, "attributes");
	fputc('[', fp);
	for (i = 0; i < id->nattrs; i++) {
		if (i)
			fputc(',', fp);
		print_attr_json(fp, &id->attrs[i], live_item(c, i));
	}
	fputc(']', fp);
	json_key(fp, &first, "error");
	json_error(fp, id->error_code, id->error_message,
	           id->error_code[0] ? sv_error_class_name(id->error_class) : NULL);
	if (id->http_status) {
		json_key(fp, &first, "http_status");
		fprintf(fp, "%ld", id->http_status);
	}
	json_key(fp, &first, "dns_verdict");
	json_str(fp, c->have_pc ? sv_precheck_verdict_name(c->pc.verdict) : NULL);
	fputc('}', fp);
}

/*
 * A sliding-window pacer: at most "rate" API calls in any second.  The
 * account's limit (20/s) applies to this process too; a long DOMAIN list
 * must not earn RequestLimitExceeded for its own later domains.  Calls are
 * timed by when they ended: a request reached the server before its answer
 * came back, so "rate calls ago ended more than 1 s before this one starts"
 * keeps the server's view of the window within the rate as well.
 */
typedef struct pacer {
	int64_t *ends; /* ring of the last "rate" end times, monotonic ns */
	int rate, n, next;
	sv_budget *budget; /* Redis set: the account's budget, shared with the daemons */
	sv_pacer shared;
} pacer;

/* mono_ns - CLOCK_MONOTONIC in nanoseconds */
static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* pacer_init - an empty window of ApiRate calls; -1 (reported) without memory */
static int pacer_init(pacer *p, const sv_config *cfg)
{
	char err[512] = "";

	*p = (pacer){NULL, cfg->api_rate > 0 ? cfg->api_rate : 20, 0, 0, NULL, {NULL, NULL, NULL}};
	if ((p->ends = calloc((size_t)p->rate, sizeof(*p->ends))) == NULL) {
		warnx("out of memory");
		return -1;
	}
	if ((p->budget = sv_budget_open(cfg, err, sizeof(err))) != NULL)
		sv_budget_pacer(p->budget, &p->shared);
	else if (err[0]) {
		warnx("%s", err);
		free(p->ends);
		return -1;
	}
	return 0;
}

/* pacer_free - release (an outstanding shared grant is returned) */
static void pacer_free(pacer *p)
{
	sv_budget_close(p->budget);
	free(p->ends);
}

/* pacer_wait - sleep until one more call fits in the window (and the shared budget) */
static void pacer_wait(pacer *p)
{
	struct timespec ts;
	int64_t wait;

	if (p->budget)
		p->shared.before(p->shared.arg);
	if (p->n < p->rate)
		return;
	wait = p->ends[p->next] + 1000000000 - mono_ns();
	if (wait <= 0)
		return;
	ts.tv_sec = (time_t)(wait / 1000000000);
	ts.tv_nsec = (long)(wait % 1000000000);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* pacer_done - record that a call just ended */
static void pacer_done(pacer *p)
{
	if (p->budget)
		p->shared.after(p->shared.arg);
	p->ends[p->next] = mono_ns();
	p->next = (p->next + 1) % p->rate;
	if (p->n < p->rate)
		p->n++;
}

/*
 * pacer_resend - sv_pacer before(): libcurl re-sends a request whose
 *	reused connection died; the first copy may have arrived, so it
 *	counts as a call that ended now, and the copy waits its turn (its
 *	end is recorded by the caller's pacer_done after the call)
 */
static int pacer_resend(void *arg)
{
	pacer *p = arg;

	pacer_done(p);
	pacer_wait(p);
	return 0;
}

/* pacer_page_before - sv_pacer before(): one list page is one call */
static int pacer_page_before(void *arg)
{
	pacer_wait(arg);
	return 0;
}

/* pacer_page_after - sv_pacer after(): that page's call ended */
static void pacer_page_after(void *arg)
{
	pacer_done(arg);
}

/* check_one - UpdateEmailIdentity, then the live DNS for its attributes */
static void check_one(sv_client *client, sv_resolver *res, const char *domain, checked *c)
{
	memset(c, 0, sizeof(*c));
	sv_client_update_identity(client, domain, &c->id);
	if (!c->id.domain[0])
		snprintf(c->id.domain, sizeof(c->id.domain), "%s", domain);
	if (c->id.state == SV_STATE_UNKNOWN)
		c->id.state = SV_STATE_ERROR;
	if (!res || c->id.nattrs == 0)
		return;
	if (sv_precheck(res, domain, c->id.attrs, c->id.nattrs, &c->pc) == 0 || c->pc.nitems > 0 ||
	    c->pc.error)
		c->have_pc = 1;
}

/* cmd_check - "check DOMAIN..." */
static int cmd_check(const sv_config *cfg, const opts *o)
{
	dname *doms = normalize_all("check", o->args, o->nargs);
	char err[512] = "";
	sv_client *client = NULL;
	sv_resolver *res = NULL;
	int i, rc = EXIT_OKAY;
	pacer pace;
	sv_pacer resend = {pacer_resend, NULL, &pace};
	checked c;

	if (!doms)
		return EXIT_USAGE;
	if (pacer_init(&pace, cfg) < 0) {
		free(doms);
		return EXIT_TROUBLE;
	}
	client = sv_client_new(cfg, err, sizeof(err));
	if (!client) {
		warnx("check: cannot make an API client: %s", err[0] ? err : "unknown reason");
		pacer_free(&pace);
		free(doms);
		return EXIT_USAGE;
	}
	sv_client_set_resend_pacer(client, &resend);
	if (!o->no_dns) {
		err[0] = 0;
		res = sv_resolver_new(cfg, err, sizeof(err));
		if (!res && !o->json)
			fprintf(stderr, "%s: note: no DNS pre-check (%s)\n", progname,
			        err[0] ? err : "no resolver");
	}
	if (o->json)
		putchar('[');
	for (i = 0; i < o->nargs; i++) {
		pacer_wait(&pace);
		check_one(client, res, doms[i], &c);
		pacer_done(&pace);
		rc = worse(rc, identity_exit(&c.id));
		if (o->json) {
			if (i)
				putchar(',');
			print_checked_json(stdout, &c);
		} else {
			print_checked_human(&c);
		}
		sv_identity_clear(&c.id);
		sv_precheck_result_clear(&c.pc); /* also after a failed or skipped run */
		fflush(stdout);
	}
	if (o->json)
		puts("]");
	sv_resolver_free(res);
	sv_client_free(client);
	pacer_free(&pace);
	free(doms);
	return rc;
}

/* ------------------------------------------------------------------ */
/* precheck                                                           */
/* ------------------------------------------------------------------ */

/* under - name equals domain or is a subdomain of it */
static int under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' && strcasecmp(name + n - d, domain) == 0;
}

/* precheck_state - the DNS verdict read as a state for the JSON contract */
static const char *precheck_state(sv_precheck_verdict v)
{
	switch (v) {
	case SV_PRECHECK_MATCHES:
		return "verified";
	case SV_PRECHECK_LACKS:
		return "unverified";
	case SV_PRECHECK_NXDOMAIN:
		return "not_exist";
	case SV_PRECHECK_EXISTS:
		return "unknown";
	default:
		return "error";
	}
}

/* precheck_exit - exit status contribution of one pre-check verdict */
static int precheck_exit(sv_precheck_verdict v)
{
	switch (v) {
	case SV_PRECHECK_MATCHES:
	case SV_PRECHECK_EXISTS:
		return EXIT_OKAY;
	case SV_PRECHECK_LACKS:
	case SV_PRECHECK_NXDOMAIN:
		return EXIT_FAILED;
	default:
		return EXIT_TROUBLE;
	}
}

/* print_precheck_human - verdict line, record table, SPF advice */
static void print_precheck_human(const sv_precheck_result *r, const char *spf_include)
{
	char b1[SHOW_WIDTH + 8], b2[SHOW_WIDTH + 8];
	int w = 4;
	size_t i;

	printf("%s: %s (%.1f ms)%s%s\n", r->domain, sv_precheck_verdict_name(r->verdict),
	       (double)r->elapsed_us / 1000.0, r->error ? ": " : "", r->error ? r->error : "");
	for (i = 0; i < r->nitems; i++)
		if (r->items[i].attr.send_domain && (int)strlen(r->items[i].attr.send_domain) > w)
			w = (int)strlen(r->items[i].attr.send_domain);
	if (r->nitems > 0)
		printf("  %-5s %-*s %-9s %-*s %s\n", "TYPE", w, "NAME", "OK", SHOW_WIDTH,
		       "EXPECTED", "CURRENT");
	for (i = 0; i < r->nitems; i++) {
		const sv_pc_item *it = &r->items[i];
		const char *exp = it->attr.expected ? it->attr.expected : "";
		const char *cur =
		    it->attr.current && *it->attr.current ? it->attr.current : "(none)";

		printf("  %-5s %-*s %-9s %-*s %s\n", it->attr.type, w,
		       it->attr.send_domain ? it->attr.send_domain : "",
		       it->verdict == SV_PC_MATCH ? "ok" : sv_pc_verdict_name(it->verdict),
		       SHOW_WIDTH, shorten(exp, SHOW_WIDTH, b1, sizeof(b1)),
		       it->verdict == SV_PC_MATCH ? "(same)"
		                                  : shorten(cur, SHOW_WIDTH, b2, sizeof(b2)));
		if (it->verdict == SV_PC_MATCH)
			continue;
		printf("        expected: %s\n", exp);
		printf("        current:  %s%s%s\n", cur, it->detail ? " -- " : "",
		       it->detail ? it->detail : "");
	}
	if (r->verdict == SV_PRECHECK_NXDOMAIN || r->verdict == SV_PRECHECK_UNAVAILABLE)
		return;
	if (r->spf_record)
		printf("  spf: %s (%s %s)\n", r->spf_record, r->spf_has_include ? "has" : "LACKS",
		       spf_include ? spf_include : "include:qcloudmail.com");
	else
		printf("  spf: no SPF record (advice: publish one with %s)\n",
		       spf_include ? spf_include : "include:qcloudmail.com");
}

/* print_precheck_json - one pre-check result as a JSON object */
static void print_precheck_json(FILE *fp, const sv_precheck_result *r)
{
	int first = 1;
	size_t i;

	fputc('{', fp);
	json_key(fp, &first, "domain");
	json_str(fp, r->domain);
	json_key(fp, &first, "state");
	json_str(fp, precheck_state(r->verdict));
	json_key(fp, &first, "verified");
	fputs(r->verdict == SV_PRECHECK_MATCHES ? "true" : "false", fp);
	json_key(fp, &first, "request_id");
	fputs("null", fp);
	json_key(fp, &first, "verdict");
	json_str(fp, sv_precheck_verdict_name(r->verdict));
	json_key(fp, &first, "attributes");
	fputc('[', fp);
	for (i = 0; i < r->nitems; i++) {
		const sv_pc_item *it = &r->items[i];
		int f2 = 1;

		if (i)
			fputc(',', fp);
		fputc('{', fp);
		json_key(fp, &f2, "type");
		json_str(fp, it->attr.type);
		json_key(fp, &f2, "send_domain");
		json_str(fp, it->attr.send_domain ? it->attr.send_domain : "");
		json_key(fp, &f2, "expected");
		json_str(fp, it->attr.expected ? it->attr.expected : "");
		json_key(fp, &f2, "current");
		json_str(fp, it->attr.current ? it->attr.current : "");
		json_key(fp, &f2, "status");
		fputs(it->verdict == SV_PC_MATCH ? "true" : "false", fp);
		json_key(fp, &f2, "verdict");
		json_str(fp, sv_pc_verdict_name(it->verdict));
		json_key(fp, &f2, "rcode");
		fprintf(fp, "%d", it->rcode);
		json_key(fp, &f2, "detail");
		json_str(fp, it->detail);
		fputc('}', fp);
	}
	fputc(']', fp);
	json_key(fp, &first, "spf_record");
	json_str(fp, r->spf_record);
	json_key(fp, &first, "spf_has_include");
	fputs(r->spf_has_include ? "true" : "false", fp);
	json_key(fp, &first, "elapsed_ms");
	fprintf(fp, "%.3f", (double)r->elapsed_us / 1000.0);
	json_key(fp, &first, "error");
	if (r->verdict == SV_PRECHECK_UNAVAILABLE)
		json_error(fp, "dns_unavailable", r->error ? r->error : "DNS unavailable", NULL);
	else
		fputs("null", fp);
	fputc('}', fp);
}

/* expect_for - the --expect attributes under one domain (copied, not owned) */
static size_t expect_for(const opts *o, const char *domain, sv_attr *out)
{
	size_t i, n = 0;

	for (i = 0; i < o->nexpect; i++)
		if (under(o->expect[i].send_domain, domain))
			out[n++] = o->expect[i];
	return n;
}

/* expect_orphans - every --expect must belong to some DOMAIN argument */
static int expect_orphans(const opts *o, const dname *doms)
{
	size_t i;
	int k;

	for (i = 0; i < o->nexpect; i++) {
		for (k = 0; k < o->nargs; k++)
			if (under(o->expect[i].send_domain, doms[k]))
				break;
		if (k == o->nargs) {
			warnx("precheck: --expect name '%s' is not under any DOMAIN given",
			      o->expect[i].send_domain);
			return -1;
		}
	}
	return 0;
}

/* cmd_precheck - "precheck [--expect ...] DOMAIN..." */
static int cmd_precheck(const sv_config *cfg, const opts *o)
{
	dname *doms = normalize_all("precheck", o->args, o->nargs);
	sv_attr *mine = NULL;
	sv_resolver *res;
	char err[512] = "";
	int i, rc = EXIT_OKAY;

	if (!doms)
		return EXIT_USAGE;
	if (expect_orphans(o, doms) != 0) {
		free(doms);
		return EXIT_USAGE;
	}
	res = sv_resolver_new(cfg, err, sizeof(err));
	if (!res) {
		warnx("precheck: cannot make a DNS resolver: %s", err[0] ? err : "unknown reason");
		free(doms);
		return EXIT_TROUBLE;
	}
	mine = calloc(o->nexpect + 1, sizeof(*mine));
	if (!mine) {
		warnx("out of memory");
		rc = EXIT_TROUBLE;
		goto out;
	}
	if (o->json)
		putchar('[');
	for (i = 0; i < o->nargs; i++) {
		sv_precheck_result r;
		size_t n = expect_for(o, doms[i], mine);

		memset(&r, 0, sizeof(r));
		sv_precheck(res, doms[i], n ? mine : NULL, n, &r);
		if (!r.domain[0])
			snprintf(r.domain, sizeof(r.domain), "%s", doms[i]);
		rc = worse(rc, precheck_exit(r.verdict));
		if (o->json) {
			if (i)
				putchar(',');
			print_precheck_json(stdout, &r);
		} else {
			print_precheck_human(&r, cfg->spf_include);
		}
		sv_precheck_result_clear(&r);
		fflush(stdout);
	}
	if (o->json)
		puts("]");
out:
	free(mine);
	sv_resolver_free(res);
	free(doms);
	return rc;
}

/* ------------------------------------------------------------------ */
/* list                                                               */
/* ------------------------------------------------------------------ */

/* cmd_list - "list": ListEmailIdentities, every page */
static int cmd_list(const sv_config *cfg, const opts *o)
{
	char err[512] = "";
	sv_client *client;
	sv_listed *items = NULL;
	sv_identity fail;
	size_t n = 0, i;
	int w = 4, rc = EXIT_OKAY, lrc;
	/* one request per page of 100: a large account must not earn
	 * RequestLimitExceeded for its own later pages */
	pacer pace;
	sv_pacer pages = {pacer_page_before, pacer_page_after, &pace};
	sv_pacer resend = {pacer_resend, NULL, &pace};

	if (o->nargs > 0)
		return usage("list: takes no arguments");
	if (pacer_init(&pace, cfg) < 0)
		return EXIT_TROUBLE;
	client = sv_client_new(cfg, err, sizeof(err));
	if (!client) {
		warnx("list: cannot make an API client: %s", err[0] ? err : "unknown reason");
		pacer_free(&pace);
		return EXIT_USAGE;
	}
	sv_client_set_resend_pacer(client, &resend);
	memset(&fail, 0, sizeof(fail));
	lrc = sv_client_list_identities_paced(client, &pages, &items, &n, &fail);
	pacer_free(&pace);
	if (lrc != 0) {
		warnx("list: %s: %s%s%s", fail.error_code[0] ? fail.error_code : "error",
		      fail.error_message ? fail.error_message : "no answer",
		      fail.request_id[0] ? " (RequestId " : "",
		      fail.request_id[0] ? fail.request_id : "");
		if (fail.request_id[0])
			fputs(")\n", stderr);
		if (o->json) {
			printf("[{\"domain\":null,\"state\":\"error\",\"verified\":false,\"request_"
			       "id\":");
			json_str(stdout, fail.request_id[0] ? fail.request_id : NULL);
			printf(",\"attributes\":[],\"error\":");
			json_error(stdout, fail.error_code[0] ? fail.error_code : "error",
			           fail.error_message, sv_error_class_name(fail.error_class));
			puts("}]");
		}
		sv_identity_clear(&fail);
		sv_client_free(client);
		return EXIT_TROUBLE;
	}
	if (o->json) {
		putchar('[');
		for (i = 0; i < n; i++) {
			printf("%s{\"domain\":", i ? "," : "");
			json_str(stdout, items[i].name);
			printf(",\"state\":\"%s\",\"verified\":%s,\"sending_enabled\":%s,"
			       "\"request_id\":null,\"attributes\":[],\"error\":null}",
			       items[i].sending_enabled ? "verified" : "unverified",
			       items[i].sending_enabled ? "true" : "false",
			       items[i].sending_enabled ? "true" : "false");
		}
		puts("]");
	} else {
		for (i = 0; i < n; i++)
			if ((int)strlen(items[i].name) > w)
				w = (int)strlen(items[i].name);
		printf("%-*s %s\n", w, "NAME", "SENDING ENABLED");
		for (i = 0; i < n; i++)
			printf("%-*s %s\n", w, items[i].name,
			       items[i].sending_enabled ? "yes" : "no");
		printf("(%zu identit%s)\n", n, n == 1 ? "y" : "ies");
	}
	sv_identity_clear(&fail);
	free(items);
	sv_client_free(client);
	return rc;
}

/* ------------------------------------------------------------------ */
/* cache (control socket client)                                      */
/* ------------------------------------------------------------------ */

/* ctl_connect - connect to "unix:PATH" (or a bare path); -1 with a message */
static int ctl_connect(const char *spec)
{
	struct sockaddr_un sun;
	struct timeval tv = {CTL_TIMEOUT_S, 0};
	const char *path = spec;
	int fd;

	if (!spec || !*spec) {
		warnx("cache: no ControlSocket configured");
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strncmp(spec, "local:", 6) == 0)
		path = spec + 6;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		warnx("cache: ControlSocket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		warnx("cache: socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		warnx(
		    "cache: cannot connect to control socket %s: %s (is sesverify-milter running?)",
		    path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ctl_read_all - the whole answer (the server closes after it) */
static char *ctl_read_all(int fd, const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	ssize_t r;

	if (!buf) {
		warnx("out of memory");
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CTL_MAX_REPLY) {
				warnx("cache: answer from %s larger than %d bytes", path,
				      CTL_MAX_REPLY);
				free(buf);
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				warnx("out of memory");
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			warnx("cache: reading from control socket %s: %s", path,
			      errno == EAGAIN ? "timed out" : strerror(errno));
			free(buf);
			return NULL;
		}
		len += (size_t)r;
	}
	buf[len] = 0;
	if (memchr(buf, 0, len)) {
		warnx("cache: malformed answer from %s (NUL byte)", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* ctl_write_all - send one request line */
static int ctl_write_all(int fd, const char *line, const char *path)
{
	size_t off = 0, len = strlen(line);
	ssize_t w;

	while (off < len) {
		w = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			warnx("cache: writing to control socket %s: %s", path, strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* ctl_status - interpret the first line; print the body */
static int ctl_status(char *reply, const char *path)
{
	char *nl = strchr(reply, '\n'), *body = nl ? nl + 1 : reply + strlen(reply);

	if (nl)
		*nl = 0;
	if (nl && nl > reply && nl[-1] == '\r')
		nl[-1] = 0;
	if (strcmp(reply, "OK") == 0) {
		fputs(body, stdout);
		return EXIT_OKAY;
	}
	if (strncmp(reply, "NOTFOUND", 8) == 0 && (reply[8] == 0 || reply[8] == ' ')) {
		fputs(body, stdout);
		fprintf(stderr, "%s: %s: not in the cache\n", progname,
		        reply[8] ? reply + 9 : "domain");
		return EXIT_FAILED;
	}
	if (strncmp(reply, "ERR", 3) == 0 && (reply[3] == 0 || reply[3] == ' ')) {
		fputs(body, stdout);
		warnx("cache: %s", reply[3] ? reply + 4 : "error");
		return EXIT_TROUBLE;
	}
	warnx("cache: malformed answer from %s: '%.60s'", path, reply);
	return EXIT_TROUBLE;
}

static int ctl_request(const sv_config *cfg, const char *line);

/* cmd_cache - "cache VERB [DOMAIN]" over ControlSocket */
static int cmd_cache(const sv_config *cfg, const opts *o)
{
	static const struct {
		const char *verb;
		int wants_domain;
	} verbs[] = {{"list", 0}, {"stats", 0}, {"show", 1}, {"refresh", 1}, {"forget", 1}};
	char line[SV_DOMAIN_MAX + 64], dom[SV_DOMAIN_MAX + 1] = "";
	const char *why = NULL;
	size_t v;

	if (o->nargs < 1)
		return usage("cache: want list, show, refresh, forget or stats");
	for (v = 0; v < SV_ARRAY_LEN(verbs); v++)
		if (strcmp(o->args[0], verbs[v].verb) == 0)
			break;
	if (v == SV_ARRAY_LEN(verbs))
		return usage("cache: want list, show, refresh, forget or stats");
	if (o->nargs != 1 + verbs[v].wants_domain)
		return usage(verbs[v].wants_domain ? "cache: this command takes one DOMAIN"
		                                   : "cache: this command takes no DOMAIN");
	if (verbs[v].wants_domain && sv_domain_normalize(o->args[1], dom, &why) != 0) {
		warnx("cache %s: bad domain '%s': %s", verbs[v].verb, o->args[1],
		      why ? why : "invalid domain name");
		return EXIT_USAGE;
	}
	snprintf(line, sizeof(line), "%s%s%s%s\n", verbs[v].verb, dom[0] ? " " : "", dom,
	         o->json ? " json" : "");
	return ctl_request(cfg, line);
}

/* cmd_stats - "stats [--json | --prometheus]": the counters, or the metrics text */
static int cmd_stats(const sv_config *cfg, const opts *o)
{
	if (o->nargs != 0)
		return usage("stats: takes no argument");
	if (o->json && o->prometheus)
		return usage("stats: --json or --prometheus, not both");
	return ctl_request(cfg, o->prometheus ? "metrics\n" : o->json ? "stats json\n" : "stats\n");
}

/* ctl_request - one line to ControlSocket; print the answer's body */
static int ctl_request(const sv_config *cfg, const char *line)
{
	const char *path;
	char *reply;
	int fd, rc;

	path = cfg->control_socket ? cfg->control_socket : "unix:/run/sesverify/control.sock";
	fd = ctl_connect(path);
	if (fd < 0)
		return EXIT_TROUBLE;
	if (strncmp(path, "unix:", 5) == 0)
		path += 5;
	if (ctl_write_all(fd, line, path) != 0) {
		close(fd);
		return EXIT_TROUBLE;
	}
	shutdown(fd, SHUT_WR);
	reply = ctl_read_all(fd, path);
	close(fd);
	if (!reply)
		return EXIT_TROUBLE;
	if (!*reply) {
		warnx("cache: control socket %s closed without an answer", path);
		free(reply);
		return EXIT_TROUBLE;
	}
	rc = ctl_status(reply, path);
	free(reply);
	return rc;
}

/* ------------------------------------------------------------------ */
/* main                                                               */
/* ------------------------------------------------------------------ */

/* quiet_log - library diagnostics: errors only (each outcome is printed by us) */
static void quiet_log(int level, const char *message, void *arg)
{
	(void)arg;
	(void)level;
	fprintf(stderr, "%s: %s\n", progname, message);
}

/* run - dispatch one command with its loaded configuration */
static int run(const char *cmd, const sv_config *cfg, const opts *o)
{
	if (strcmp(cmd, "check") == 0)
		return cmd_check(cfg, o);
	if (strcmp(cmd, "precheck") == 0)
		return cmd_precheck(cfg, o);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(cfg, o);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(cfg, o);
	return cmd_cache(cfg, o);
}

int main(int argc, char **argv)
{
	static const char *const commands[] = {"check", "precheck", "list", "cache", "stats"};
	const char *conf = NULL, *cmd;
	sv_config *cfg;
	opts o;
	size_t k;
	int i = 1, rc;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OKAY;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("sesverify %s (libsesverify %s)\n", PACKAGE_VERSION, sv_version());
			return EXIT_OKAY;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			char msg[128];

			snprintf(msg, sizeof(msg), "unknown or incomplete option '%.40s'", argv[i]);
			return usage(msg);
		}
	}
	if (i >= argc)
		return usage("no COMMAND given");
	cmd = argv[i++];
	for (k = 0; k < SV_ARRAY_LEN(commands); k++)
		if (strcmp(cmd, commands[k]) == 0)
			break;
	if (k == SV_ARRAY_LEN(commands)) {
		char msg[128];

		snprintf(msg, sizeof(msg), "unknown command '%.40s'", cmd);
		return usage(msg);
	}
	if (parse_opts(cmd, argc - i, argv + i, &o) != 0) {
		free_expect(&o);
		free(o.args);
		return EXIT_USAGE;
	}
	/* curl runs with NOSIGNAL; a peer reset must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	sv_log_set_handler(quiet_log, NULL, SV_LOG_ERR);
	cfg = load_config(conf);
	if (!cfg) {
		free_expect(&o);
		free(o.args);
		return EXIT_USAGE;
	}
	if (sv_library_init() != 0) {
		warnx("cannot initialise the library (libcurl)");
		rc = EXIT_TROUBLE;
	} else {
		rc = run(cmd, cfg, &o);
		sv_library_cleanup();
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx("writing output: %s", strerror(errno));
		rc = worse(rc, EXIT_TROUBLE);
	}
	sv_config_free(cfg);
	free_expect(&o);
	free(o.args);
	return rc;
}

/*
 * NAME
 *	sesverify 1 - command-line client of libsesverify (cli.c: main)
 * SUMMARY
 *	sesverify [-c FILE] check [--json] [--no-dns] DOMAIN...
 *	sesverify [-c FILE] precheck [--json] [--expect TYPE,NAME,VALUE]... DOMAIN...
 *	sesverify [-c FILE] list [--json]
 *	sesverify [-c FILE] cache list | show DOMAIN | refresh DOMAIN | forget DOMAIN | stats [--json]
 *	sesverify -h | -V
 * DESCRIPTION
 *	This file owns main(), the command table (usage text and dispatch
 *	are both made from it), argument parsing and the configuration.
 *	The commands live in cli_ses.c (check, precheck, list) and
 *	cli_control.c (cache, stats: the milter's control socket), their
 *	output in cli_render.c; cli.h is their interface.  The exit status
 *	contract of DESIGN.md: 0 all verified / success, 1 unverified or not
 *	set up, 2 usage or configuration, 3 API, network or DNS error; the
 *	worst result wins, 3 over 1 over 0.
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
#include <unistd.h>

#include "cli.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/sesverify-milter.conf"

/* command options besides --json */
#define OPT_NO_DNS     1u /* --no-dns */
#define OPT_EXPECT     2u /* --expect TYPE,NAME,VALUE */
#define OPT_PROMETHEUS 4u /* --prometheus */

/* One command: its usage lines and its function; the only list of commands. */
typedef struct command {
	const char *name;
	const char *synopsis; /* usage line, after the indent */
	const char *help;     /* what it does (NULL: none) */
	const char *more;     /* a second usage line, or NULL */
	unsigned options;     /* OPT_* */
	int (*run)(const sv_config *cfg, const opts *o);
} command;

static const command commands[] = {
    {"check", "check [--json] [--no-dns] DOMAIN...",
     "ask SES now (UpdateEmailIdentity) and show DNS", NULL, OPT_NO_DNS, cmd_check},
    {"precheck", "precheck [--json] [--expect TYPE,NAME,VALUE]... DOMAIN...",
     "DNS only: compare live records", NULL, OPT_EXPECT, cmd_precheck},
    {"list", "list [--json]", "every sender domain of the account", NULL, 0, cmd_list},
    {"cache", "cache list|stats [--json]", "the running milter's cache",
     "cache show|refresh|forget DOMAIN [--json]", 0, cmd_cache},
    {"stats", "stats [--json | --prometheus]", "the running milter's counters (Prometheus text)",
     NULL, OPT_PROMETHEUS, cmd_stats},
};

#define HELP_COLUMN 40 /* after the two-space indent */

const char cli_progname[] = "sesverify";

/* print_usage - the usage text, made from the command table */
static void print_usage(FILE *fp)
{
	size_t i;

	fputs("usage: sesverify [-c FILE] COMMAND [--json] ...\n", fp);
	for (i = 0; i < SV_ARRAY_LEN(commands); i++) {
		const command *c = &commands[i];

		if (!c->help)
			fprintf(fp, "  %s\n", c->synopsis);
		else if (strlen(c->synopsis) < HELP_COLUMN)
			fprintf(fp, "  %-*s%s\n", HELP_COLUMN, c->synopsis, c->help);
		else
			fprintf(fp, "  %s\n  %-*s%s\n", c->synopsis, HELP_COLUMN, "", c->help);
		if (c->more)
			fprintf(fp, "  %s\n", c->more);
	}
	fputs("options: -c FILE  configuration (default " DEFAULT_CONF ")\n"
	      "         -h help, -V version\n"
	      "exit: 0 verified/success, 1 unverified or not set up, 2 usage/config, 3 "
	      "API/network/DNS error\n",
	      fp);
}

/* find_command - the table entry called name, or NULL */
static const command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < SV_ARRAY_LEN(commands); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* cli_warn - "sesverify: message" on stderr */
void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* cli_usage - print usage on stderr and return the usage exit status */
int cli_usage(const char *why)
{
	if (why)
		cli_warn("%s", why);
	print_usage(stderr);
	return EXIT_USAGE;
}

/* cli_worse - combine exit statuses: 3 beats 1 beats 0 */
int cli_worse(int a, int b)
{
	if (a == EXIT_TROUBLE || b == EXIT_TROUBLE)
		return EXIT_TROUBLE;
	return a > b ? a : b;
}

/* cli_strdup - strdup or die (the CLI has nothing to save on ENOMEM) */
char *cli_strdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p) {
		cli_warn("out of memory");
		exit(EXIT_TROUBLE);
	}
	return p;
}

/* cli_shorten - s, or its head and tail around "..." when wider than width */
const char *cli_shorten(const char *s, size_t width, char *buf, size_t len)
{
	size_t n = strlen(s), head, tail;

	if (n <= width || width < 12 || len <= width)
		return s;
	tail = width / 3;
	head = width - tail - 3;
	snprintf(buf, len, "%.*s...%s", (int)head, s, s + n - tail);
	return buf;
}

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
			cli_warn("out of memory");
		return cfg;
	}
	errors = sv_config_load(path, &cfg, report_config, NULL);
	if (errors > 0) {
		cli_warn("%s: %d configuration error%s", path, errors, errors == 1 ? "" : "s");
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
		cli_warn("--expect '%s': want TYPE,NAME,VALUE", text);
		return -1;
	}
	tl = (size_t)(c1 - text);
	for (i = 0; i < SV_ARRAY_LEN(types); i++)
		if (strlen(types[i]) == tl && strncasecmp(text, types[i], tl) == 0)
			break;
	if (i == SV_ARRAY_LEN(types)) {
		cli_warn("--expect '%s': type must be TXT, MX, CNAME or A", text);
		return -1;
	}
	if ((size_t)(c2 - c1 - 1) >= sizeof(name)) {
		cli_warn("--expect '%s': name too long", text);
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	if (sv_domain_normalize(name, norm, &why) != 0) {
		cli_warn("--expect '%s': bad name '%s': %s", text, name, why ? why : "invalid");
		return -1;
	}
	snprintf(a->type, sizeof(a->type), "%s", types[i]);
	a->send_domain = cli_strdup(norm);
	a->expected = cli_strdup(c2 + 1);
	a->current = cli_strdup("");
	return 0;
}

/* free_expect - release --expect attributes */
static void free_expect(opts *o)
{
	sv_attrs_free(o->expect, o->nexpect);
	o->expect = NULL;
	o->nexpect = 0;
}

/* parse_opts - options after the command word; -1 on a usage error */
static int parse_opts(const command *cmd, int argc, char **argv, opts *o)
{
	int i, literal = 0;
	char msg[256];

	memset(o, 0, sizeof(*o));
	o->args = calloc((size_t)argc + 1, sizeof(char *));
	o->expect = calloc((size_t)argc + 1, sizeof(sv_attr));
	if (!o->args || !o->expect) {
		cli_warn("out of memory");
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
		} else if (strcmp(a, "--prometheus") == 0 && (cmd->options & OPT_PROMETHEUS)) {
			o->prometheus = 1;
		} else if (strcmp(a, "--no-dns") == 0 && (cmd->options & OPT_NO_DNS)) {
			o->no_dns = 1;
		} else if (strcmp(a, "--expect") == 0 && (cmd->options & OPT_EXPECT)) {
			if (i + 1 >= argc) {
				cli_usage("--expect needs TYPE,NAME,VALUE");
				return -1;
			}
			if (parse_expect(argv[++i], &o->expect[o->nexpect]) != 0)
				return -1;
			o->nexpect++;
		} else {
			snprintf(msg, sizeof(msg), "%s: unknown option '%s'", cmd->name, a);
			cli_usage(msg);
			return -1;
		}
	}
	return 0;
}

/*
 * cli_normalize_all - validate every domain argument before any network call
 *	Returns a malloc'd array of normalised names, or NULL after naming
 *	the first bad argument and the reason.
 */
dname *cli_normalize_all(const char *cmd, char **args, int n)
{
	dname *out;
	const char *why;
	int i;

	if (n == 0) {
		fprintf(stderr, "%s: %s: no DOMAIN given\n", cli_progname, cmd);
		return NULL;
	}
	out = calloc((size_t)n, sizeof(*out));
	if (!out) {
		cli_warn("out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		why = NULL;
		if (sv_domain_normalize(args[i], out[i], &why) != 0) {
			char shown[80];

			cli_warn("%s: bad domain '%s': %s", cmd,
			         cli_shorten(args[i], 60, shown, sizeof(shown)),
			         why ? why : "invalid domain name");
			free(out);
			return NULL;
		}
	}
	return out;
}

/* quiet_log - library diagnostics: errors only (each outcome is printed by us) */
static void quiet_log(int level, const char *message, void *arg)
{
	(void)arg;
	(void)level;
	fprintf(stderr, "%s: %s\n", cli_progname, message);
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	const command *cmd;
	sv_config *cfg;
	opts o;
	int i = 1, rc;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			print_usage(stdout);
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
			return cli_usage(msg);
		}
	}
	if (i >= argc)
		return cli_usage("no COMMAND given");
	if ((cmd = find_command(argv[i])) == NULL) {
		char msg[128];

		snprintf(msg, sizeof(msg), "unknown command '%.40s'", argv[i]);
		return cli_usage(msg);
	}
	i++;
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
		cli_warn("cannot initialise the library (libcurl)");
		rc = EXIT_TROUBLE;
	} else {
		rc = cmd->run(cfg, &o);
		sv_library_cleanup();
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_warn("writing output: %s", strerror(errno));
		rc = cli_worse(rc, EXIT_TROUBLE);
	}
	sv_config_free(cfg);
	free_expect(&o);
	free(o.args);
	return rc;
}

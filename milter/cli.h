/*
 * NAME
 *	cli 3 - the parts of the sesverify command-line client
 * SYNOPSIS
 *	#include "cli.h"
 *
 *	cli.c (main, the command table, options, configuration):
 *		extern const char cli_progname[];
 *		void cli_warn(const char *fmt, ...)
 *		int cli_usage(const char *why)
 *		int cli_worse(int a, int b)
 *		char *cli_strdup(const char *s)
 *		const char *cli_shorten(const char *s, size_t width, char *buf, size_t len)
 *		dname *cli_normalize_all(const char *cmd, char **args, int n)
 *	cli_ses.c (commands that ask SES or the DNS):
 *		int cmd_check(const sv_config *cfg, const opts *o)
 *		int cmd_precheck(const sv_config *cfg, const opts *o)
 *		int cmd_list(const sv_config *cfg, const opts *o)
 *	cli_control.c (commands that ask the running milter, ctlproto.h):
 *		int cmd_cache(const sv_config *cfg, const opts *o)
 *		int cmd_stats(const sv_config *cfg, const opts *o)
 *		int cli_ctl_open(const char *path, int timeout_s)
 *	cli_render.c (human and --json renderings; JSON strings by sv_json_quote):
 *		void render_checked_human(const checked *c)
 *		void render_checked_json(FILE *fp, const checked *c)
 *		void render_precheck_human(const sv_precheck_result *r, const char *spf_include)
 *		void render_precheck_json(FILE *fp, const sv_precheck_result *r)
 *		void render_list_human(const sv_listed *items, size_t n)
 *		void render_list_json(FILE *fp, const sv_listed *items, size_t n)
 *		void render_list_error_json(FILE *fp, const sv_identity *fail)
 * DESCRIPTION
 *	The exit status contract of DESIGN.md: EXIT_OKAY, EXIT_FAILED
 *	(unverified, not set up, not found), EXIT_USAGE (usage or
 *	configuration), EXIT_TROUBLE (API, network or DNS); cli_worse()
 *	combines two, 3 over 1 over 0.  cli_warn() prints "sesverify: "
 *	and a line on stderr.  cli_strdup() exits on ENOMEM.
 *	cli_normalize_all() validates every DOMAIN before any network call.
 */
#ifndef SV_CLI_H
#define SV_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "compat.h" /* header-only: SV_PRINTF, SV_ARRAY_LEN */
#include "sesverify.h"

#define EXIT_OKAY    0
#define EXIT_FAILED  1 /* unverified / not set up / not found */
#define EXIT_USAGE   2
#define EXIT_TROUBLE 3 /* API, network, DNS */

#define SHOW_WIDTH 36 /* table cells: longer values are shortened */

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

/* One domain's outcome of "check": the API answer and, when run, the live DNS. */
typedef struct checked {
	sv_identity id;
	sv_precheck_result pc;
	int have_pc;
} checked;

/* cli.c */
extern const char cli_progname[];
void cli_warn(const char *fmt, ...) SV_PRINTF(1, 2);
int cli_usage(const char *why);
int cli_worse(int a, int b);
char *cli_strdup(const char *s);
const char *cli_shorten(const char *s, size_t width, char *buf, size_t len);
dname *cli_normalize_all(const char *cmd, char **args, int n);

/* cli_ses.c */
int cmd_check(const sv_config *cfg, const opts *o);
int cmd_precheck(const sv_config *cfg, const opts *o);
int cmd_list(const sv_config *cfg, const opts *o);

/* cli_control.c */
int cmd_cache(const sv_config *cfg, const opts *o);
int cmd_stats(const sv_config *cfg, const opts *o);
/* cli_ctl_open - a connection to the control socket at path (timeout_s per
 * read and write); -1 with errno set */
int cli_ctl_open(const char *path, int timeout_s);

/* cli_render.c */
void render_checked_human(const checked *c);
void render_checked_json(FILE *fp, const checked *c);
void render_precheck_human(const sv_precheck_result *r, const char *spf_include);
void render_precheck_json(FILE *fp, const sv_precheck_result *r);
void render_list_human(const sv_listed *items, size_t n);
void render_list_json(FILE *fp, const sv_listed *items, size_t n);
void render_list_error_json(FILE *fp, const sv_identity *fail);

#endif

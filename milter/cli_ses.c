/*
 * cli_ses.c - the sesverify commands that ask Tencent Cloud SES or the
 *	DNS: check, precheck and list.
 *	Owns the order of the calls, their pacing and each command's exit
 *	status.  Does not own the pacing rules.  A host has one API budget:
 *	with Redis set, the account's (sv_pacer_new_shared); without, each
 *	request takes a grant of the running daemon's budget through its
 *	ControlSocket ("grant", control.c), and only when no daemon answers
 *	there the library's rate limiter (sv_pacer_new) keeps this process
 *	within ApiRate, counted the way the server counts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctlproto.h"

#define GRANT_READ_S 15 /* a daemon answers "grant" within 10 s (CONTROL_GRANT_WAIT_MS) */

/*
 * The daemon's budget: one ControlSocket connection per request, opened
 * with "grant" and closed when the request has its answer.  When no
 * daemon answers (no socket, refused, an older daemon without "grant"),
 * the process's own limiter from then on.
 */
typedef struct daemon_pacer {
	sv_pacer hooks; /* first: the sv_pacer * handed out points here */
	sv_pacer *own;  /* the library's limiter: no daemon answered */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;   /* the connection holding the grant of the request in flight */
	int rate; /* ApiRate, for our own limiter */
} daemon_pacer;

/* grant_open - a grant from the daemon: its connection, -1 busy (retry), -2 no daemon */
static int grant_open(const char *path)
{
	char line[256];
	size_t n = 0;
	ssize_t r;
	int fd = cli_ctl_open(path, GRANT_READ_S);

	if (fd < 0)
		return -2;
	if (send(fd, "grant\n", 6, MSG_NOSIGNAL) != 6) {
		close(fd);
		return -2;
	}
	while (n < sizeof(line) - 1 && (r = read(fd, line + n, 1)) == 1 && line[n] != '\n')
		n++;
	line[n] = 0;
	if (strcmp(line, CTL_OK) == 0)
		return fd;
	close(fd);
	/* "ERR grant: ..." (busy, or no grant within its wait): the daemon is
	 * there and its budget busy, so ask again; anything else (an older
	 * daemon, no answer): no daemon's budget to share */
	return strncmp(line, CTL_ERR " grant: ", strlen(CTL_ERR " grant: ")) == 0 &&
	               strstr(line, "stopping") == NULL
	           ? -1
	           : -2;
}

/* daemon_after - the request in flight has its answer: give the grant back */
static void daemon_after(void *arg)
{
	daemon_pacer *dp = arg;

	if (dp->own) {
		dp->own->after(dp->own->arg);
	}
	if (dp->fd >= 0) {
		close(dp->fd);
		dp->fd = -1;
	}
}

/* daemon_before - a grant of the daemon's budget, or of our own without a daemon */
static int daemon_before(void *arg)
{
	daemon_pacer *dp = arg;
	struct timespec pause = {0, 100 * 1000000};
	int fd;

	daemon_after(arg); /* one request at a time: a re-send replaces it */
	while (!dp->own) {
		if ((fd = grant_open(dp->path)) >= 0) {
			dp->fd = fd;
			return 0;
		}
		if (fd == -1) {
			nanosleep(&pause, NULL);
			continue;
		}
		if ((dp->own = sv_pacer_new(dp->rate)) == NULL)
			return -1;
	}
	return dp->own->before(dp->own->arg);
}

/*
 * new_pacer - with Redis set, the library's pacer taking its grants from the
 *	budget the milters share; without, the daemon's budget through its
 *	ControlSocket, or (no daemon) the library's pacer at ApiRate (default
 *	20/s); NULL reported.  pacer_free releases either.
 */
static sv_pacer *new_pacer(const sv_config *cfg)
{
	const char *spec = cfg->control_socket ? cfg->control_socket : CTL_SOCKET_DEFAULT;
	char err[512] = "";
	daemon_pacer *dp;
	sv_pacer *p;

	if (cfg->redis == NULL && (dp = calloc(1, sizeof(*dp))) != NULL) {
		dp->hooks = (sv_pacer){daemon_before, daemon_after, dp};
		dp->fd = -1;
		dp->rate = cfg->api_rate > 0 ? cfg->api_rate : 20;
		if (sv_unix_socket_path(spec, dp->path, sizeof(dp->path), NULL, 0) != 0 &&
		    (dp->own = sv_pacer_new(dp->rate)) == NULL) {
			free(dp);
			dp = NULL;
		}
		if (dp)
			return &dp->hooks;
	}
	p = cfg->redis ? sv_pacer_new_shared(cfg, err, sizeof(err)) : NULL;
	if (!p)
		cli_warn("%s", err[0] ? err : "out of memory");
	return p;
}

/* pacer_free - release a pacer of new_pacer */
static void pacer_free(sv_pacer *p)
{
	daemon_pacer *dp = (daemon_pacer *)p;

	if (p == NULL)
		return;
	if (p->before != daemon_before) {
		sv_pacer_free(p);
		return;
	}
	daemon_after(dp);
	sv_pacer_free(dp->own);
	free(dp);
}

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

/* check_one - UpdateEmailIdentity (paced), then the live DNS for its attributes */
static void check_one(sv_client *client, sv_pacer *pace, sv_resolver *res, const char *domain,
                      checked *c)
{
	memset(c, 0, sizeof(*c));
	pace->before(pace->arg);
	sv_client_update_identity(client, domain, &c->id);
	pace->after(pace->arg);
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
int cmd_check(const sv_config *cfg, const opts *o)
{
	dname *doms = cli_normalize_all("check", o->args, o->nargs);
	char err[512] = "";
	sv_client *client = NULL;
	sv_resolver *res = NULL;
	int i, rc = EXIT_OKAY;
	sv_pacer *pace;
	checked c;

	if (!doms)
		return EXIT_USAGE;
	if ((pace = new_pacer(cfg)) == NULL) {
		free(doms);
		return EXIT_TROUBLE;
	}
	client = sv_client_new(cfg, err, sizeof(err));
	if (!client) {
		cli_warn("check: cannot make an API client: %s", err[0] ? err : "unknown reason");
		pacer_free(pace);
		free(doms);
		return EXIT_USAGE;
	}
	sv_client_set_resend_pacer(client, pace);
	if (!o->no_dns) {
		err[0] = 0;
		res = sv_resolver_new(cfg, err, sizeof(err));
		if (!res && !o->json)
			fprintf(stderr, "%s: note: no DNS pre-check (%s)\n", cli_progname,
			        err[0] ? err : "no resolver");
	}
	if (o->json)
		putchar('[');
	for (i = 0; i < o->nargs; i++) {
		check_one(client, pace, res, doms[i], &c);
		rc = cli_worse(rc, identity_exit(&c.id));
		if (o->json) {
			if (i)
				putchar(',');
			render_checked_json(stdout, &c);
		} else {
			render_checked_human(&c);
		}
		sv_identity_clear(&c.id);
		sv_precheck_result_clear(&c.pc); /* also after a failed or skipped run */
		fflush(stdout);
	}
	if (o->json)
		puts("]");
	sv_resolver_free(res);
	sv_client_free(client);
	pacer_free(pace);
	free(doms);
	return rc;
}

/* under - name equals domain or is a subdomain of it */
static int under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' && strcasecmp(name + n - d, domain) == 0;
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
			cli_warn("precheck: --expect name '%s' is not under any DOMAIN given",
			         o->expect[i].send_domain);
			return -1;
		}
	}
	return 0;
}

/* cmd_precheck - "precheck [--expect ...] DOMAIN..." */
int cmd_precheck(const sv_config *cfg, const opts *o)
{
	dname *doms = cli_normalize_all("precheck", o->args, o->nargs);
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
		cli_warn("precheck: cannot make a DNS resolver: %s",
		         err[0] ? err : "unknown reason");
		free(doms);
		return EXIT_TROUBLE;
	}
	mine = calloc(o->nexpect + 1, sizeof(*mine));
	if (!mine) {
		cli_warn("out of memory");
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
		rc = cli_worse(rc, precheck_exit(r.verdict));
		if (o->json) {
			if (i)
				putchar(',');
			render_precheck_json(stdout, &r);
		} else {
			render_precheck_human(&r, cfg->spf_include);
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

/* cmd_list - "list": ListEmailIdentities, every page (one request per 100) */
int cmd_list(const sv_config *cfg, const opts *o)
{
	char err[512] = "";
	sv_client *client;
	sv_listed *items = NULL;
	sv_identity fail;
	size_t n = 0;
	sv_pacer *pace;
	int lrc;

	if (o->nargs > 0)
		return cli_usage("list: takes no arguments");
	if ((pace = new_pacer(cfg)) == NULL)
		return EXIT_TROUBLE;
	client = sv_client_new(cfg, err, sizeof(err));
	if (!client) {
		cli_warn("list: cannot make an API client: %s", err[0] ? err : "unknown reason");
		pacer_free(pace);
		return EXIT_USAGE;
	}
	sv_client_set_resend_pacer(client, pace);
	memset(&fail, 0, sizeof(fail));
	lrc = sv_client_list_identities_paced(client, pace, &items, &n, &fail);
	sv_client_free(client);
	pacer_free(pace);
	if (lrc != 0) {
		cli_warn("list: %s: %s%s%s", fail.error_code[0] ? fail.error_code : "error",
		         fail.error_message ? fail.error_message : "no answer",
		         fail.request_id[0] ? " (RequestId " : "",
		         fail.request_id[0] ? fail.request_id : "");
		if (fail.request_id[0])
			fputs(")\n", stderr);
		if (o->json)
			render_list_error_json(stdout, &fail);
		sv_identity_clear(&fail);
		return EXIT_TROUBLE;
	}
	if (o->json)
		render_list_json(stdout, items, n);
	else
		render_list_human(items, n);
	sv_identity_clear(&fail);
	free(items);
	return EXIT_OKAY;
}

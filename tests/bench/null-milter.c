/*
 * null-milter.c - a libmilter filter that decides nothing (test harness, benchmark baseline)
 *
 * SYNOPSIS
 *	null-milter -p SOCKET [-r DOMAIN] [-l LOGFILE]
 *
 * DESCRIPTION
 *	Accepts every message.  It negotiates the same protocol steps that
 *	sesverify-milter asks for (connect, MAIL FROM and headers; no HELO,
 *	RCPT, DATA, body or unknown commands) so that its cost per message is
 *	the floor an MTA pays for having any milter of that shape at all: the
 *	e2e and bench suites measure sesverify-milter against it.
 *
 *	-r DOMAIN makes it reject MAIL FROM in exactly that domain with
 *	"550 5.7.1", which lets the MTA harnesses (tests/e2e) prove their
 *	reject path before the real milter exists.  -l appends one line per
 *	envelope sender to LOGFILE so a test can see the milter was called.
 *
 *	This file owns only this test tool; it knows nothing of sesverify's
 *	library, policy or configuration.
 *
 * DIAGNOSTICS
 *	Exit 2 on a usage error, 1 when libmilter cannot set up the socket.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static const char *reject_domain;
static FILE *log_fp;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* nm_negotiate - ask only for the steps sesverify-milter uses */
static sfsistat nm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want =
	    SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA;

	(void)ctx;
	(void)f0;
	(void)f2;
	(void)f3;
	*pf0 = 0; /* no message modifications */
	*pf1 = want & f1;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* nm_domain_is - does the address in argv[0] ("<a@b>") end in "@DOMAIN"? */
static int nm_domain_is(const char *addr, const char *domain)
{
	const char *at = strrchr(addr, '@');
	size_t n = strlen(domain);

	if (at == NULL)
		return 0;
	at++;
	return strncasecmp(at, domain, n) == 0 && (at[n] == '>' || at[n] == '\0');
}

/* nm_envfrom - log the sender; reject it only when -r names its domain */
static sfsistat nm_envfrom(SMFICTX *ctx, char **argv)
{
	const char *from = argv[0] != NULL ? argv[0] : "";

	if (log_fp != NULL) {
		pthread_mutex_lock(&log_lock);
		fprintf(log_fp, "envfrom %s\n", from);
		fflush(log_fp);
		pthread_mutex_unlock(&log_lock);
	}
	if (reject_domain != NULL && nm_domain_is(from, reject_domain)) {
		smfi_setreply(ctx, "550", "5.7.1", "sender domain rejected by null-milter -r");
		return SMFIS_REJECT;
	}
	return SMFIS_CONTINUE;
}

/* nm_header - headers are requested (like sesverify-milter) but ignored */
static sfsistat nm_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

/* nm_eom - accept the message */
static sfsistat nm_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

static struct smfiDesc nm_desc = {
    .xxfi_name = "null-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_envfrom = nm_envfrom,
    .xxfi_header = nm_header,
    .xxfi_eom = nm_eom,
    .xxfi_negotiate = nm_negotiate,
};

/* usage - print the synopsis and exit 2 */
static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s -p SOCKET [-r DOMAIN] [-l LOGFILE]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int c;

	while ((c = getopt(argc, argv, "p:r:l:")) != -1) {
		switch (c) {
		case 'p':
			sock = optarg;
			break;
		case 'r':
			reject_domain = optarg;
			break;
		case 'l':
			log_fp = fopen(optarg, "a");
			if (log_fp == NULL) {
				fprintf(stderr, "null-milter: %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			break;
		default:
			usage(argv[0]);
		}
	}
	if (sock == NULL || optind != argc)
		usage(argv[0]);
	/* A stale unix socket from a killed run must not block the restart. */
	if (smfi_setconn((char *)sock) == MI_FAILURE || smfi_register(nm_desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "null-milter: cannot set up %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}

/*
 * NAME
 *	twin-milter - a do-nothing filter shaped exactly like sesverify-milter
 * SYNOPSIS
 *	twin-milter -p SOCKET
 * DESCRIPTION
 *	The benchmark baseline whose protocol conversation is the same as
 *	sesverify-milter's with CheckFrom envelope,header: it negotiates no
 *	HELO, RCPT, DATA, body or unknown commands, no reply to CONNECT and
 *	to headers (SMFIP_NR_CONN, SMFIP_NR_HDR), the same macro lists, and
 *	accepts every message at end of headers.  So sesverify-milter's
 *	figures minus this one's are exactly the cost of its own work (cache
 *	lookup, policy, logging), with libmilter and the round trips equal.
 *
 *	tests/bench/null-milter (the e2e helper's) is the other baseline: it
 *	answers every header and goes on to end of message, i.e. eight round
 *	trips a message where sesverify-milter needs two; the driver reports
 *	both.
 *
 *	This file owns only this tool and knows nothing of sesverify.
 * DIAGNOSTICS
 *	Exit 2 on a usage error, 1 when libmilter cannot set up the socket.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* tw_negotiate - the steps, no-reply flags and macros sesverify-milter asks for */
static sfsistat tw_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
	                     SMFIP_NODATA | SMFIP_NR_CONN | SMFIP_NR_HDR;

	(void)f2;
	(void)f3;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_SETSYMLIST);
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name} {client_addr}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {auth_type} {daemon_name}");
		smfi_setsymlist(ctx, SMFIM_EOH, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/* tw_connect - nothing to say: the MTA does not wait for a reply */
static sfsistat tw_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx;
	(void)host;
	(void)addr;
	return SMFIS_NOREPLY;
}

/* tw_envfrom - go on to the headers */
static sfsistat tw_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

/* tw_header - headers are read, never answered */
static sfsistat tw_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_NOREPLY;
}

/* tw_eoh - accept the message: nothing after the headers matters */
static sfsistat tw_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

/* tw_eom - only reached if the MTA ignored the accept */
static sfsistat tw_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

static struct smfiDesc tw_desc = {
    .xxfi_name = "twin-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_SETSYMLIST,
    .xxfi_connect = tw_connect,
    .xxfi_envfrom = tw_envfrom,
    .xxfi_header = tw_header,
    .xxfi_eoh = tw_eoh,
    .xxfi_eom = tw_eom,
    .xxfi_negotiate = tw_negotiate,
};

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int c;

	while ((c = getopt(argc, argv, "p:")) != -1) {
		if (c != 'p')
			goto usage;
		sock = optarg;
	}
	if (sock == NULL || optind != argc)
		goto usage;
	if (smfi_setconn((char *)sock) == MI_FAILURE || smfi_register(tw_desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "twin-milter: cannot set up %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
usage:
	fprintf(stderr, "usage: %s -p SOCKET\n", argv[0]);
	return 2;
}

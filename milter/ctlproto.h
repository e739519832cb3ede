/*
 * NAME
 *	ctlproto 3 - the ControlSocket protocol, one definition for both ends
 * SYNOPSIS
 *	#include "ctlproto.h"
 *
 *	const ctl_verb *ctl_verb_find(const char *name)
 *	ctl_reply ctl_reply_kind(const char *line, const char **arg)
 * DESCRIPTION
 *	The server is sesverify-milter (control.c), the client sesverify
 *	(cli_control.c).  The client sends one line of at most CTL_LINE_MAX
 *	octets,
 *
 *		VERB [DOMAIN] [json]
 *
 *	with a VERB of ctl_verbs[] (list, show, refresh, forget, stats,
 *	metrics).  The server answers and closes.  The first answer line is
 *	CTL_OK, CTL_NOTFOUND " DOMAIN" or CTL_ERR " message"; then zero or
 *	more body lines (a plain-text table, or one JSON document when
 *	CTL_JSON was given).  A whole answer is at most CTL_REPLY_MAX octets.
 *
 *	ctl_verb_find() returns the verb named name, NULL when none is.
 *
 *	Unix socket specs ("unix:PATH", "local:PATH", "/PATH") of both ends
 *	and of the configuration are parsed by sesverify.h's
 *	sv_unix_socket_path(), the one parser of them.
 *
 *	ctl_reply_kind() classifies an answer's first line (without its
 *	newline) and points *arg at what follows the prefix and its space
 *	(the domain, the message; "" when nothing does).
 */
#ifndef SV_CTLPROTO_H
#define SV_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_LINE_MAX       512        /* one request line, newline excluded */
#define CTL_REPLY_MAX      (16 << 20) /* one whole answer */
#define CTL_OK             "OK"
#define CTL_NOTFOUND       "NOTFOUND"
#define CTL_ERR            "ERR"
#define CTL_JSON           "json" /* the last word of a request: JSON body */
#define CTL_SOCKET_DEFAULT "unix:/run/sesverify/control.sock"

typedef struct ctl_verb {
	const char *name;
	bool domain;  /* takes one DOMAIN */
	bool changes; /* changes the cache: only root and the milter's user */
	bool json;    /* has a json form */
} ctl_verb;

/* in the order the server names them in "ERR unknown command (...)" */
extern const ctl_verb ctl_verbs[];
extern const size_t ctl_nverbs;

typedef enum { CTL_REPLY_OK, CTL_REPLY_NOTFOUND, CTL_REPLY_ERR, CTL_REPLY_MALFORMED } ctl_reply;

const ctl_verb *ctl_verb_find(const char *name);
ctl_reply ctl_reply_kind(const char *line, const char **arg);

#endif

/*
 * NAME
 *	policy 3 - the milter's pure decision function
 * SYNOPSIS
 *	#include "policy.h"
 *
 *	void policy_decide(const sv_config *cfg, sv_state state,
 *			   const sv_entry_view *view, const policy_facts *facts,
 *			   policy_result *out)
 *	int policy_reply_valid(const char *code, const char *dsn, char *err, size_t errlen)
 *	int policy_check_replies(char *err, size_t errlen)
 *	size_t policy_escape(char *dst, size_t dstlen, const char *src)
 * DESCRIPTION
 *	policy_decide() maps (cache state and entry, Mode, UnknownAction,
 *	ErrorAction, message facts) to an action and, for rejects and
 *	temporary failures, an SMTP reply that is safe to hand to
 *	smfi_setreply(): code and DSN class agree, every '%' is doubled, no
 *	control or non-ASCII octet survives, and "CODE DSN TEXT" fits in
 *	POLICY_REPLY_MAX characters.  It does no I/O and keeps no state, so
 *	it is tested as a table (tests/unit/test_policy.c).
 *
 *	POLICY_WAIT means "state unknown, UnknownAction wait, not waited yet":
 *	the caller waits up to UnknownWait and asks again with waited set.
 *
 *	In Mode monitor the action is always POLICY_ACCEPT; enforce holds
 *	what Mode enforce would have done, and header holds the value of the
 *	X-SESVerify header to add.
 *
 *	policy_reply_valid() checks one code/DSN pair; policy_check_replies()
 *	checks every built-in pair (run when a configuration is loaded).
 *	policy_escape() sanitises untrusted text into reply-safe text.
 * DIAGNOSTICS
 *	policy_reply_valid and policy_check_replies return 0 or -1 with err.
 */
#ifndef SV_POLICY_H
#define SV_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "sesverify.h"

/* libmilter's MAXREPLYLEN; we bound the whole "CODE DSN TEXT" line by it */
#define POLICY_REPLY_MAX 980
/* longest shown ExpectedValue / CurrentValue before "..." */
#define POLICY_SHOW_MAX   40
#define POLICY_HEADER_MAX 400

typedef enum { POLICY_ACCEPT = 0, POLICY_REJECT, POLICY_TEMPFAIL, POLICY_WAIT } policy_action;

/* What is being judged: a sender domain, or a defect of the message. */
typedef enum {
	POLICY_DOMAIN = 0,    /* a sender domain looked up in the cache */
	POLICY_MISSING_FROM,  /* CheckFrom header, but no From: header */
	POLICY_MULTIPLE_FROM, /* more than one From: header */
	POLICY_BAD_FROM,      /* a From: header (or envelope) without a usable domain */
	POLICY_NOT_IDNA       /* a non-ASCII sender domain that is not an exact IDNA2008 name */
} policy_subject;

typedef struct policy_facts {
	policy_subject subject;
	const char *domain; /* normalised sender domain (POLICY_DOMAIN) */
	const char *source; /* "envelope" or "header" */
	bool waited;        /* UnknownWait has already been spent */
} policy_facts;

typedef struct policy_result {
	policy_action action;  /* what the milter returns */
	policy_action enforce; /* what Mode enforce does (== action there) */
	bool monitor;          /* Mode monitor: add the header, never reject */
	const char *verdict;   /* "verified", ..., "missing_from", "bad_sender", "not_idna" */
	const char *why;       /* short reason for the log line */
	char code[4];          /* "550", "451"; "" when accepting */
	char dsn[8];           /* "5.7.1", ...; "" when accepting */
	char text[POLICY_REPLY_MAX + 1];    /* escaped reply text */
	char header[POLICY_HEADER_MAX + 1]; /* X-SESVerify value */
} policy_result;

void policy_decide(const sv_config *cfg, sv_state state, const sv_entry_view *view,
                   const policy_facts *facts, policy_result *out);
const char *policy_action_name(policy_action action);
int policy_reply_valid(const char *code, const char *dsn, char *err, size_t errlen);
int policy_check_replies(char *err, size_t errlen);
size_t policy_escape(char *dst, size_t dstlen, const char *src);

#endif

/*
 * addr.h - strict parsers for sender addresses (envelope and From:).
 *	Owns turning outside text into normalised sender domains; does not
 *	decide anything (policy does) and does not decode RFC 2047 words.
 *
 *	addr_envelope() parses the MAIL FROM argument as libmilter hands
 *	it in argv[0]: "<user@dom>" (ESMTP parameters come in later argv
 *	elements; if they follow in the same string after a blank they are
 *	ignored), "<>" (null sender), "<@a,@b:user@dom>" (source route,
 *	skipped), quoted local parts, or a bare "user@dom".  On ADDR_OK the
 *	domain is normalised by sv_domain_normalize (U-labels to A-labels,
 *	exact IDNA2008 only); a non-ASCII domain it refuses is ADDR_NOT_IDNA,
 *	an ASCII one ADDR_BAD_DOMAIN (both for addr_from too).
 *
 *	addr_from() parses a From: header value (folded or not) as an
 *	RFC 5322 address-list with the obsolete forms real mail still uses:
 *	display names (also with '.', '@' and RFC 2047 encoded-words),
 *	quoted strings, nested comments, angle addresses, groups, several
 *	addresses.  On ADDR_OK out lists the distinct domains in order of
 *	appearance (at most ADDR_MAX_DOMAINS).  NUL bytes, over-long
 *	input, unbalanced quotes, comments or brackets are errors.
 *
 *	Every function returns a status; *why (never NULL on error) is a
 *	static English reason and *where (may be NULL) the byte offset where
 *	parsing stopped.
 */
#ifndef SV_ADDR_H
#define SV_ADDR_H

#include <stddef.h>

#include "sesverify.h"

#define ADDR_MAX_DOMAINS 32
#define ADDR_MAX_INPUT   65536 /* bytes of one From: value or MAIL FROM */

typedef enum {
	ADDR_OK = 0,
	ADDR_NULL,       /* envelope "<>": the null sender */
	ADDR_EMPTY,      /* From: holds no mailbox (empty, or only empty groups) */
	ADDR_NO_DOMAIN,  /* an address without "@domain" ("<postmaster>") */
	ADDR_IP_LITERAL, /* the domain is an address literal: refused as sender */
	ADDR_BAD_DOMAIN, /* sv_domain_normalize refused the domain */
	ADDR_TOO_MANY,   /* more than ADDR_MAX_DOMAINS distinct domains */
	ADDR_SYNTAX,     /* anything else malformed */
	ADDR_NOT_IDNA    /* a non-ASCII domain that is not an exact IDNA2008 name */
} addr_status;

typedef struct addr_list {
	size_t n;         /* distinct domains */
	size_t mailboxes; /* addresses seen, duplicates included */
	char domain[ADDR_MAX_DOMAINS][SV_DOMAIN_MAX + 1];
} addr_list;

/* addr_status_name - "ok", "null", "empty", "no_domain", "ip_literal", ..., "not_idna" */
const char *addr_status_name(addr_status st);

addr_status addr_envelope(const char *arg, char domain[SV_DOMAIN_MAX + 1], const char **why,
                          size_t *where);

addr_status addr_from(const char *value, size_t len, addr_list *out, const char **why,
                      size_t *where);

#endif

/* test_addr.c - table tests of the envelope and From: parsers (milter/addr.c) */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

/* want: domains joined by ' ' on ADDR_OK, else the exact reason */
typedef struct tcase {
	const char *in;
	addr_status st;
	const char *want;
} tcase;

/* sv_domain_normalize's reason for a non-ASCII name that IDNA2008 does not convert exactly */
#define IDNA_WHY "non-ASCII domain that is not an exact IDNA2008 name"

static const tcase envelope[] = {
    {"<user@example.com>", ADDR_OK, "example.com"},
    {"<User@Example.COM>", ADDR_OK, "example.com"},
    {"user@example.com", ADDR_OK, "example.com"},
    {"<user@example.com.>", ADDR_OK, "example.com"},
    {"<user@example.com> SIZE=1234 BODY=8BITMIME", ADDR_OK, "example.com"},
    {"<first.last+tag@mail.example.co.uk>", ADDR_OK, "mail.example.co.uk"},
    {"<>", ADDR_NULL, "null sender"},
    {"<> SIZE=10", ADDR_NULL, "null sender"},
    {"<@relay.example,@[192.0.2.1]:user@example.org>", ADDR_OK, "example.org"},
    {"<@relay.example:user@example.org>", ADDR_OK, "example.org"},
    {"<\"john doe\"@example.net>", ADDR_OK, "example.net"},
    {"<\"a@b\\\"c\"@example.net>", ADDR_OK, "example.net"},
    {"<\"\"@example.net>", ADDR_OK, "example.net"},
    {"<user@[192.0.2.1]>", ADDR_IP_LITERAL, "address literal, not a domain"},
    {"<user@[IPv6:2001:db8::1]>", ADDR_IP_LITERAL, "address literal, not a domain"},
    {"user@[192.0.2.1]", ADDR_IP_LITERAL, "address literal, not a domain"},
    {"<user@bücher.example>", ADDR_OK, "xn--bcher-kva.example"},
    {"<jörg@例え.テスト>", ADDR_OK, "xn--r8jz45g.xn--zckzah"},
    {"<user@Bücher.Example>", ADDR_OK, "xn--bcher-kva.example"},
    {"<user@ｖerified.test>", ADDR_NOT_IDNA, IDNA_WHY},
    {"<user@verified。test>", ADDR_NOT_IDNA, IDNA_WHY},
    {"<user@BÜCHER.example>", ADDR_NOT_IDNA, IDNA_WHY},
    {"<postmaster>", ADDR_NO_DOMAIN, "address has no domain"},
    {"postmaster", ADDR_NO_DOMAIN, "address has no domain"},
    {"<user@>", ADDR_NO_DOMAIN, "address has no domain"},
    {"<user@192.0.2.1>", ADDR_BAD_DOMAIN, "IP address, not a domain"},
    {"<user@localhost>", ADDR_BAD_DOMAIN, "domain has a single label"},
    {"<user@exa_mple..com>", ADDR_BAD_DOMAIN, "empty label in domain"},
    {"<user@b@c.example>", ADDR_BAD_DOMAIN, "invalid character in domain"},
    {"", ADDR_SYNTAX, "empty address"},
    {"   ", ADDR_SYNTAX, "empty address"},
    {"<", ADDR_SYNTAX, "empty local part"},
    {"<user@example.com", ADDR_SYNTAX, "missing '>' after address"},
    {"user@example.com>", ADDR_SYNTAX, "text after address"},
    {"<user@example.com>x", ADDR_SYNTAX, "text after address"},
    {"<a b@example.com>", ADDR_SYNTAX, "invalid character in local part"},
    {"<\"unterminated@example.com>", ADDR_SYNTAX, "unterminated quoted local part"},
    {"<\"a\rb\"@example.com>", ADDR_SYNTAX, "control character in quoted local part"},
    {"<@relay.example user@example.org>", ADDR_SYNTAX, "bad source route"},
    {"<@:user@example.org>", ADDR_SYNTAX, "bad source route"},
    {"<user@[192.0.2.1>", ADDR_SYNTAX, "unterminated address literal"},
    {"<<user@example.com>>", ADDR_SYNTAX, "empty local part"},
    {"<(comment)user@example.com>", ADDR_SYNTAX, "empty local part"},
};

static const tcase from[] = {
    /* plain forms */
    {"user@example.com", ADDR_OK, "example.com"},
    {"<user@example.com>", ADDR_OK, "example.com"},
    {"John Doe <john@Example.COM>", ADDR_OK, "example.com"},
    {"\"Doe, John\" <john@example.com>", ADDR_OK, "example.com"},
    {"\"John \\\"JD\\\" Doe\" <john@example.com>", ADDR_OK, "example.com"},
    {"john@example.com (John Doe)", ADDR_OK, "example.com"},
    {"john(nested (comment) here)@(x)example.com", ADDR_OK, "example.com"},
    /* quoted-pairs in comments: "\\(" and "\\)" neither open nor close one */
    {"john@example.com (a \\) b)", ADDR_OK, "example.com"},
    {"John (smiley :-\\() <john@example.com>", ADDR_OK, "example.com"},
    {"(x \\) evil@bad.example) good@good.example", ADDR_OK, "good.example"},
    {"John (a \\\\) <john@example.com>", ADDR_OK, "example.com"},
    {"John (a \\\\\\) <john@example.com>", ADDR_SYNTAX, "unbalanced parenthesis in comment"},
    {"John Q. Public <jqp@example.com>", ADDR_OK, "example.com"},
    {"john@example.com <john@example.com>", ADDR_OK, "example.com"},
    {"jdoe@one.example <jdoe@two.example>", ADDR_OK, "two.example"},
    {"\"a@evil.example\" <x@good.example>", ADDR_OK, "good.example"},
    {"=?UTF-8?B?5byg5LiJ?= <zhang@example.cn>", ADDR_OK, "example.cn"},
    {"=?utf-8?Q?J=C3=B6rg_M.?= <joerg@example.de>", ADDR_OK, "example.de"},
    {"\"=?utf-8?Q?a,b?=\" <x@example.de>", ADDR_OK, "example.de"},
    {"=?utf-8?q?a?= =?utf-8?q?b?= <x@example.de>", ADDR_OK, "example.de"},
    {"Jörg <jörg@bücher.example>", ADDR_OK, "xn--bcher-kva.example"},
    {"V <v@ｖerified.test>", ADDR_NOT_IDNA, IDNA_WHY},
    {"v@verified.test, w@verified。test", ADDR_NOT_IDNA, IDNA_WHY},
    {"w@verified。test (comment)", ADDR_NOT_IDNA, IDNA_WHY},
    {"V <v@bücher.example", ADDR_SYNTAX, "missing '>' after address"},
    {"John\r\n Doe\r\n\t<john@example.com>", ADDR_OK, "example.com"},
    {"John\n Doe <john@example.com>", ADDR_OK, "example.com"},
    {"  john@example.com  ", ADDR_OK, "example.com"},
    {"john . doe @ example . com", ADDR_OK, "example.com"},
    {"\"john doe\"@example.com", ADDR_OK, "example.com"},
    {"john..doe@example.com", ADDR_OK, "example.com"},
    {"john@example.com.", ADDR_OK, "example.com"},
    {"<@relay.example,@other.example:john@example.com>", ADDR_OK, "example.com"},
    {"Name <@[192.0.2.1]:john@example.com>", ADDR_OK, "example.com"},
    /* several addresses */
    {"a@one.example, b@two.example", ADDR_OK, "one.example two.example"},
    {"A <a@one.example>, B <b@two.example>, c@ONE.example", ADDR_OK, "one.example two.example"},
    {"a@one.example,,b@two.example,", ADDR_OK, "one.example two.example"},
    {", a@one.example", ADDR_OK, "one.example"},
    /* groups */
    {"team: a@one.example, b@two.example;", ADDR_OK, "one.example two.example"},
    {"team: A <a@one.example>;, c@three.example", ADDR_OK, "one.example three.example"},
    {"\"the team\": a@one.example", ADDR_OK, "one.example"},
    {"Undisclosed recipients: ;", ADDR_EMPTY, "no address in From:"},
    {"Undisclosed:;", ADDR_EMPTY, "no address in From:"},
    {"", ADDR_EMPTY, "no address in From:"},
    {"   (just a comment)  ", ADDR_EMPTY, "no address in From:"},
    {",,,", ADDR_EMPTY, "no address in From:"},
    {"a: b: c@x.example;;", ADDR_SYNTAX, "group inside a group"},
    {"a. b: c@x.example;", ADDR_OK, "x.example"},
    {"a@b: c@x.example;", ADDR_SYNTAX, "unexpected character in group name"},
    /* no domain, literals, bad domains */
    {"MAILER-DAEMON", ADDR_NO_DOMAIN, "address has no domain"},
    {"John <john>", ADDR_NO_DOMAIN, "address has no domain"},
    {"Doe, John <john@example.com>", ADDR_NO_DOMAIN, "address has no domain"},
    {"john@", ADDR_NO_DOMAIN, "address has no domain"},
    {"john@[192.0.2.1]", ADDR_IP_LITERAL, "address literal, not a domain"},
    {"J <john@[IPv6:2001:db8::1]>", ADDR_IP_LITERAL, "address literal, not a domain"},
    {"john@192.0.2.1", ADDR_BAD_DOMAIN, "IP address, not a domain"},
    {"john@localhost", ADDR_BAD_DOMAIN, "domain has a single label"},
    {"john@ex!ample.com", ADDR_BAD_DOMAIN, "invalid character in domain"},
    {"john@=?utf-8?q?x?=.example", ADDR_BAD_DOMAIN, "invalid character in domain"},
    /* syntax errors */
    {"john@exa mple.com", ADDR_SYNTAX, "unexpected text after domain"},
    {"a@one.example b@two.example", ADDR_SYNTAX, "unexpected text after domain"},
    {"<a@one.example> <b@two.example>", ADDR_SYNTAX, "expected ',' between addresses"},
    {"John <john@example.com", ADDR_SYNTAX, "missing '>' after address"},
    {"John <>", ADDR_SYNTAX, "empty address <>"},
    {"<>", ADDR_SYNTAX, "empty address <>"},
    {"John john@example.com>", ADDR_SYNTAX, "unexpected word in address"},
    {"\"unterminated <john@example.com>", ADDR_SYNTAX, "unterminated quoted string"},
    {"John (unbalanced <john@example.com>", ADDR_SYNTAX, "unbalanced parenthesis in comment"},
    {"John ((deep) <john@example.com>", ADDR_SYNTAX, "unbalanced parenthesis in comment"},
    {"John) <john@example.com>", ADDR_SYNTAX, "unbalanced ')'"},
    {"john@[192.0.2.1", ADDR_SYNTAX, "unterminated domain literal"},
    {"john@[1[2]", ADDR_SYNTAX, "'[' inside a domain literal"},
    {"Jo\\hn <john@example.com>", ADDR_SYNTAX, "backslash outside a quoted string"},
    {"John\x01 <john@example.com>", ADDR_SYNTAX, "control character in header"},
    {"John <john@example.com> trailing", ADDR_SYNTAX, "expected ',' between addresses"},
    {"John <<john@example.com>>", ADDR_SYNTAX, "unexpected character in address"},
    {"[x] <john@example.com>", ADDR_SYNTAX, "unexpected character in display name"},
    {"@example.com", ADDR_SYNTAX, "empty local part"},
    {"<john@example.com", ADDR_SYNTAX, "missing '>' after address"},
    {"john@example.com>", ADDR_SYNTAX, "expected ',' between addresses"},
    {"=?utf-8?q?<a@evil.example>?= <b@good.example>", ADDR_SYNTAX,
     "expected ',' between addresses"},
    {"Name <@relay.example john@example.com>", ADDR_SYNTAX, "unexpected text after domain"},
    {"Name <@relay.example;john@example.com>", ADDR_SYNTAX, "bad source route"},
};

/* join - domains of a list, space-separated */
static const char *join(const addr_list *l, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (size_t i = 0; i < l->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? " " : "", l->domain[i]);
	return buf;
}

/* printable - escape a test input for the TAP description */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = 0;
	return buf;
}

/* status names (logs, tests) as literals: the code under test maps none of the expectations */
static const char *const status_names[] = {[ADDR_OK] = "ok",
                                           [ADDR_NULL] = "null",
                                           [ADDR_EMPTY] = "empty",
                                           [ADDR_NO_DOMAIN] = "no_domain",
                                           [ADDR_IP_LITERAL] = "ip_literal",
                                           [ADDR_BAD_DOMAIN] = "bad_domain",
                                           [ADDR_TOO_MANY] = "too_many",
                                           [ADDR_SYNTAX] = "syntax"};

/* is_status - the enum compared, both shown by their literal names */
#define is_status(got, want, ...)                                                                  \
	do {                                                                                       \
		addr_status g_ = (got), w_ = (want);                                               \
		if (!ok(g_ == w_, __VA_ARGS__))                                                    \
			printf("#   got:      %s\n#   expected: %s\n", status_names[g_],           \
			       status_names[w_]);                                                  \
	} while (0)

/* test_names - addr_status_name for every status */
static void test_names(void)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		is_str(addr_status_name((addr_status)i), status_names[i], "status %zu named %s", i,
		       status_names[i]);
}

/* test_tables - every row of both tables */
static void test_tables(void)
{
	char dom[SV_DOMAIN_MAX + 1], got[2048], desc[300];
	addr_list list;
	const char *why;
	addr_status st;

	for (size_t i = 0; i < sizeof(envelope) / sizeof(envelope[0]); i++) {
		const tcase *t = &envelope[i];
		st = addr_envelope(t->in, dom, &why, NULL);
		printable(t->in, desc, sizeof(desc));
		is_status(st, t->st, "envelope %s: status", desc);
		is_str(st == ADDR_OK ? dom : why, t->want, "envelope %s: %s", desc,
		       st == ADDR_OK ? "domain" : "reason");
	}
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		const tcase *t = &from[i];
		st = addr_from(t->in, strlen(t->in), &list, &why, NULL);
		printable(t->in, desc, sizeof(desc));
		is_status(st, t->st, "From: %s: status", desc);
		is_str(st == ADDR_OK ? join(&list, got, sizeof(got)) : why, t->want, "From: %s: %s",
		       desc, st == ADDR_OK ? "domains" : "reason");
	}
}

/* test_hostile - limits, NUL bytes, caps, deep nesting, no overreads */
static void test_hostile(void)
{
	addr_list list;
	const char *why;
	size_t where, n;
	char dom[SV_DOMAIN_MAX + 1], *big, *p;
	static const char with_nul[] = "John <john@exa\0mple.com>";

	is_int(addr_from(with_nul, sizeof(with_nul) - 1, &list, &why, &where), ADDR_SYNTAX,
	       "NUL byte in From: refused");
	is_str(why, "NUL byte in header", "NUL reason");
	is_int(where, 14, "NUL offset reported");

	/* exactly-sized buffer without a terminating NUL: no overread (ASan checks) */
	if ((p = malloc(18)) == NULL)
		exit(1);
	memcpy(p, "\"unterminated (x\\", 17);
	is_int(addr_from(p, 17, &list, &why, NULL), ADDR_SYNTAX, "unterminated at buffer end");
	memcpy(p, "a@b.example (((\\", 16);
	is_int(addr_from(p, 16, &list, &why, NULL), ADDR_SYNTAX,
	       "backslash at the very end of a comment");
	memcpy(p, "a@example.com", 13);
	is_int(addr_from(p, 13, &list, &why, NULL), ADDR_OK,
	       "unterminated buffer parsed by length");
	free(p);

	if ((big = malloc(ADDR_MAX_INPUT + 2)) == NULL)
		exit(1);
	memset(big, 'a', ADDR_MAX_INPUT + 1);
	big[ADDR_MAX_INPUT + 1] = 0;
	is_int(addr_from(big, ADDR_MAX_INPUT + 1, &list, &why, NULL), ADDR_SYNTAX,
	       "over-long From: refused");
	is_int(addr_envelope(big, dom, &why, NULL), ADDR_SYNTAX, "over-long MAIL FROM refused");
	is_str(why, "address too long", "over-long MAIL FROM reason");

	/* 30000 nested comments: iterative, no stack growth */
	n = 30000;
	memset(big, '(', n);
	memset(big + n, ')', n);
	memcpy(big + 2 * n, "a@example.com", 13);
	is_int(addr_from(big, 2 * n + 13, &list, &why, NULL), ADDR_OK, "deeply nested comment");
	is_int(addr_from(big, 2 * n - 1, &list, &why, NULL), ADDR_SYNTAX,
	       "deeply nested comment, one ')' short");

	/* 33 distinct domains: capped */
	p = big;
	for (int i = 0; i < 33; i++)
		p += sprintf(p, "%su@d%d.example", i ? ", " : "", i);
	is_int(addr_from(big, strlen(big), &list, &why, NULL), ADDR_TOO_MANY,
	       "33 distinct domains refused");
	/* 1000 addresses in 2 domains: fine */
	p = big;
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, "%su%d@d%d.example", i ? ", " : "", i, i % 2);
	is_int(addr_from(big, strlen(big), &list, &why, NULL), ADDR_OK, "1000 addresses");
	is_int(list.n, 2, "... 2 distinct domains");
	is_int(list.mailboxes, 1000, "... 1000 mailboxes counted");

	/* a long domain label run */
	p = big;
	p += sprintf(p, "u@");
	memset(p, 'a', 3000);
	p[3000] = 0;
	strcat(big, ".example");
	is_int(addr_from(big, strlen(big), &list, &why, NULL), ADDR_BAD_DOMAIN, "huge domain");
	is_int(addr_envelope(big, dom, &why, NULL), ADDR_BAD_DOMAIN, "huge envelope domain");
	is_str(dom, "", "domain cleared on error");
	free(big);

	is_int(addr_envelope(NULL, dom, &why, NULL), ADDR_SYNTAX, "NULL envelope");
	is_int(addr_from(NULL, 0, &list, &why, NULL), ADDR_EMPTY, "NULL From:");
}

int main(void)
{
	test_names();
	test_tables();
	test_hostile();
	return tap_done();
}

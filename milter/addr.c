/*
 * NAME
 *	addr 3 - sender domains from MAIL FROM and From:
 * SYNOPSIS
 *	#include "addr.h"
 *
 *	addr_status addr_envelope(arg, domain, &why, &where);
 *	addr_status addr_from(value, len, &list, &why, &where);
 * DESCRIPTION
 *	The envelope parser follows RFC 5321 (Reverse-path, A-d-l source
 *	routes, Dot-string and Quoted-string local parts, address literals),
 *	with RFC 6531 UTF-8 in local parts and domains.  The From: parser
 *	is a tokenizer (atoms, quoted strings, nested comments, domain
 *	literals, specials; white space and comments dropped) under a small
 *	recursive-descent parser for RFC 5322 address-list, lenient where
 *	mail really is: obs-phrase ('.' in display names), '@' in unquoted
 *	display names, empty list elements, a group without its final ';',
 *	obs-route inside angle brackets, CFWS around dots.  An RFC 2047
 *	encoded-word is one atom of the display name (it may hold '.'); it
 *	is never decoded, and one holding other specials is not treated as
 *	an encoded-word, so it cannot hide an address from this parser.
 *
 *	Neither parser allocates memory or recurses on input depth; both
 *	read only within the given length.  What to do with a status is the
 *	policy's business, not this module's.
 */
#include "config.h"

#include <string.h>

#include "addr.h"

/* addr_status_name - stable names for logs and tests */
const char *addr_status_name(addr_status st)
{
	switch (st) {
	case ADDR_OK:
		return "ok";
	case ADDR_NULL:
		return "null";
	case ADDR_EMPTY:
		return "empty";
	case ADDR_NO_DOMAIN:
		return "no_domain";
	case ADDR_IP_LITERAL:
		return "ip_literal";
	case ADDR_BAD_DOMAIN:
		return "bad_domain";
	case ADDR_TOO_MANY:
		return "too_many";
	case ADDR_SYNTAX:
		return "syntax";
	case ADDR_NOT_IDNA:
		return "not_idna";
	}
	return "?";
}

/* is_atext - RFC 5322 atext, plus UTF-8 octets (RFC 6532) */
static int is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_ctl - control octets that are never welcome outside quotes */
static int is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

/* refused - the status of a domain sv_domain_normalize refused: a non-ASCII
 * one is not in a form SES can verify (no exact IDNA2008 A-label) */
static addr_status refused(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return ADDR_NOT_IDNA;
	return ADDR_BAD_DOMAIN;
}

/* normalize_into - sv_domain_normalize on a (ptr,len) span */
static addr_status normalize_into(const char *s, size_t n, char out[SV_DOMAIN_MAX + 1],
                                  const char **why)
{
	char tmp[SV_DOMAIN_MAX + 1 + 512];

	if (n >= sizeof(tmp)) {
		*why = "domain longer than 253 octets";
		return ADDR_BAD_DOMAIN;
	}
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return sv_domain_normalize(tmp, out, why) == 0 ? ADDR_OK : refused(s, n);
}

/* ------------------------------------------------------------------ */
/* Envelope (RFC 5321)                                                 */
/* ------------------------------------------------------------------ */

typedef struct env {
	const char *s;
	size_t len, p;
	const char *why;
} env;

/* env_fail - record the reason, return the status */
static addr_status env_fail(env *e, addr_status st, const char *why)
{
	e->why = why;
	return st;
}

/* env_route_domain - one "@domain" of a source route (syntax only) */
static int env_route_domain(env *e)
{
	size_t start;

	if (e->p >= e->len || e->s[e->p] != '@')
		return -1;
	start = ++e->p;
	if (e->p < e->len && e->s[e->p] == '[') {
		while (e->p < e->len && e->s[e->p] != ']')
			e->p++;
		if (e->p >= e->len)
			return -1;
		e->p++;
		return 0;
	}
	while (e->p < e->len) {
		unsigned char c = (unsigned char)e->s[e->p];
		if (!(c >= 0x80 || c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			break;
		e->p++;
	}
	return e->p > start ? 0 : -1;
}

/* env_local - Dot-string or Quoted-string; 0 or -1 with why */
static int env_local(env *e)
{
	size_t start = e->p;

	if (e->p < e->len && e->s[e->p] == '"') {
		for (e->p++; e->p < e->len && e->s[e->p] != '"'; e->p++) {
			unsigned char c = (unsigned char)e->s[e->p];
			if (c == '\\') {
				if (++e->p >= e->len)
					break;
				c = (unsigned char)e->s[e->p];
			}
			if (c < 0x20 || c == 0x7f) {
				e->why = "control character in quoted local part";
				return -1;
			}
		}
		if (e->p >= e->len) {
			e->why = "unterminated quoted local part";
			return -1;
		}
		e->p++;
		return 0;
	}
	while (e->p < e->len && (is_atext((unsigned char)e->s[e->p]) || e->s[e->p] == '.'))
		e->p++;
	if (e->p == start) {
		e->why = "empty local part";
		return -1;
	}
	return 0;
}

/* env_parse - the body of addr_envelope */
static addr_status env_parse(env *e, char domain[SV_DOMAIN_MAX + 1])
{
	int bracket = 0;
	size_t start;
	addr_status st;

	while (e->p < e->len && (e->s[e->p] == ' ' || e->s[e->p] == '\t'))
		e->p++;
	if (e->p >= e->len)
		return env_fail(e, ADDR_SYNTAX, "empty address");
	if (e->s[e->p] == '<') {
		bracket = 1;
		e->p++;
		if (e->p < e->len && e->s[e->p] == '>') {
			e->p++;
			bracket = 0; /* '>' already taken */
			st = ADDR_NULL;
			e->why = "null sender";
			goto tail;
		}
		if (e->p < e->len && e->s[e->p] == '@') {
			for (;;) {
				if (env_route_domain(e) < 0)
					return env_fail(e, ADDR_SYNTAX, "bad source route");
				if (e->p < e->len && e->s[e->p] == ',') {
					e->p++;
					continue;
				}
				if (e->p < e->len && e->s[e->p] == ':') {
					e->p++;
					break;
				}
				return env_fail(e, ADDR_SYNTAX, "bad source route");
			}
		}
	}
	if (env_local(e) < 0)
		return ADDR_SYNTAX;
	if (e->p >= e->len || (bracket && e->s[e->p] == '>') ||
	    (!bracket && (e->s[e->p] == ' ' || e->s[e->p] == '\t')))
		return env_fail(e, ADDR_NO_DOMAIN, "address has no domain");
	if (e->s[e->p] != '@')
		return env_fail(e, ADDR_SYNTAX, "invalid character in local part");
	start = ++e->p;
	if (e->p < e->len && e->s[e->p] == '[') {
		while (e->p < e->len && e->s[e->p] != ']' && (unsigned char)e->s[e->p] > 0x20)
			e->p++;
		if (e->p >= e->len || e->s[e->p] != ']')
			return env_fail(e, ADDR_SYNTAX, "unterminated address literal");
		e->p++;
		st = ADDR_IP_LITERAL;
		e->why = "address literal, not a domain";
	} else {
		while (e->p < e->len && e->s[e->p] != '>' && (unsigned char)e->s[e->p] > 0x20 &&
		       e->s[e->p] != 0x7f)
			e->p++;
		if (e->p == start)
			return env_fail(e, ADDR_NO_DOMAIN, "address has no domain");
		st = normalize_into(e->s + start, e->p - start, domain, &e->why);
		if (st != ADDR_OK) {
			e->p = start;
			return st;
		}
	}
tail:
	if (bracket) {
		if (e->p >= e->len || e->s[e->p] != '>')
			return env_fail(e, ADDR_SYNTAX, "missing '>' after address");
		e->p++;
	}
	/* ESMTP parameters may follow after a blank; they are not ours. */
	if (e->p < e->len && e->s[e->p] != ' ' && e->s[e->p] != '\t')
		return env_fail(e, ADDR_SYNTAX, "text after address");
	return st;
}

/* addr_envelope - see addr.h */
addr_status addr_envelope(const char *arg, char domain[SV_DOMAIN_MAX + 1], const char **why,
                          size_t *where)
{
	env e = {.s = arg, .why = NULL};
	addr_status st;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	domain[0] = 0;
	if (arg == NULL) {
		*why = "no address";
		return ADDR_SYNTAX;
	}
	e.len = strnlen(arg, ADDR_MAX_INPUT + 1);
	if (e.len > ADDR_MAX_INPUT) {
		*why = "address too long";
		return ADDR_SYNTAX;
	}
	st = env_parse(&e, domain);
	if (st != ADDR_OK)
		domain[0] = 0;
	*why = st == ADDR_OK ? NULL : e.why;
	if (where)
		*where = e.p;
	return st;
}

/* ------------------------------------------------------------------ */
/* From: (RFC 5322 address-list)                                       */
/* ------------------------------------------------------------------ */

typedef enum { TK_END, TK_ATOM, TK_QSTR, TK_DLIT, TK_SPECIAL, TK_ERROR } tk_type;

typedef struct token {
	tk_type type;
	const char *p; /* TK_ATOM: the atom */
	size_t n;
	char c; /* TK_SPECIAL */
} token;

typedef struct lexer {
	const char *s;
	size_t len, p;
	const char *why;
	addr_status st;
	addr_list *out;
} lexer;

/* lex_fail - record a syntax error */
static int lex_fail(lexer *lx, addr_status st, const char *why)
{
	if (lx->why == NULL) {
		lx->why = why;
		lx->st = st;
	}
	return -1;
}

/* skip_comment - from '(' to its matching ')', quoted-pairs honoured */
static int skip_comment(lexer *lx)
{
	size_t depth = 0;

	for (; lx->p < lx->len; lx->p++) {
		char c = lx->s[lx->p];
		if (c == '\\') {
			if (++lx->p >= lx->len)
				break;
		} else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0) {
			lx->p++;
			return 0;
		}
	}
	return lex_fail(lx, ADDR_SYNTAX, "unbalanced parenthesis in comment");
}

/* skip_cfws - white space, folding and comments */
static int skip_cfws(lexer *lx)
{
	while (lx->p < lx->len) {
		char c = lx->s[lx->p];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			lx->p++;
		else if (c == '(') {
			if (skip_comment(lx) < 0)
				return -1;
		} else
			break;
	}
	return 0;
}

/* encoded_word_len - length of an RFC 2047 "=?cs?X?text?=" at p, or 0 */
static size_t encoded_word_len(const char *s, size_t len)
{
	size_t i = 2, q = 0;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	for (; i < len && i < 76; i++) {
		unsigned char c = (unsigned char)s[i];
		/* Specials other than '.' end the word: an encoded-word must
		 * never hide an address from us that another parser would see. */
		if (c <= 0x20 || c >= 0x7f || strchr("()<>[]:;@\\,\"", c))
			return 0;
		if (c == '?') {
			if (++q == 3)
				return i + 1 < len && s[i + 1] == '=' ? i + 2 : 0;
			if (q == 2 && s[i - 2] != '?')
				return 0; /* the encoding is one letter */
		}
	}
	return 0;
}

/* scan_delimited - quoted string or domain literal up to close */
static int scan_delimited(lexer *lx, char close, const char *unterminated)
{
	for (lx->p++; lx->p < lx->len; lx->p++) {
		char c = lx->s[lx->p];
		if (c == '\\') {
			if (++lx->p >= lx->len)
				break;
		} else if (c == close) {
			lx->p++;
			return 0;
		} else if (close == ']' && c == '[')
			return lex_fail(lx, ADDR_SYNTAX, "'[' inside a domain literal");
	}
	return lex_fail(lx, ADDR_SYNTAX, unterminated);
}

/* next_token - the next token after CFWS */
static token next_token(lexer *lx)
{
	token t = {TK_ERROR, NULL, 0, 0};
	size_t start, ew;
	unsigned char c;

	if (skip_cfws(lx) < 0)
		return t;
	if (lx->p >= lx->len) {
		t.type = TK_END;
		return t;
	}
	start = lx->p;
	c = (unsigned char)lx->s[lx->p];
	if (c == '"' || c == '[') {
		if (scan_delimited(lx, c == '"' ? '"' : ']',
		                   c == '"' ? "unterminated quoted string"
		                            : "unterminated domain literal") < 0)
			return t;
		t.type = c == '"' ? TK_QSTR : TK_DLIT;
		t.p = lx->s + start;
		t.n = lx->p - start;
		return t;
	}
	if ((ew = encoded_word_len(lx->s + lx->p, lx->len - lx->p)) > 0) {
		lx->p += ew;
		t.type = TK_ATOM;
		t.p = lx->s + start;
		t.n = ew;
		return t;
	}
	if (is_atext(c)) {
		while (lx->p < lx->len && is_atext((unsigned char)lx->s[lx->p]))
			lx->p++;
		t.type = TK_ATOM;
		t.p = lx->s + start;
		t.n = lx->p - start;
		return t;
	}
	if (c != 0 && strchr("<>:;@,.]", c)) {
		lx->p++;
		t.type = TK_SPECIAL;
		t.c = (char)c;
		return t;
	}
	if (c == ')')
		lex_fail(lx, ADDR_SYNTAX, "unbalanced ')'");
	else if (c == '\\')
		lex_fail(lx, ADDR_SYNTAX, "backslash outside a quoted string");
	else if (is_ctl(c) || c == 0)
		lex_fail(lx, ADDR_SYNTAX, "control character in header");
	else
		lex_fail(lx, ADDR_SYNTAX, "unexpected character");
	return t;
}

/* peek_token - next token without consuming it */
static token peek_token(lexer *lx)
{
	size_t save = lx->p;
	token t = next_token(lx);

	if (t.type != TK_ERROR)
		lx->p = save;
	return t;
}

/* is_special - token is the special character c */
static int is_special(token t, char c)
{
	return t.type == TK_SPECIAL && t.c == c;
}

/* ends_element - ',' ';' or the end */
static int ends_element(token t)
{
	return t.type == TK_END || is_special(t, ',') || is_special(t, ';');
}

/* add_domain - append unless present */
static int add_domain(lexer *lx, const char *d)
{
	addr_list *o = lx->out;

	o->mailboxes++;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->domain[i], d) == 0)
			return 0;
	if (o->n == ADDR_MAX_DOMAINS)
		return lex_fail(lx, ADDR_TOO_MANY, "too many sender domains");
	memcpy(o->domain[o->n++], d, strlen(d) + 1);
	return 0;
}

/* parse_domain - dot-atom or obs-domain (CFWS around dots); skip: route */
static int parse_domain(lexer *lx, int skip)
{
	char text[SV_DOMAIN_MAX + 1 + 512], out[SV_DOMAIN_MAX + 1];
	size_t n = 0;
	token t = next_token(lx);
	size_t at = lx->p;

	if (t.type == TK_ERROR)
		return -1;
	if (t.type == TK_DLIT)
		return skip ? 0 : lex_fail(lx, ADDR_IP_LITERAL, "address literal, not a domain");
	if (t.type != TK_ATOM)
		return lex_fail(lx, ADDR_NO_DOMAIN, "address has no domain");
	for (;;) {
		if (n + t.n + 1 >= sizeof(text))
			return lex_fail(lx, ADDR_BAD_DOMAIN, "domain longer than 253 octets");
		memcpy(text + n, t.p, t.n);
		n += t.n;
		t = peek_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (!is_special(t, '.'))
			break;
		next_token(lx);
		text[n++] = '.';
		t = peek_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (t.type != TK_ATOM)
			break; /* a trailing dot: sv_domain_normalize decides */
		next_token(lx);
	}
	if (t.type == TK_ATOM || t.type == TK_QSTR || t.type == TK_DLIT)
		return lex_fail(lx, ADDR_SYNTAX, "unexpected text after domain");
	if (skip)
		return 0;
	text[n] = 0;
	if (sv_domain_normalize(text, out, &lx->why) < 0) {
		lx->st = refused(text, n);
		lx->p = at;
		return -1;
	}
	return add_domain(lx, out);
}

/* parse_addr_spec - local-part "@" domain */
static int parse_addr_spec(lexer *lx)
{
	token t;
	int words = 0, dot_ok = 1;

	for (;;) {
		t = peek_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (t.type == TK_ATOM || t.type == TK_QSTR) {
			if (!dot_ok)
				return lex_fail(lx, ADDR_SYNTAX, "unexpected word in address");
			words++;
			dot_ok = 0;
		} else if (is_special(t, '.'))
			dot_ok = 1; /* obs-local-part: empty words tolerated */
		else
			break;
		next_token(lx);
	}
	if (!is_special(t, '@')) {
		if (words == 0 && !ends_element(t) && !is_special(t, '>'))
			return lex_fail(lx, ADDR_SYNTAX, "unexpected character in address");
		return lex_fail(lx, ADDR_NO_DOMAIN, "address has no domain");
	}
	if (words == 0)
		return lex_fail(lx, ADDR_SYNTAX, "empty local part");
	next_token(lx);
	return parse_domain(lx, 0);
}

/* parse_angle - "<" [obs-route] addr-spec ">" (the '<' is consumed) */
static int parse_angle(lexer *lx)
{
	token t = peek_token(lx);

	if (t.type == TK_ERROR)
		return -1;
	if (is_special(t, '>'))
		return lex_fail(lx, ADDR_SYNTAX, "empty address <>");
	if (is_special(t, '@') || is_special(t, ',')) {
		/* obs-route: *("," / CFWS) "@" domain *("," ["@" domain]) ":" */
		for (;;) {
			t = next_token(lx);
			if (is_special(t, ','))
				continue;
			if (is_special(t, ':'))
				break;
			if (!is_special(t, '@'))
				return t.type == TK_ERROR
				           ? -1
				           : lex_fail(lx, ADDR_SYNTAX, "bad source route");
			if (parse_domain(lx, 1) < 0)
				return -1;
		}
	}
	if (parse_addr_spec(lx) < 0)
		return -1;
	t = next_token(lx);
	if (t.type == TK_ERROR)
		return -1;
	if (!is_special(t, '>'))
		return lex_fail(lx, ADDR_SYNTAX, "missing '>' after address");
	return 0;
}

/* classify - what the next element is: '<' name-addr, ':' group, 0 addr-spec */
static int classify(lexer *lx, char *kind)
{
	size_t save = lx->p;
	token t;

	*kind = 0;
	for (;;) {
		t = next_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (ends_element(t))
			break;
		if (is_special(t, '<') || is_special(t, ':')) {
			*kind = t.c;
			break;
		}
	}
	lx->p = save;
	return 0;
}

/* parse_phrase - display name up to stop ('<' or ':'), consumed */
static int parse_phrase(lexer *lx, char stop)
{
	token t;

	for (;;) {
		t = next_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (is_special(t, stop))
			return 0;
		/* obs-phrase allows '.'; '@' in unquoted names is common */
		if (t.type == TK_ATOM || t.type == TK_QSTR || is_special(t, '.') ||
		    (stop == '<' && is_special(t, '@')))
			continue;
		return lex_fail(lx, ADDR_SYNTAX,
		                stop == '<' ? "unexpected character in display name"
		                            : "unexpected character in group name");
	}
}

/* parse_mailbox - name-addr or addr-spec; groups refused */
static int parse_mailbox(lexer *lx)
{
	char kind;

	if (classify(lx, &kind) < 0)
		return -1;
	if (kind == ':')
		return lex_fail(lx, ADDR_SYNTAX, "group inside a group");
	if (kind == '<')
		return parse_phrase(lx, '<') < 0 ? -1 : parse_angle(lx);
	return parse_addr_spec(lx);
}

/* parse_group - display-name ":" [mailbox-list] ";" (';' may be missing) */
static int parse_group(lexer *lx)
{
	token t;

	if (parse_phrase(lx, ':') < 0)
		return -1;
	for (;;) {
		t = peek_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (t.type == TK_END)
			return 0;
		if (is_special(t, ';')) {
			next_token(lx);
			return 0;
		}
		if (is_special(t, ',')) {
			next_token(lx);
			continue;
		}
		if (parse_mailbox(lx) < 0)
			return -1;
		t = peek_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (!ends_element(t))
			return lex_fail(lx, ADDR_SYNTAX, "expected ',' between addresses");
	}
}

/* parse_list - address-list with empty elements tolerated */
static int parse_list(lexer *lx)
{
	token t;
	char kind;

	for (;;) {
		t = peek_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (t.type == TK_END)
			return 0;
		if (is_special(t, ',')) {
			next_token(lx);
			continue;
		}
		if (classify(lx, &kind) < 0)
			return -1;
		if ((kind == ':' ? parse_group(lx) : parse_mailbox(lx)) < 0)
			return -1;
		t = peek_token(lx);
		if (t.type == TK_ERROR)
			return -1;
		if (t.type != TK_END && !is_special(t, ','))
			return lex_fail(lx, ADDR_SYNTAX, "expected ',' between addresses");
	}
}

/* addr_from - see addr.h */
addr_status addr_from(const char *value, size_t len, addr_list *out, const char **why,
                      size_t *where)
{
	lexer lx = {.s = value, .len = len, .out = out};
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (where)
		*where = 0;
	if (value == NULL) {
		*why = "no From: header";
		return ADDR_EMPTY;
	}
	if (len > ADDR_MAX_INPUT) {
		*why = "header too long";
		return ADDR_SYNTAX;
	}
	if (memchr(value, 0, len) != NULL) {
		*why = "NUL byte in header";
		if (where)
			*where = (size_t)((const char *)memchr(value, 0, len) - value);
		return ADDR_SYNTAX;
	}
	if (parse_list(&lx) < 0) {
		out->n = 0;
		*why = lx.why ? lx.why : "syntax error";
		if (where)
			*where = lx.p;
		return lx.why ? lx.st : ADDR_SYNTAX;
	}
	if (where)
		*where = lx.p;
	if (out->mailboxes == 0) {
		*why = "no address in From:";
		return ADDR_EMPTY;
	}
	return ADDR_OK;
}

/*
 * json.c - strict JSON reader: jsmn tokens plus a grammar check.
 *	Owns the only inclusion of <jsmn.h> (JSMN_STATIC keeps its symbols
 *	private to this file) and all JSON string decoding.  Does not know
 *	what any document means: sesapi.c, the snapshot loader and the CLI
 *	walk the tokens with the getters declared in json.h.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jsmn.h>

#include "buf.h"
#include "compat.h"
#include "json.h"
#include "sesverify.h"

struct sv_json {
	const char *text; /* borrowed: must outlive the document */
	size_t len;
	jsmntok_t *tok;
	int n;
};

static int fail(char *err, size_t errlen, const char *fmt, ...) SV_PRINTF(3, 4);

/* fail - format a parse error into err; always -1 */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* is_ws - JSON insignificant whitespace */
static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* hexval - one hex digit, or -1 */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* hex4 - four hex digits at p (caller checked the length) */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* put_utf8 - encode a scalar value; out may be NULL (length only) */
static size_t put_utf8(unsigned long cp, char *out)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (out)
		memcpy(out, b, n);
	return n;
}

/* unescape_u - decode \uXXXX (and a following low surrogate) at in[i] == 'u' */
static int unescape_u(const char *in, size_t len, size_t *i, unsigned long *cp)
{
	long hi, lo;

	if (*i + 5 > len || (hi = hex4(in + *i + 1)) < 0)
		return -1;
	*i += 5;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return -1; /* low surrogate without a high one */
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (*i + 6 > len || in[*i] != '\\' || in[*i + 1] != 'u')
			return -1; /* lone high surrogate */
		if ((lo = hex4(in + *i + 2)) < 0xdc00 || lo > 0xdfff)
			return -1;
		*i += 6;
		*cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
		return 0;
	}
	if (hi == 0)
		return -1; /* an embedded NUL would truncate every C consumer */
	*cp = (unsigned long)hi;
	return 0;
}

/* decode - unescape or (out == NULL) just validate a string body */
static int decode(const char *in, size_t len, char *out, size_t *outlen)
{
	size_t i = 0, o = 0, n;
	unsigned long cp;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20)
			return -1; /* raw control character: jsmn lets it through */
		if (c >= 0x80) {
			if ((n = sv_utf8_seq((const unsigned char *)in + i, len - i)) == 0)
				return -1;
			if (out)
				memcpy(out + o, in + i, n);
			i += n;
			o += n;
			continue;
		}
		if (c != '\\') {
			if (out)
				out[o] = (char)c;
			i++;
			o++;
			continue;
		}
		if (++i >= len)
			return -1;
		switch (in[i]) {
		case '"':
			cp = '"';
			break;
		case '\\':
			cp = '\\';
			break;
		case '/':
			cp = '/';
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (unescape_u(in, len, &i, &cp) < 0)
				return -1;
			o += put_utf8(cp, out ? out + o : NULL);
			continue;
		default:
			return -1;
		}
		if (out)
			out[o] = (char)cp;
		i++;
		o++;
	}
	if (out)
		out[o] = 0;
	if (outlen)
		*outlen = o;
	return 0;
}

/* sv_json_unescape - public form of decode */
int sv_json_unescape(const char *in, size_t len, char *out, size_t *outlen)
{
	return decode(in, len, out, outlen);
}

/* number_ok - RFC 8259 number grammar, exactly */
static int number_ok(const char *p, size_t len)
{
	size_t i = 0;

	if (i < len && p[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (p[i] == '0') {
		i++;
	} else if (p[i] >= '1' && p[i] <= '9') {
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
	} else {
		return 0;
	}
	if (i < len && p[i] == '.') {
		size_t d = ++i;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		size_t d;
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			i++;
		d = i;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	return i == len;
}

/* literal_is - token text equals a literal exactly (jsmn checks one byte) */
static int literal_is(const char *p, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(p, lit, len) == 0;
}

/* span_start, span_end - a token's extent in the text, quotes included */
static int span_start(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int span_end(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

/* gap_ok - text[from,to) is whitespace around exactly one sep (or none when sep is 0) */
static int gap_ok(const char *text, int from, int to, char sep)
{
	int p = from;

	while (p < to && is_ws(text[p]))
		p++;
	if (sep) {
		if (p >= to || text[p] != sep)
			return 0;
		p++;
		while (p < to && is_ws(text[p]))
			p++;
	}
	return p == to;
}

typedef struct vctx {
	const sv_json *doc;
	char *err;
	size_t errlen;
} vctx;

static int validate_value(vctx *v, int i, int depth);

/* validate_scalar - check a string or primitive token */
static int validate_scalar(vctx *v, int i)
{
	const jsmntok_t *t = &v->doc->tok[i];
	const char *p = v->doc->text + t->start;
	size_t len = (size_t)(t->end - t->start);

	if (t->type == JSMN_STRING) {
		if (decode(p, len, NULL, NULL) < 0)
			return fail(v->err, v->errlen,
			            "bad string (escape, control character, surrogate or UTF-8) "
			            "at byte %d",
			            t->start);
		return i + 1;
	}
	if (literal_is(p, len, "true") || literal_is(p, len, "false") ||
	    literal_is(p, len, "null") || number_ok(p, len))
		return i + 1;
	return fail(v->err, v->errlen, "bad literal or number at byte %d", t->start);
}

/* validate_container - an object or array: children and every separator */
static int validate_container(vctx *v, int i, int depth)
{
	const jsmntok_t *tok = v->doc->tok, *c = &tok[i];
	const char *text = v->doc->text;
	int n = v->doc->n, j = i + 1, pos = c->start + 1, close = c->end - 1;
	int is_obj = c->type == JSMN_OBJECT, first = 1;

	if (depth > SV_JSON_MAX_DEPTH)
		return fail(v->err, v->errlen, "nesting deeper than %d at byte %d",
		            SV_JSON_MAX_DEPTH, c->start);
	if (close <= c->start || text[close] != (is_obj ? '}' : ']'))
		return fail(v->err, v->errlen, "unbalanced bracket at byte %d", c->start);
	while (j < n && tok[j].start < c->end) {
		if (!gap_ok(text, pos, span_start(&tok[j]), first ? 0 : ','))
			return fail(v->err, v->errlen, "missing or extra ',' before byte %d",
			            span_start(&tok[j]));
		first = 0;
		if (is_obj) {
			if (tok[j].type != JSMN_STRING)
				return fail(v->err, v->errlen,
				            "object key is not a string at byte %d", tok[j].start);
			if (validate_scalar(v, j) < 0)
				return -1;
			pos = span_end(&tok[j]);
			if (++j >= n || tok[j].start >= c->end)
				return fail(v->err, v->errlen, "key without value at byte %d", pos);
			if (!gap_ok(text, pos, span_start(&tok[j]), ':'))
				return fail(v->err, v->errlen, "expected ':' at byte %d", pos);
		}
		pos = span_end(&tok[j]);
		if ((j = validate_value(v, j, depth + 1)) < 0)
			return -1;
	}
	if (!gap_ok(text, pos, close, 0))
		return fail(v->err, v->errlen, "unexpected text before byte %d", close);
	return j;
}

/* validate_value - one value and its subtree; index of the next token */
static int validate_value(vctx *v, int i, int depth)
{
	const jsmntok_t *t = &v->doc->tok[i];

	if (t->type == JSMN_OBJECT || t->type == JSMN_ARRAY)
		return validate_container(v, i, depth);
	if (t->type == JSMN_STRING || t->type == JSMN_PRIMITIVE)
		return validate_scalar(v, i);
	return fail(v->err, v->errlen, "undefined token at byte %d", t->start);
}

/* tokenize - run jsmn, growing the token array (same parser state) on NOMEM */
static int tokenize(sv_json *doc, char *err, size_t errlen)
{
	jsmn_parser p;
	size_t cap = 64, most = doc->len + 2; /* a token needs at least one byte */
	jsmntok_t *t;
	int r;

	jsmn_init(&p);
	for (;;) {
		if (cap > most)
			cap = most;
		if ((t = realloc(doc->tok, cap * sizeof(*t))) == NULL)
			return fail(err, errlen, "out of memory");
		doc->tok = t;
		r = jsmn_parse(&p, doc->text, doc->len, doc->tok, (unsigned int)cap);
		if (r != JSMN_ERROR_NOMEM || cap >= most)
			break;
		cap *= 2;
	}
	if (r == JSMN_ERROR_PART)
		return fail(err, errlen, "truncated JSON (input ends inside a value at byte %zu)",
		            doc->len);
	if (r < 0)
		return fail(err, errlen, "invalid JSON near byte %u", p.pos);
	if (r == 0)
		return fail(err, errlen, "empty body");
	doc->n = r;
	return 0;
}

/* sv_json_parse - tokenize and validate one JSON object */
int sv_json_parse(const char *text, size_t len, size_t max_len, sv_json **out, char *err,
                  size_t errlen)
{
	sv_json *doc;
	vctx v;
	int r;

	*out = NULL;
	if (max_len == 0)
		max_len = SV_JSON_MAX_DEFAULT;
	if (len > max_len || len > INT_MAX / 2)
		return fail(err, errlen, "JSON too large (%zu bytes, limit %zu)", len, max_len);
	if ((doc = calloc(1, sizeof(*doc))) == NULL)
		return fail(err, errlen, "out of memory");
	doc->text = text;
	doc->len = len;
	if (tokenize(doc, err, errlen) < 0)
		goto bad;
	if (doc->tok[0].type != JSMN_OBJECT) {
		fail(err, errlen, "top-level value is not an object");
		goto bad;
	}
	if (!gap_ok(text, 0, doc->tok[0].start, 0)) {
		fail(err, errlen, "unexpected text before the object");
		goto bad;
	}
	v.doc = doc;
	v.err = err;
	v.errlen = errlen;
	if ((r = validate_value(&v, 0, 0)) < 0)
		goto bad;
	if (r != doc->n) { /* jsmn accepts {"a":1}{"b":2} */
		fail(err, errlen, "trailing data after the object at byte %d", doc->tok[0].end);
		goto bad;
	}
	if (!gap_ok(text, doc->tok[0].end, (int)len, 0)) {
		fail(err, errlen, "trailing data after the object at byte %d", doc->tok[0].end);
		goto bad;
	}
	*out = doc;
	return 0;
bad:
	sv_json_free(doc);
	return -1;
}

/* sv_json_free - release the tokens (not the text) */
void sv_json_free(sv_json *doc)
{
	if (doc == NULL)
		return;
	free(doc->tok);
	free(doc);
}

/* sv_json_count - number of tokens */
int sv_json_count(const sv_json *doc)
{
	return doc ? doc->n : 0;
}

/* valid - index in range */
static int valid(const sv_json *doc, int tok)
{
	return doc && tok >= 0 && tok < doc->n;
}

/* sv_json_type_of - map jsmn's four kinds onto JSON's six */
sv_json_type sv_json_type_of(const sv_json *doc, int tok)
{
	const jsmntok_t *t;

	if (!valid(doc, tok))
		return 0;
	t = &doc->tok[tok];
	switch (t->type) {
	case JSMN_OBJECT:
		return SV_JSON_OBJECT;
	case JSMN_ARRAY:
		return SV_JSON_ARRAY;
	case JSMN_STRING:
		return SV_JSON_STRING;
	case JSMN_PRIMITIVE:
		if (doc->text[t->start] == 't' || doc->text[t->start] == 'f')
			return SV_JSON_BOOL;
		if (doc->text[t->start] == 'n')
			return SV_JSON_NULL;
		return SV_JSON_NUMBER;
	default:
		return 0;
	}
}

/* sv_json_type_name - for error messages */
const char *sv_json_type_name(sv_json_type type)
{
	switch (type) {
	case SV_JSON_OBJECT:
		return "object";
	case SV_JSON_ARRAY:
		return "array";
	case SV_JSON_STRING:
		return "string";
	case SV_JSON_NUMBER:
		return "number";
	case SV_JSON_BOOL:
		return "boolean";
	case SV_JSON_NULL:
		return "null";
	}
	return "invalid";
}

/* skip - first token after the subtree rooted at tok (children lie inside its span) */
static int skip(const sv_json *doc, int tok)
{
	int end = doc->tok[tok].end, i = tok + 1;

	while (i < doc->n && doc->tok[i].start < end)
		i++;
	return i;
}

/* sv_json_next - iterate array elements or object keys */
int sv_json_next(const sv_json *doc, int container, int prev)
{
	const jsmntok_t *c;
	int i;

	if (!valid(doc, container))
		return -1;
	c = &doc->tok[container];
	if (c->type != JSMN_OBJECT && c->type != JSMN_ARRAY)
		return -1;
	if (prev < 0)
		i = container + 1;
	else if (!valid(doc, prev) || prev <= container)
		return -1;
	else if (c->type == JSMN_OBJECT)
		i = valid(doc, prev + 1) ? skip(doc, prev + 1) : doc->n;
	else
		i = skip(doc, prev);
	if (i >= doc->n || doc->tok[i].start >= c->end)
		return -1;
	return i;
}

/* sv_json_value - value token of a key token */
int sv_json_value(const sv_json *doc, int key)
{
	return valid(doc, key + 1) ? key + 1 : -1;
}

/* sv_json_size - counted by walking, as jsmn's size can be off for odd input */
int sv_json_size(const sv_json *doc, int tok)
{
	int n = 0;

	for (int i = sv_json_next(doc, tok, -1); i >= 0; i = sv_json_next(doc, tok, i))
		n++;
	return n;
}

/* sv_json_raw - token text as it appears in the input */
const char *sv_json_raw(const sv_json *doc, int tok, size_t *len)
{
	if (!valid(doc, tok))
		return NULL;
	*len = (size_t)(doc->tok[tok].end - doc->tok[tok].start);
	return doc->text + doc->tok[tok].start;
}

/* key_equals - compare a key token with a C string, decoding escapes if any */
static int key_equals(const sv_json *doc, int tok, const char *key)
{
	size_t len = 0, klen = strlen(key), dlen;
	const char *raw = sv_json_raw(doc, tok, &len);
	char *tmp;
	int eq;

	if (raw == NULL)
		return 0;
	if (memchr(raw, '\\', len) == NULL)
		return len == klen && memcmp(raw, key, len) == 0;
	if (len < klen || (tmp = malloc(len + 1)) == NULL)
		return 0;
	eq = decode(raw, len, tmp, &dlen) == 0 && dlen == klen && memcmp(tmp, key, klen) == 0;
	free(tmp);
	return eq;
}

/* sv_json_get - value of key in object obj; duplicates are reported, not resolved */
int sv_json_get(const sv_json *doc, int obj, const char *key)
{
	int found = SV_JSON_MISSING;

	if (sv_json_type_of(doc, obj) != SV_JSON_OBJECT)
		return SV_JSON_MISSING;
	for (int k = sv_json_next(doc, obj, -1); k >= 0; k = sv_json_next(doc, obj, k)) {
		if (!key_equals(doc, k, key))
			continue;
		if (found >= 0)
			return SV_JSON_DUPLICATE;
		found = sv_json_value(doc, k);
	}
	return found;
}

/* sv_json_get_string - decoded copy, at most max bytes (0: no limit) */
int sv_json_get_string(const sv_json *doc, int tok, size_t max, char **out)
{
	size_t len = 0, dlen = 0;
	const char *raw;
	char *s;

	*out = NULL;
	if (sv_json_type_of(doc, tok) != SV_JSON_STRING)
		return -1;
	raw = sv_json_raw(doc, tok, &len);
	if ((s = malloc(len + 1)) == NULL)
		return -1;
	if (decode(raw, len, s, &dlen) < 0 || (max && dlen > max)) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

/* sv_json_get_string_buf - decoded into buf; -1 when it does not fit */
int sv_json_get_string_buf(const sv_json *doc, int tok, char *buf, size_t size)
{
	char *s;
	size_t len = 0;

	if (size == 0 || sv_json_get_string(doc, tok, 0, &s) < 0)
		return -1;
	if ((len = strlen(s)) >= size) {
		free(s);
		return -1;
	}
	memcpy(buf, s, len + 1);
	free(s);
	return 0;
}

/* sv_json_get_bool - exactly true or false */
int sv_json_get_bool(const sv_json *doc, int tok, bool *out)
{
	size_t len = 0;
	const char *raw;

	if (sv_json_type_of(doc, tok) != SV_JSON_BOOL)
		return -1;
	raw = sv_json_raw(doc, tok, &len);
	if (literal_is(raw, len, "true"))
		*out = true;
	else if (literal_is(raw, len, "false"))
		*out = false;
	else
		return -1;
	return 0;
}

/* sv_json_get_int - a decimal integer that fits long long */
int sv_json_get_int(const sv_json *doc, int tok, long long *out)
{
	char tmp[32], *end;
	const char *raw;
	size_t len = 0;
	long long v;

	if (sv_json_type_of(doc, tok) != SV_JSON_NUMBER)
		return -1;
	raw = sv_json_raw(doc, tok, &len);
	if (len == 0 || len >= sizeof(tmp) || !number_ok(raw, len))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (raw[i] == '.' || raw[i] == 'e' || raw[i] == 'E')
			return -1;
	memcpy(tmp, raw, len);
	tmp[len] = 0;
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno != 0 || end != tmp + len)
		return -1;
	*out = v;
	return 0;
}

/* sv_json_quote - public: util's sv_buf_json_string into a malloc'd string */
char *sv_json_quote(const char *s)
{
	sv_buf b;

	sv_buf_init(&b, 0);
	sv_buf_json_string(&b, s);
	if (sv_buf_failed(&b) || b.data == NULL) {
		sv_buf_free(&b);
		return NULL;
	}
	return b.data; /* the caller frees it */
}

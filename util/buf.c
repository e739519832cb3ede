/*
 * buf.c - growable NUL-terminated byte buffer (see buf.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* sv_buf_init - empty buffer with an optional size limit */
void sv_buf_init(sv_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

/* grow - make room for need more bytes plus the NUL */
static int grow(sv_buf *b, size_t need)
{
	size_t want, ncap;
	char *p;

	if (b->failed)
		return -1;
	if (need > (size_t)-1 / 2 - b->len || (b->limit && b->len + need > b->limit)) {
		b->failed = 1;
		return -1;
	}
	want = b->len + need + 1;
	if (want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want)
		ncap *= 2;
	if ((p = realloc(b->data, ncap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

/* sv_buf_append - append len raw bytes */
int sv_buf_append(sv_buf *b, const void *data, size_t len)
{
	if (grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

/* sv_buf_puts - append a C string */
int sv_buf_puts(sv_buf *b, const char *s)
{
	return sv_buf_append(b, s, strlen(s));
}

/* sv_buf_printf - append formatted text */
int sv_buf_printf(sv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, (size_t)n) < 0) {
		b->failed = 1;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/*
 * sv_buf_json_string - s as a quoted JSON string (NULL: null): '"' and '\\'
 *	backslash-escaped, control octets and DEL as \u00XX, valid UTF-8 kept,
 *	every octet that does not start a valid UTF-8 sequence as \ufffd.
 *	So the output is valid JSON in valid UTF-8 whatever s holds.  The
 *	only JSON string writer of the tree (lib/json.c's public sv_json_quote
 *	and the milter use it).
 */
int sv_buf_json_string(sv_buf *b, const char *s)
{
	const unsigned char *p;
	size_t left, n;

	if (s == NULL)
		return sv_buf_puts(b, "null");
	sv_buf_append(b, "\"", 1);
	for (p = (const unsigned char *)s, left = strlen(s); left > 0; p += n, left -= n) {
		n = 1;
		if (*p == '"' || *p == '\\') {
			char esc[2] = {'\\', (char)*p};
			sv_buf_append(b, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			sv_buf_printf(b, "\\u%04x", *p);
		} else if (*p < 0x80) {
			sv_buf_append(b, p, 1);
		} else if ((n = sv_utf8_seq(p, left)) > 0) {
			sv_buf_append(b, p, n);
		} else {
			n = 1;
			sv_buf_puts(b, "\\ufffd");
		}
	}
	return sv_buf_append(b, "\"", 1);
}

/* sv_utf8_seq - length of the valid UTF-8 sequence at s, or 0 (RFC 3629 table) */
size_t sv_utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, overlong lead, or beyond U+10FFFF */
	if (avail < n)
		return 0;
	/* the second byte's range excludes overlongs, surrogates and > U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* sv_buf_reset - keep the memory, drop the contents */
void sv_buf_reset(sv_buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = 0;
}

/* sv_buf_free - release the memory */
void sv_buf_free(sv_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/*
 * NAME
 *	json 3 - strict JSON reader on top of jsmn
 * SYNOPSIS
 *	#include "json.h"
 *
 *	int sv_json_parse(const char *text, size_t len, size_t max_len,
 *			  sv_json **out, char *err, size_t errlen);
 *	void sv_json_free(sv_json *doc);
 *	int sv_json_get(const sv_json *doc, int obj, const char *key);
 *	int sv_json_next(const sv_json *doc, int container, int prev);
 *	int sv_json_get_string(const sv_json *doc, int tok, size_t max, char **out);
 *	int sv_json_get_string_buf(const sv_json *doc, int tok, char *buf, size_t size);
 *	int sv_json_get_bool(const sv_json *doc, int tok, bool *out);
 *	int sv_json_get_int(const sv_json *doc, int tok, long long *out);
 *	int sv_json_unescape(const char *in, size_t len, char *out, size_t *outlen);
 * DESCRIPTION
 *	jsmn is a tokenizer, not a validator: it accepts missing and extra
 *	commas, several top-level values, "tru", raw control characters in
 *	strings and bad UTF-8.  sv_json_parse() runs jsmn and then checks the
 *	whole token tree against the JSON grammar (separators between every
 *	pair of tokens, literal and number syntax, string escapes and UTF-8),
 *	so that what the getters see is well-formed JSON with exactly one
 *	top-level object.  Nothing else in the library includes <jsmn.h>.
 *
 *	Tokens are addressed by index; the root object is index 0.
 *	sv_json_get() finds a key's value in an object (SV_JSON_MISSING, or
 *	SV_JSON_DUPLICATE when the key appears twice, which callers should
 *	treat as malformed).  sv_json_next() iterates the values of an array
 *	or the keys of an object (pass -1 first; returns -1 at the end).
 *
 *	The typed getters return 0 or -1 (wrong type or invalid value); they
 *	never accept a near miss: booleans are exactly true/false, integers
 *	are decimal without fraction or exponent and within long long.
 *	Strings are unescaped (\uXXXX with surrogate pairs), and refused when
 *	they decode to U+0000 or hold a lone surrogate.
 * DIAGNOSTICS
 *	sv_json_parse() writes the reason and the byte offset into err.
 */
#ifndef SV_JSON_H
#define SV_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define SV_JSON_MAX_DEFAULT (1024 * 1024) /* bytes of a body we accept */
#define SV_JSON_MAX_DEPTH   64

typedef enum {
	SV_JSON_OBJECT = 1,
	SV_JSON_ARRAY,
	SV_JSON_STRING,
	SV_JSON_NUMBER,
	SV_JSON_BOOL,
	SV_JSON_NULL
} sv_json_type;

#define SV_JSON_MISSING   (-1)
#define SV_JSON_DUPLICATE (-2)

typedef struct sv_json sv_json;

int sv_json_parse(const char *text, size_t len, size_t max_len, sv_json **out, char *err,
                  size_t errlen);
void sv_json_free(sv_json *doc);
/* sv_json_count - number of tokens */
int sv_json_count(const sv_json *doc);
/* sv_json_type_of - type of a token, or 0 for a bad index */
sv_json_type sv_json_type_of(const sv_json *doc, int tok);
/* sv_json_type_name - "object", "array", ... for messages */
const char *sv_json_type_name(sv_json_type type);
/* sv_json_size - keys of an object, elements of an array, else 0 */
int sv_json_size(const sv_json *doc, int tok);
int sv_json_get(const sv_json *doc, int obj, const char *key);
int sv_json_next(const sv_json *doc, int container, int prev);
/* sv_json_value - the value token of an object key token returned by sv_json_next */
int sv_json_value(const sv_json *doc, int key);
/* sv_json_raw - the raw (still escaped) text of a token and its length */
const char *sv_json_raw(const sv_json *doc, int tok, size_t *len);
int sv_json_get_string(const sv_json *doc, int tok, size_t max, char **out);
int sv_json_get_string_buf(const sv_json *doc, int tok, char *buf, size_t size);
int sv_json_get_bool(const sv_json *doc, int tok, bool *out);
int sv_json_get_int(const sv_json *doc, int tok, long long *out);
/*
 * sv_json_unescape - decode the body of a JSON string (without quotes)
 *	out must hold len + 1 bytes (decoding never grows the text).  Returns
 *	0 and sets *outlen, or -1 on a bad escape, lone surrogate, \u0000,
 *	raw control character or invalid UTF-8.
 */
int sv_json_unescape(const char *in, size_t len, char *out, size_t *outlen);

#endif

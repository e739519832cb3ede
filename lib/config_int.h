/*
 * config_int.h - internal interface of the configuration module.
 *	Not installed.  The public half (sv_config_defaults, _load, _free,
 *	sv_duration_parse, sv_config_read_text/_load_text, sv_config_skip_domain,
 *	sv_cidr_match, sv_inet_spec_parse, sv_unix_socket_path) is in
 *	sesverify.h; this header adds what the library, the fuzzers and the
 *	tests need beyond it.
 *
 *	sv_config_load_buffer() parses configuration text held in memory
 *	(name is used in "NAME:LINE: message" diagnostics).  With
 *	SV_CONFIG_NO_FILES it refuses "SkipDomains @FILE" (fuzzing must not
 *	open files); it never checks file permissions (there is no file).
 *
 *	sv_config_dump() prints every key with its effective value, one
 *	"Key value" per line in table order; secrets print as "(set)" and
 *	unset keys as "(not set)".
 *
 *	sv_config_key_name() enumerates the key table (NULL past the end),
 *	so tests can prove the sample file and the man page cover every key.
 *
 *	sv_cidr_parse() parses "ADDR[/LEN]" (IPv4 or IPv6, "[v6]/LEN" too;
 *	a bare address is /32 or /128; host bits are cleared).
 *
 *	sv_duration_format() writes ms with the largest exact unit ("5m",
 *	"1500ms") -- the inverse of sv_duration_parse().
 */
#ifndef SV_CONFIG_INT_H
#define SV_CONFIG_INT_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "sesverify.h"

#define SV_CONFIG_NO_FILES 0x1 /* refuse SkipDomains @FILE */

int sv_config_load_buffer(const char *name, const char *data, size_t len, unsigned flags,
                          sv_config **out, sv_config_report_fn report, void *arg);
void sv_config_dump(const sv_config *cfg, FILE *fp);
const char *sv_config_key_name(size_t i);

int sv_cidr_parse(const char *text, sv_cidr *out);

int sv_duration_format(int64_t ms, char *buf, size_t len);

#endif

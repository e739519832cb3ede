/*
 * config_int.h - internal interface of the configuration module.
 *	Not installed.  The public half (sv_config_defaults, _load, _free,
 *	sv_duration_parse) is in sesverify.h; this header adds what the
 *	milter, the CLI, the fuzzers and the tests need beyond it.
 *
 *	sv_config_load_buffer() parses configuration text held in memory
 *	(name is used in "NAME:LINE: message" diagnostics).  With
 *	SV_CONFIG_NO_FILES it refuses "SkipDomains @FILE" (fuzzing must not
 *	open files); it never checks file permissions (there is no file).
 *
 *	sv_config_read_text() reads a configuration file whole (at most
 *	1 MiB, a regular file) and gives its mode; sv_config_load_text()
 *	parses such text as sv_config_load() parses the file at path (the
 *	same diagnostics, @FILE relative to path's directory, the same
 *	permission check against mode).  Together they are sv_config_load(),
 *	split so that a privileged process can read the file and hand the
 *	text to an unprivileged one.  Both return the number of errors.
 *
 *	sv_config_dump() prints every key with its effective value, one
 *	"Key value" per line in table order; secrets print as "(set)" and
 *	unset keys as "(not set)".
 *
 *	sv_config_key_name() enumerates the key table (NULL past the end),
 *	so tests can prove the sample file and the man page cover every key.
 *
 *	sv_config_skip_domain() tells whether a normalised domain is listed
 *	in SkipDomains (the list is kept sorted and without duplicates).
 *
 *	sv_cidr_parse() parses "ADDR[/LEN]" (IPv4 or IPv6, "[v6]/LEN" too;
 *	a bare address is /32 or /128; host bits are cleared).
 *	sv_cidr_match() returns 1 when sa is in any of the n networks; an
 *	IPv4-mapped IPv6 address (::ffff:a.b.c.d) also matches IPv4 entries.
 *
 *	sv_inet_spec_parse() parses MetricsSocket's "inet:PORT@IPv4" or
 *	"inet6:PORT@IPv6" (literals only) into a socket address.
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
int sv_config_read_text(const char *path, char **data, size_t *len, mode_t *mode,
                        sv_config_report_fn report, void *arg);
int sv_config_load_text(const char *path, const char *data, size_t len, mode_t mode,
                        sv_config **out, sv_config_report_fn report, void *arg);
void sv_config_dump(const sv_config *cfg, FILE *fp);
const char *sv_config_key_name(size_t i);
int sv_config_skip_domain(const sv_config *cfg, const char *domain);

int sv_cidr_parse(const char *text, sv_cidr *out);
int sv_cidr_match(const sv_cidr *list, size_t n, const struct sockaddr *sa);

int sv_inet_spec_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *err,
                       size_t errlen);

int sv_duration_format(int64_t ms, char *buf, size_t len);

#endif

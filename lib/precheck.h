/*
 * NAME
 *	precheck 3h - internals of the DNS pre-check exposed for unit tests
 * SUMMARY
 *	The public interface is in sesverify.h (sv_resolver_new, sv_precheck,
 *	...).  This header only exposes the nameserver-list parsers so that
 *	tests can drive them without touching /etc/resolv.conf.
 * SYNOPSIS
 *	#include "precheck.h"
 *
 *	int pc_parse_nameservers(const char *spec, pc_ns *ns, size_t max,
 *		size_t *n, char *err, size_t errlen);
 *	size_t pc_parse_resolv_conf(const char *text, pc_ns *ns, size_t max);
 *	void pc_ns_format(const pc_ns *ns, char *out, size_t outlen);
 * DESCRIPTION
 *	pc_parse_nameservers() reads the Nameserver config value:
 *	"ADDR[@PORT]" items separated by commas (white space around items is
 *	allowed), ADDR an IPv4 or IPv6 literal (IPv6 optionally in brackets),
 *	PORT 1-65535 (default 53).  It returns 0, or -1 with a reason in err
 *	for an empty list, a bad item or more than max items.
 *
 *	pc_parse_resolv_conf() reads resolv.conf text: only "nameserver ADDR"
 *	lines count; "#" and ";" start comments anywhere on a line (this
 *	avoids ldns 1.8.3's bug #237, where a commented-out nameserver after a
 *	blank line was used); addresses that do not parse (a "%scope"
 *	suffix, a port) are skipped; at most max are kept.  It returns the
 *	number found (0: the caller falls back to 127.0.0.1, as glibc does).
 */
#ifndef SV_PRECHECK_H
#define SV_PRECHECK_H

#include <stddef.h>
#include <stdint.h>

#define PC_NS_MAX 8

typedef struct pc_ns {
	int family; /* AF_INET or AF_INET6 */
	char addr[48];
	uint16_t port;
} pc_ns;

int pc_parse_nameservers(const char *spec, pc_ns *ns, size_t max, size_t *n, char *err,
                         size_t errlen);
size_t pc_parse_resolv_conf(const char *text, pc_ns *ns, size_t max);
void pc_ns_format(const pc_ns *ns, char *out, size_t outlen);

#endif

/*
 * records - DNS records to publish.
 *
 * SPF is "mx -all": this server sends the domain's mail and nothing else
 * does. A relay domain (backup MX) gets an MX with a higher preference
 * value than the primary's, and no SPF: the primary publishes that.
 */
#include <stdio.h>

#include "tern/records.h"

#define RECORD_TTL		3600
#define MX_PREF_PRIMARY		10
#define MX_PREF_BACKUP		20

static void
record(FILE *fp, const char *name, const char *type, const char *value)
{
	char owner[300];

	snprintf(owner, sizeof(owner), "%s.", name);
	fprintf(fp, "%-28s %d IN %-5s %s\n", owner, RECORD_TTL, type, value);
}

void
records_print_domain(FILE *fp, const char *domain, enum dir_domain_kind kind,
    const char *hostname)
{
	char value[320];

	if (kind == DIR_DOMAIN_RELAY) {
		fprintf(fp, "; %s: backup MX here; the primary MX keeps a lower "
		    "preference than %d\n", domain, MX_PREF_BACKUP);
		snprintf(value, sizeof(value), "%d %s.", MX_PREF_BACKUP, hostname);
		record(fp, domain, "MX", value);
		return;
	}
	fprintf(fp, "; %s: mail for the domain is received and sent by %s\n",
	    domain, hostname);
	snprintf(value, sizeof(value), "%d %s.", MX_PREF_PRIMARY, hostname);
	record(fp, domain, "MX", value);
	record(fp, domain, "TXT", "\"v=spf1 mx -all\"");
}

void
records_print_host(FILE *fp, const char *hostname)
{
	fprintf(fp, "; %s: the public addresses of this server (fill them in); the\n"
	    "; reverse DNS (PTR) of each address must name %s again\n",
	    hostname, hostname);
	record(fp, hostname, "A", "<IPv4 address of this server>");
	record(fp, hostname, "AAAA", "<IPv6 address of this server, if it has one>");
}

/*
 * records - the DNS records an administrator publishes for tern, in zone
 * file syntax (tern init and tern dns-records print them).
 */
#ifndef TERN_TERN_RECORDS_H
#define TERN_TERN_RECORDS_H

#include <stdio.h>

#include "directory/dir.h"

/* MX (and SPF for a local domain) pointing domain at hostname. */
void	records_print_domain(FILE *fp, const char *domain, enum dir_domain_kind kind,
	    const char *hostname);
/* A/AAAA placeholders for hostname and the note about reverse DNS. */
void	records_print_host(FILE *fp, const char *hostname);

#endif

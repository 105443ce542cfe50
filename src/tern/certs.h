/*
 * certs - the TLS certificate and key files of [tls].
 *
 * tern init writes a self-signed certificate so that STARTTLS, IMAPS and
 * submission work from the first start; the administrator replaces it
 * with one from a CA (for example ACME) by pointing [tls] at new files.
 */
#ifndef TERN_TERN_CERTS_H
#define TERN_TERN_CERTS_H

#include <stddef.h>

/*
 * Create an EC P-256 key and a certificate for hostname (subject CN and
 * subjectAltName DNS:hostname, valid for 10 years) signed by that key.
 * Writes key_path (mode 0600) and cert_path (0644) in PEM. 0, or -1 with why.
 */
int	certs_create_selfsigned(const char *hostname, const char *cert_path,
	    const char *key_path, char *why, size_t whylen);
/*
 * Check that cert_path holds a PEM certificate that has not expired and
 * key_path the private key that goes with it. 0, or -1 with why.
 */
int	certs_check(const char *cert_path, const char *key_path, char *why,
	    size_t whylen);

#endif

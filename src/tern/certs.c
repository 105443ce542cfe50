/*
 * certs - a self-signed certificate with the OpenSSL 3 EVP API, and a
 * check of a certificate/key pair.
 *
 * The certificate is a proper end-entity certificate (CA:FALSE, serverAuth,
 * key identifiers) rather than a CA certificate used as a server
 * certificate, which browsers and strict verifiers refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/fs.h"
#include "tern/certs.h"

#define CERT_DAYS		3650
#define CERT_BACKDATE_SECS	3600	/* tolerate clients whose clock is behind */
#define CERT_CN_MAX		64	/* X.520 ub-common-name */

static int
add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int
set_serial(X509 *cert)
{
	unsigned char raw[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	raw[0] &= 0x7f;		/* serial numbers are positive */
	if ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) == NULL)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int
set_names(X509 *cert, const char *hostname)
{
	X509_NAME *name = X509_get_subject_name(cert);
	const char *cn = strlen(hostname) <= CERT_CN_MAX ? hostname : "tern";

	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		return -1;
	return X509_set_issuer_name(cert, name) ? 0 : -1;
}

static int
set_extensions(X509 *cert, const char *hostname)
{
	char san[300];

	if (snprintf(san, sizeof(san), "DNS:%s", hostname) >= (int)sizeof(san))
		return -1;
	/* The subject key id must exist before the authority key id refers to it. */
	if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") == -1 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(cert, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(cert, NID_authority_key_identifier, "keyid:always") == -1 ||
	    add_ext(cert, NID_subject_alt_name, san) == -1)
		return -1;
	return 0;
}

static X509 *
make_cert(EVP_PKEY *key, const char *hostname)
{
	X509 *cert = X509_new();

	if (cert == NULL)
		return NULL;
	if (!X509_set_version(cert, X509_VERSION_3) || set_serial(cert) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -CERT_BACKDATE_SECS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), CERT_DAYS, 0, NULL) == NULL ||
	    !X509_set_pubkey(cert, key) || set_names(cert, hostname) == -1 ||
	    set_extensions(cert, hostname) == -1 ||
	    X509_sign(cert, key, EVP_sha256()) == 0) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* Write what the BIO holds to path atomically. */
static int
write_bio(BIO *bio, const char *path, mode_t mode, char *why, size_t whylen)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	if (len <= 0 || fs_write_atomic(path, data, (size_t)len, mode) == -1) {
		snprintf(why, whylen, "%s: %s", path, len <= 0 ? "no data" : strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_pair(X509 *cert, EVP_PKEY *key, const char *cert_path, const char *key_path,
    char *why, size_t whylen)
{
	/* Secure-heap memory BIO: the key's PEM is wiped when it is freed. */
	BIO *kbio = BIO_new(BIO_s_secmem());
	BIO *cbio = BIO_new(BIO_s_mem());
	int rc = -1;

	if (kbio == NULL || cbio == NULL ||
	    !PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cbio, cert))
		snprintf(why, whylen, "cannot encode the certificate");
	else if (write_bio(kbio, key_path, 0600, why, whylen) == 0 &&
	    write_bio(cbio, cert_path, 0644, why, whylen) == 0)
		rc = 0;
	BIO_free(kbio);
	BIO_free(cbio);
	return rc;
}

int
certs_create_selfsigned(const char *hostname, const char *cert_path,
    const char *key_path, char *why, size_t whylen)
{
	EVP_PKEY *key;
	X509 *cert = NULL;
	int rc = -1;

	if ((key = EVP_EC_gen("P-256")) == NULL)
		snprintf(why, whylen, "cannot generate a key");
	else if ((cert = make_cert(key, hostname)) == NULL)
		snprintf(why, whylen, "cannot make a certificate for %s", hostname);
	else
		rc = write_pair(cert, key, cert_path, key_path, why, whylen);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

static X509 *
read_cert(const char *path, char *why, size_t whylen)
{
	FILE *fp = fopen(path, "re");
	X509 *cert;

	if (fp == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (cert == NULL)
		snprintf(why, whylen, "%s: no PEM certificate", path);
	return cert;
}

static EVP_PKEY *
read_key(const char *path, char *why, size_t whylen)
{
	FILE *fp = fopen(path, "re");
	EVP_PKEY *key;

	if (fp == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (key == NULL)
		snprintf(why, whylen, "%s: no PEM private key", path);
	return key;
}

static int
check_pair(X509 *cert, EVP_PKEY *key, const char *cert_path, const char *key_path,
    char *why, size_t whylen)
{
	if (X509_check_private_key(cert, key) != 1) {
		snprintf(why, whylen, "%s does not belong to the certificate %s",
		    key_path, cert_path);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		snprintf(why, whylen, "%s: certificate has expired", cert_path);
		return -1;
	}
	return 0;
}

int
certs_check(const char *cert_path, const char *key_path, char *why, size_t whylen)
{
	X509 *cert;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if ((cert = read_cert(cert_path, why, whylen)) != NULL &&
	    (key = read_key(key_path, why, whylen)) != NULL)
		rc = check_pair(cert, key, cert_path, key_path, why, whylen);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

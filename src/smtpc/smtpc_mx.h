/*
 * smtpc_mx - where mail for a domain goes: MX lookup and ordering
 * (RFC 5321 section 5.1, RFC 7505), and the addresses of a host, with
 * c-ares on the worker's libevent loop.
 *
 * smtpc_mx_order() and smtpc_mx_is_null() are pure, for tests. The
 * resolver answers through callbacks on the loop thread; a callback may
 * run before the call that started the lookup returns.
 */
#ifndef TERN_SMTPC_SMTPC_MX_H
#define TERN_SMTPC_SMTPC_MX_H

#include <stddef.h>
#include <sys/socket.h>

#define SMTPC_MX_MAX	32	/* MX hosts of one domain we consider */
#define SMTPC_ADDR_MAX	16	/* addresses of one host we try */

struct event_base;
struct smtpc_dns;

struct smtpc_mx {
	char		host[256];
	unsigned	pref;
};

enum smtpc_dns_status {
	SMTPC_DNS_OK = 0,
	SMTPC_DNS_NODATA,	/* the name exists, no record of that type */
	SMTPC_DNS_NXDOMAIN,	/* the name does not exist: permanent */
	SMTPC_DNS_TEMP,		/* SERVFAIL, timeout, refused: try later */
};

/*
 * Sort by preference (lowest first); hosts of equal preference in random
 * order (RFC 5321 5.1). rnd(n) returns a number in [0, n).
 */
void	smtpc_mx_order(struct smtpc_mx *mx, size_t n, unsigned (*rnd)(unsigned n));
/* 1 when the list is a null MX (RFC 7505): a record whose host is "." or "". */
int	smtpc_mx_is_null(const struct smtpc_mx *mx, size_t n);
/*
 * Backup MX (RFC 5321 5.1): when self (our host name) is one of the n
 * ordered hosts, the count of hosts strictly better than it (the list is
 * cut there: our entry and every equal or worse one go); n otherwise.
 */
size_t	smtpc_mx_cut_self(const struct smtpc_mx *mx, size_t n, const char *self);
/* 1 when a (address and port) is one of the n addresses in self. */
int	smtpc_addr_is_self(const struct sockaddr_storage *a,
	    const struct sockaddr_storage *self, size_t n);
/* A uniform random number in [0, n) from a cryptographic source. */
unsigned smtpc_mx_random(unsigned n);

/*
 * servers is "[dns] servers" ("addr[:port] ..."; NULL or "" = the system
 * resolver). NULL with why on error.
 */
struct smtpc_dns *smtpc_dns_new(struct event_base *base, const char *servers, char *why,
		    size_t whylen);
/*
 * Ends pending lookups: their callbacks run once more with SMTPC_DNS_TEMP,
 * so that owners can free what they hold. Sets *dnsp NULL.
 */
void		 smtpc_dns_free(struct smtpc_dns **dnsp);

/* mx (ordered) is valid only during the call. */
typedef void	(*smtpc_mx_cb)(void *arg, enum smtpc_dns_status status,
		    const struct smtpc_mx *mx, size_t n, const char *err);
void		 smtpc_dns_mx(struct smtpc_dns *dns, const char *domain, smtpc_mx_cb cb,
		    void *arg);
/* A and AAAA of host, port set in each; addrs valid only during the call. */
typedef void	(*smtpc_addr_cb)(void *arg, enum smtpc_dns_status status,
		    const struct sockaddr_storage *addrs, size_t n, const char *err);
void		 smtpc_dns_addr(struct smtpc_dns *dns, const char *host, int port,
		    smtpc_addr_cb cb, void *arg);

#endif

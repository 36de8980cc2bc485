/*
 * peer/peer.h - the previous payers we request from (table peer): their
 * FHIR base, their NPI (how our members' Consents and old Coverages
 * name them), the client id they issued to us, the key we sign with for
 * them, and what discovery found.
 */
#ifndef P2P_PEER_PEER_H
#define P2P_PEER_PEER_H

#include "core/config.h"
#include "core/err.h"
#include "store/db.h"

#define PEER_NAME_MAX	64

/* Operations a peer's CapabilityStatement declares (peer.caps). */
enum {
	PEER_CAP_MEMBER_MATCH = 1 << 0,	/* Patient/$member-match */
	PEER_CAP_EVERYTHING = 1 << 1,	/* Patient/{id}/$everything */
	PEER_CAP_BULK_MATCH = 1 << 2,	/* Group/$bulk-member-match */
	PEER_CAP_DATA_EXPORT = 1 << 3,	/* Group/{id}/$davinci-data-export */
};

/* Scopes asked for by default: the data, and both match operations. */
#define PEER_DEFAULT_SCOPE \
	"system/*.rs" \
	" http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match" \
	" http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch"

struct peer {
	char		 name[PEER_NAME_MAX + 1];	/* our handle */
	char		 npi[16];		/* the payer's NPI */
	char		 base_url[512];		/* FHIR base, no final / */
	char		 client_id[128];	/* issued to us */
	char		 kid[128];		/* our key, "" shared */
	char		 scope[1024];		/* asked for */
	int		 active;		/* 0 disabled */
	char		 token_url[512];	/* discovered, or "" */
	unsigned	 caps;			/* PEER_CAP_* discovered */
	long long	 discovered;		/* epoch s, 0 never */
	char		 created[32];		/* UTC instant */
};

/* 1 when s is a usable peer name ([A-Za-z0-9._-]{1,64}). */
int	 peer_name_valid(const char *);

/*
 * Records p (created is set here).  An existing name is 409 unless
 * replace, which keeps the discovery results only when the base URL is
 * unchanged.  0 or -1.
 */
int	 peer_put(struct p2p_db *, const struct peer *, int replace,
	    struct p2p_err *);

/* 0 with p filled, 1 when there is no such peer, -1. */
int	 peer_get(struct p2p_db *, const char *name, struct peer *,
	    struct p2p_err *);

/* The active peer with this NPI: 0, 1 none, -1. */
int	 peer_by_npi(struct p2p_db *, const char *npi, struct peer *,
	    struct p2p_err *);

/* 0, 1 when there is no such peer, -1. */
int	 peer_set_active(struct p2p_db *, const char *name, int active,
	    struct p2p_err *);
/*
 * Removes the peer with its request state and transfers (not the data
 * received from it).  0, 1 none, -1.
 */
int	 peer_remove(struct p2p_db *, const char *name, struct p2p_err *);

/* Records what discovery found.  0 or -1. */
int	 peer_set_discovery(struct p2p_db *, const char *name,
	    const char *token_url, unsigned caps, long long when,
	    struct p2p_err *);

/* Calls fn for every peer by name.  0 or -1. */
int	 peer_each(struct p2p_db *, int (*fn)(void *, const struct peer *),
	    void *arg, struct p2p_err *);

/* "member-match everything ..." for caps, into out. */
void	 peer_caps_text(unsigned caps, char *out, size_t outsz);

#endif

/*
 * media.h - content negotiation (FHIR R4 http.html "Content Types and
 * encodings"): the _format parameter, which overrides Accept, and the
 * Accept header, against what a route answers in.  Pure: no request,
 * no I/O.
 */
#ifndef P2P_MEDIA_H
#define P2P_MEDIA_H

/* What a route answers in. */
enum p2p_media {
	P2P_MEDIA_FHIR,		/* FHIR JSON (the default) */
	P2P_MEDIA_NDJSON,	/* FHIR ndjson (bulk files) */
	P2P_MEDIA_ANY,		/* one fixed document whatever is asked
				   (SMART configuration): no negotiation */
};

/*
 * 1 when a _format value names what m answers in: FHIR JSON "json",
 * "application/json", "application/fhir+json", "application/json+fhir";
 * ndjson "ndjson", "application/ndjson", "application/fhir+ndjson".  A
 * space stands for '+' (an unescaped '+' in a query); parameters after
 * ';' must be a fhirVersion of 4.0 (R4), if any.  0 otherwise (XML,
 * turtle, anything unknown: 406).
 */
int	 media_format_ok(const char *format, enum p2p_media m);

/*
 * 1 when an Accept header value (RFC 9110 12.5.1: media ranges with
 * parameters and q) allows what m answers in: one range with q > 0
 * that is one of media_format_ok()'s media types, the type's
 * "application/ *", or "* / *" (without the spaces); an empty or
 * malformed value allows anything.  0: 406.
 */
int	 media_accept_ok(const char *accept, enum p2p_media m);

#endif

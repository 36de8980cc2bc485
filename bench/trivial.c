/*
 * trivial.c - the benchmark's FastCGI ceiling: answers every request
 * with the same small JSON body, doing nothing else.  Built by
 * bench/run.sh and routed by bench/lighttpd-bench.conf at /bench/trivial,
 * so that $member-match can be compared with the cost of lighttpd plus
 * the FastCGI round trip alone.
 */
#include <fcgi_stdio.h>

int
main(void)
{
	while (FCGI_Accept() >= 0)
		printf("Status: 200 OK\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: 12\r\n\r\n"
		    "{\"ok\":true}\n");
	return 0;
}

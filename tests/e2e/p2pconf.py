"""Rewriting keys of a p2p.conf (p2p.conf(5): "key = value" lines).

Shared by the end-to-end harness and the benchmarks (bench/bench.py),
which both set keys of a data directory's configuration before starting
the servers.
"""


def set_keys(path, **kv):
    """Sets each key of kv in the file at path: in place where the key
    is, else appended; the other lines as they were."""
    out = []
    for line in open(path).read().splitlines():
        k = line.split("=", 1)[0].strip()
        if k in kv:
            line = "%s = %s" % (k, kv.pop(k))
        out.append(line)
    out += ["%s = %s" % (k, v) for k, v in kv.items()]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")

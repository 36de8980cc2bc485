"""What the end-to-end harness and the benchmarks (bench/bench.py) both
need to set up a server on this machine: a free loopback port, and keys
of a data directory's p2p.conf rewritten before the servers start.
"""
import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def set_keys(path, **kv):
    """Sets each key of kv in the p2p.conf at path (p2p.conf(5): "key =
    value" lines): in place where the key is, else appended; the other
    lines as they were."""
    out = []
    for line in open(path).read().splitlines():
        k = line.split("=", 1)[0].strip()
        if k in kv:
            line = "%s = %s" % (k, kv.pop(k))
        out.append(line)
    out += ["%s = %s" % (k, v) for k, v in kv.items()]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")

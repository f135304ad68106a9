#!/usr/bin/env python3
"""Starts a policy server on a port picked on the node the job runs on (serve.policy with port 0).

    serve_on_node_port.py PORT_FILE BIND_HOST -- COMMAND [ARG ...]

A port picked on the worker's machine says nothing about a cluster node: another job there may hold
it. This runs on the node itself, just before the server: it takes the port PORT_FILE already names
when that port is free here (a restarted server keeps its URL), else any free port, writes the
number to PORT_FILE (atomically; the worker reads it to reach the server), then replaces itself with
COMMAND, every argument that is exactly `{port}` replaced by the number. PORT_FILE lies in the job's
folder, which the worker and the nodes share. Standard library only.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the installation (it may be read-only on a cluster)

TAG = "[toolloop serve]"
PLACEHOLDER = "{port}"


def usage(problem: str) -> None:
    print(f"{TAG} {problem}\nusage: serve_on_node_port.py PORT_FILE BIND_HOST -- COMMAND [ARG ...]", file=sys.stderr)
    sys.exit(2)


def recorded_port(port_file: str) -> int | None:
    """The port an earlier run of this server wrote, when the file holds one."""
    try:
        with open(port_file, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def bindable(host: str, port: int) -> int | None:
    """Binds host:port (0: any free port) and lets it go again; the port bound, or None when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # As a server would bind: a port left in TIME_WAIT by an earlier server counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return None
        return s.getsockname()[1]


def write_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[2] != "--":
        usage("expected PORT_FILE BIND_HOST -- COMMAND")
    port_file, host, command = argv[0], argv[1], argv[3:]
    if PLACEHOLDER not in command:
        usage(f"COMMAND has no argument {PLACEHOLDER} to put the port in")
    earlier = recorded_port(port_file)
    port = bindable(host, earlier) if earlier is not None else None
    how = f"the port {port_file} named before" if port is not None else "a free port"
    if port is None:
        port = bindable(host, 0)
    if port is None:
        print(f"{TAG} cannot bind any port on {host} ({socket.gethostname()})", file=sys.stderr)
        sys.exit(1)
    write_atomically(port_file, f"{port}\n")
    print(
        f"{TAG} {socket.gethostname()}: port {port} ({how}{'' if earlier in (None, port) else f'; {earlier} is taken'}), written to {port_file}",
        flush=True,
    )
    command = [str(port) if a == PLACEHOLDER else a for a in command]
    try:
        os.execvp(command[0], command)
    except OSError as e:
        print(f"{TAG} cannot run {command[0]}: {e}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A data loader whose shard server resets the connection (a real TCP RST,
SO_LINGER 0) on attempts before SUCCEED_ON; the loader wraps the
ConnectionResetError in its own error (`raise ... from`), so the traceback
shows the chain.

usage: reset.py SUCCEED_ON
"""

import os
import socket
import struct
import sys
import threading

succeed_on = int(sys.argv[1])
attempt = int(os.environ["BACKSTOP_ATTEMPT"])


class ShardReadError(Exception):
    pass


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)


def serve() -> None:
    conn, _ = listener.accept()
    # Read to the client's shutdown first: an RST before it would fail the
    # client's shutdown (ENOTCONN) instead of its read (ECONNRESET).
    while conn.recv(64):
        pass
    if attempt >= succeed_on:
        conn.sendall(b"shard bytes")
        conn.close()
    else:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # an RST, not a FIN


threading.Thread(target=serve, daemon=True).start()


def read_shard(index: int) -> bytes:
    with socket.create_connection(listener.getsockname(), timeout=30) as sock:
        sock.sendall(f"GET shard {index}\n".encode())
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        return data


try:
    shard = read_shard(17)
except OSError as exc:
    raise ShardReadError("could not read shard 17 of the training set") from exc
print(f"read {len(shard)} bytes")

#!/usr/bin/python3
"""A D-Bus proxy for fault injection in the lab: it listens on a Unix socket, forwards
every connection to the machine's real system bus (real systemd answers), and for the
object paths of the units it is given does not forward method calls but answers them
itself:

  error  an org.freedesktop.DBus.Error.AccessDenied error (a bus policy, an SELinux rule
         or a broken unit object would look like this to bootproof)
  empty  GetAll with no properties at all (a unit whose properties are missing); its
         other calls (Get of one property) are forwarded

Everything else passes through unchanged, byte for byte. Usage:
  dbus-fault-proxy.py SOCKET MODE UNIT...
"""
import os
import socket
import struct
import sys
import threading

REAL_BUS = "/run/dbus/system_bus_socket"
METHOD_CALL, METHOD_RETURN, ERROR = 1, 2, 3
FIELD_PATH, FIELD_MEMBER, FIELD_ERROR_NAME, FIELD_REPLY_SERIAL, FIELD_SIGNATURE = 1, 3, 4, 5, 8


def unit_path(name):
    """systemd's object path of a unit: every byte outside [A-Za-z0-9] as _xx."""
    label = "".join(c if c.isalnum() and c.isascii() else "_%02x" % b for c, b in ((chr(b), b) for b in name.encode()))
    return "/org/freedesktop/systemd1/unit/" + label


def pad(n, to):
    return (to - n % to) % to


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_message(sock):
    """One whole message: its bytes, endianness prefix, type, serial and header fields."""
    fixed = read_exact(sock, 16)
    e = "<" if fixed[0:1] == b"l" else ">"
    kind = fixed[1]
    body_len, serial, fields_len = struct.unpack(e + "III", fixed[4:16])
    rest_len = fields_len + pad(16 + fields_len, 8) + body_len
    rest = read_exact(sock, rest_len)
    message = fixed + rest
    fields = {}
    at = 16
    end = 16 + fields_len
    while at < end:
        at += pad(at, 8)
        code = message[at]
        sig_len = message[at + 1]
        sig = message[at + 2:at + 2 + sig_len].decode()
        at += 3 + sig_len
        if sig in ("s", "o"):
            at += pad(at, 4)
            (n,) = struct.unpack(e + "I", message[at:at + 4])
            fields[code] = message[at + 4:at + 4 + n].decode()
            at += 4 + n + 1
        elif sig == "g":
            n = message[at]
            fields[code] = message[at + 1:at + 1 + n].decode()
            at += 1 + n + 1
        elif sig == "u":
            at += pad(at, 4)
            (fields[code],) = struct.unpack(e + "I", message[at:at + 4])
            at += 4
        else:
            raise ValueError("unexpected header field signature %r" % sig)
    return message, e, kind, serial, fields


def build(kind, serial, fields, body):
    """A little-endian message with these (code, signature, value) header fields."""
    header = b""
    for code, sig, value in fields:
        header += b"\0" * pad(16 + len(header), 8)
        header += bytes([code, len(sig)]) + sig.encode() + b"\0"
        if sig == "s":
            header += b"\0" * pad(16 + len(header), 4)
            raw = value.encode()
            header += struct.pack("<I", len(raw)) + raw + b"\0"
        elif sig == "g":
            raw = value.encode()
            header += bytes([len(raw)]) + raw + b"\0"
        elif sig == "u":
            header += b"\0" * pad(16 + len(header), 4)
            header += struct.pack("<I", value)
    fixed = b"l" + bytes([kind, 1, 1]) + struct.pack("<III", len(body), serial, len(header))
    message = fixed + header
    return message + b"\0" * pad(len(message), 8) + body


def answer(mode, serial, member, counter):
    own_serial = 0x7FFF0000 + counter
    if mode == "empty" and member == "GetAll":
        # a{sv} with no entries: the length, then padding to the 8-byte element alignment.
        body = struct.pack("<I", 0) + b"\0" * 4
        return build(METHOD_RETURN, own_serial, [(FIELD_REPLY_SERIAL, "u", serial), (FIELD_SIGNATURE, "g", "a{sv}")], body)
    text = "bootproof lab: access to this unit's object is denied".encode()
    body = struct.pack("<I", len(text)) + text + b"\0"
    return build(
        ERROR,
        own_serial,
        [
            (FIELD_ERROR_NAME, "s", "org.freedesktop.DBus.Error.AccessDenied"),
            (FIELD_REPLY_SERIAL, "u", serial),
            (FIELD_SIGNATURE, "g", "s"),
        ],
        body,
    )


def read_line(sock):
    """One authentication line, CRLF included (a leading NUL byte kept)."""
    line = b""
    while not line.endswith(b"\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise EOFError
        line += byte
    return line


def serve(client, mode, paths):
    bus = socket.socket(socket.AF_UNIX)
    bus.connect(REAL_BUS)
    lock = threading.Lock()
    try:
        # Authentication: each line of the client gets one line of the bus in answer,
        # until BEGIN; then both sides send messages.
        while True:
            line = read_line(client)
            bus.sendall(line)
            if line.lstrip(b"\0") == b"BEGIN\r\n":
                break
            client.sendall(read_line(bus))
    except (EOFError, OSError):
        client.close()
        bus.close()
        return

    def upstream():
        counter = 0
        while True:
            message, _, kind, serial, fields = read_message(client)
            ours = mode == "error" or fields.get(FIELD_MEMBER) == "GetAll"
            if kind == METHOD_CALL and fields.get(FIELD_PATH) in paths and ours:
                counter += 1
                with lock:
                    client.sendall(answer(mode, serial, fields.get(FIELD_MEMBER), counter))
            else:
                bus.sendall(message)

    def downstream():
        # Whole messages, so that an answer of ours never lands inside one of the bus's.
        while True:
            message = read_message(bus)[0]
            with lock:
                client.sendall(message)

    def run(f):
        try:
            f()
        except (EOFError, OSError):
            pass
        for sock in (client, bus):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    threads = [threading.Thread(target=run, args=(f,), daemon=True) for f in (upstream, downstream)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    bus.close()


def main():
    path, mode, units = sys.argv[1], sys.argv[2], sys.argv[3:]
    paths = {unit_path(u) for u in units}
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(16)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=serve, args=(client, mode, paths), daemon=True).start()


if __name__ == "__main__":
    main()

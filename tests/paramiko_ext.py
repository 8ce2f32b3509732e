#!/usr/bin/env python3
"""Black-box checks of sftpgo's SFTP server through paramiko.

Driven by tests/ssh_e2e.rs. Modes:

  default                 password/publickey login, SFTPv3 extensions, error recovery,
                          raw-path confinement
  --malformed             garbage on the sftp subsystem closes the channel and the
                          server keeps serving new sessions
  --expect-auth-failure   every given credential (password and/or key) must be refused

Prints one line per check; exits 1 if any check failed.
"""

import argparse
import errno
import os
import socket
import struct
import sys
import time
import traceback

try:
    import paramiko
    from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY, CMD_NAME, int64
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import paramiko ({exc}); run scripts/install-test-deps.sh")
    sys.exit(1)

EXPECTED_EXTENSIONS = [
    "posix-rename@openssh.com",
    "statvfs@openssh.com",
    "fstatvfs@openssh.com",
    "hardlink@openssh.com",
    "fsync@openssh.com",
    "limits@openssh.com",
    "expand-path@openssh.com",
    "copy-data",
    "lsetstat@openssh.com",
]

# SFTP packet types used by the raw-channel checks.
FXP_INIT = 1
FXP_VERSION = 2
FXP_OPEN = 3
FXP_CLOSE = 4
FXP_READ = 5
FXP_WRITE = 6
FXP_REALPATH = 16
FXP_STATUS = 101
FXP_HANDLE = 102
FXP_DATA = 103
FXP_NAME = 104

FAILURES = []


def ok(msg):
    print(f"ok:   {msg}", flush=True)


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    FAILURES.append(msg)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        fail(msg)
    return cond


def run_step(name, func, *args):
    """Runs one group of checks; an unexpected exception fails the group only."""
    print(f"--- {name}", flush=True)
    try:
        func(*args)
    except Exception as exc:  # noqa: BLE001 - report and go on with the next group
        fail(f"{name}: unexpected {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stdout)


def data_of(length, seed):
    """Deterministic pseudo-random bytes (xorshift64)."""
    x = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while len(out) < length:
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        out += struct.pack("<Q", x)
    return bytes(out[:length])


# --------------------------------------------------------------------------- connection


def load_key(path):
    if path is None:
        return None
    return paramiko.Ed25519Key.from_private_key_file(path)


def connect(args, user=None, password=None, key=None):
    """Returns an authenticated Transport; raises AuthenticationException on refusal."""
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=20)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = 20
    transport.auth_timeout = 20
    try:
        transport.start_client(timeout=20)
        if password is not None:
            transport.auth_password(user or args.user, password)
        elif key is not None:
            transport.auth_publickey(user or args.user, key)
        else:
            raise ValueError("no credential given")
    except BaseException:
        transport.close()
        raise
    return transport


def connect_default(args):
    if args.password is not None:
        return connect(args, password=args.password)
    return connect(args, key=load_key(args.key))


def sftp_client(transport):
    client = paramiko.SFTPClient.from_transport(transport)
    client.get_channel().settimeout(30)
    return client


# --------------------------------------------------------------------------- raw channel


def pack_string(value):
    if isinstance(value, str):
        value = value.encode()
    return struct.pack(">I", len(value)) + value


def send_packet(chan, ptype, body):
    chan.sendall(struct.pack(">IB", len(body) + 1, ptype) + body)


def recv_exact(chan, count, deadline):
    buf = b""
    while len(buf) < count:
        if time.time() > deadline:
            raise TimeoutError(f"timed out reading {count} bytes (got {len(buf)})")
        try:
            chunk = chan.recv(count - len(buf))
        except socket.timeout:
            continue
        if chunk == b"":
            raise EOFError(f"channel closed after {len(buf)} of {count} bytes")
        buf += chunk
    return buf


def recv_packet(chan, timeout=10):
    deadline = time.time() + timeout
    chan.settimeout(0.5)
    (length,) = struct.unpack(">I", recv_exact(chan, 4, deadline))
    if length == 0 or length > 1 << 20:
        raise ValueError(f"server sent an implausible packet length {length}")
    body = recv_exact(chan, length, deadline)
    return body[0], body[1:]


def open_sftp_channel(transport):
    chan = transport.open_session(timeout=20)
    chan.invoke_subsystem("sftp")
    return chan


def sftp_init(chan):
    """Sends INIT v3 and returns (version, {extension: data})."""
    send_packet(chan, FXP_INIT, struct.pack(">I", 3))
    ptype, body = recv_packet(chan)
    if ptype != FXP_VERSION:
        raise ValueError(f"expected SSH_FXP_VERSION, got type {ptype}")
    (version,) = struct.unpack(">I", body[:4])
    pos = 4
    exts = {}
    while pos < len(body):
        (nlen,) = struct.unpack(">I", body[pos : pos + 4])
        name = body[pos + 4 : pos + 4 + nlen].decode()
        pos += 4 + nlen
        (dlen,) = struct.unpack(">I", body[pos : pos + 4])
        exts[name] = body[pos + 4 : pos + 4 + dlen]
        pos += 4 + dlen
    return version, exts


def wait_closed(chan, timeout=10):
    """True when the server closes (EOF) the channel within `timeout` seconds."""
    chan.settimeout(0.5)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            data = chan.recv(65536)
        except socket.timeout:
            continue
        except (EOFError, OSError):
            return True
        if data == b"":
            return True
    return False


# --------------------------------------------------------------------------- default mode


def check_login(args):
    if args.password is not None:
        transport = connect(args, password=args.password)
        client = sftp_client(transport)
        check(isinstance(client.listdir("."), list), "password login works and lists '.'")
        client.close()
        transport.close()
        try:
            transport = connect(args, password=args.password + "-wrong")
        except paramiko.AuthenticationException:
            ok("wrong password refused with AuthenticationException")
        else:
            transport.close()
            fail("wrong password was accepted")
    if args.key is not None:
        transport = connect(args, key=load_key(args.key))
        client = sftp_client(transport)
        check(isinstance(client.listdir("/"), list), "publickey login works and lists '/'")
        client.close()
        transport.close()


def check_advertised_extensions(transport):
    chan = open_sftp_channel(transport)
    try:
        version, exts = sftp_init(chan)
    finally:
        chan.close()
    check(version == 3, f"server speaks SFTP version 3 (got {version})")
    print(f"      advertised extensions: {sorted(exts)}")
    for name in EXPECTED_EXTENSIONS:
        check(name in exts, f"extension {name} advertised")


def write_remote(client, path, data):
    with client.open(path, "wb") as fh:
        fh.write(data)


def read_remote(client, path):
    with client.open(path, "rb") as fh:
        return fh.read()


def check_posix_rename(client, args):
    write_remote(client, "ext/pr-src.txt", b"source content")
    write_remote(client, "ext/pr-dst.txt", b"old destination content")
    client.posix_rename("ext/pr-src.txt", "ext/pr-dst.txt")
    check(read_remote(client, "ext/pr-dst.txt") == b"source content",
          "posix-rename overwrote the existing destination")
    try:
        client.stat("ext/pr-src.txt")
        fail("posix-rename left the source in place")
    except IOError as exc:
        check(exc.errno == errno.ENOENT, f"posix-rename removed the source (errno {exc.errno})")
    if args.home:
        check(os.path.isfile(os.path.join(args.home, "ext", "pr-dst.txt")),
              "posix-rename result is inside the home dir on disk")


def parse_statvfs(msg):
    names = ["bsize", "frsize", "blocks", "bfree", "bavail", "files", "ffree", "favail",
             "fsid", "flag", "namemax"]
    return {name: msg.get_int64() for name in names}


def check_statvfs(client):
    t, msg = client._request(CMD_EXTENDED, "statvfs@openssh.com", "/")
    check(t == CMD_EXTENDED_REPLY, f"statvfs@openssh.com answered EXTENDED_REPLY (type {t})")
    st = parse_statvfs(msg)
    print(f"      statvfs: {st}")
    check(st["bsize"] > 0 or st["frsize"] > 0, "statvfs block size > 0")
    check(st["blocks"] > 0, "statvfs total blocks > 0")
    check(st["bavail"] <= st["blocks"], "statvfs available blocks <= total blocks")
    check(st["namemax"] > 0, "statvfs namemax > 0")

    with client.open("ext/fstatvfs.txt", "wb") as fh:
        t, msg = client._request(CMD_EXTENDED, "fstatvfs@openssh.com", fh.handle)
        check(t == CMD_EXTENDED_REPLY, f"fstatvfs@openssh.com answered EXTENDED_REPLY ({t})")
        st = parse_statvfs(msg)
        check(st["blocks"] > 0, "fstatvfs total blocks > 0")


def check_fsync(client, args):
    payload = data_of(70000, 7)
    fh = client.open("ext/fsync.bin", "wb")
    try:
        fh.write(payload)
        fh.flush()
        t, _msg = client._request(CMD_EXTENDED, "fsync@openssh.com", fh.handle)
        check(t is not None, "fsync@openssh.com on an open handle returns OK")
    finally:
        fh.close()
    check(read_remote(client, "ext/fsync.bin") == payload, "fsync'ed file reads back intact")
    if args.home:
        with open(os.path.join(args.home, "ext", "fsync.bin"), "rb") as local:
            check(local.read() == payload, "fsync'ed file is intact on disk")


def check_hardlink(client, args):
    write_remote(client, "ext/hl-src.txt", b"hard link me")
    try:
        client.remove("ext/hl-dst.txt")  # left over from an earlier run
    except IOError:
        pass
    client._request(CMD_EXTENDED, "hardlink@openssh.com", "ext/hl-src.txt", "ext/hl-dst.txt")
    ok("hardlink@openssh.com returned OK")
    check(read_remote(client, "ext/hl-dst.txt") == b"hard link me",
          "hard link has the source content")
    if args.home:
        src = os.stat(os.path.join(args.home, "ext", "hl-src.txt"))
        dst = os.stat(os.path.join(args.home, "ext", "hl-dst.txt"))
        check(src.st_ino == dst.st_ino and src.st_dev == dst.st_dev,
              "hard link shares the inode of its source on disk")
    try:
        client._request(CMD_EXTENDED, "hardlink@openssh.com", "ext/hl-src.txt",
                        "ext/hl-dst.txt")
        fail("hardlink onto an existing path succeeded")
    except IOError:
        ok("hardlink onto an existing path fails")


def check_limits(client):
    t, msg = client._request(CMD_EXTENDED, "limits@openssh.com")
    check(t == CMD_EXTENDED_REPLY, f"limits@openssh.com answered EXTENDED_REPLY ({t})")
    max_packet = msg.get_int64()
    max_read = msg.get_int64()
    max_write = msg.get_int64()
    max_handles = msg.get_int64()
    print(f"      limits: packet={max_packet} read={max_read} write={max_write} "
          f"handles={max_handles}")
    check(max_read >= 32768, f"limits max read length >= 32768 (got {max_read})")
    check(max_packet >= max_read, "limits max packet length >= max read length")


def expand_path(client, path):
    t, msg = client._request(CMD_EXTENDED, "expand-path@openssh.com", path)
    if t != CMD_NAME:
        raise ValueError(f"expand-path answered type {t}, expected SSH_FXP_NAME")
    count = msg.get_int()
    if count != 1:
        raise ValueError(f"expand-path returned {count} names")
    return msg.get_text()


def check_expand_path(client):
    for given, expected in (("~/x", "/x"), ("x", "/x"), ("~", "/")):
        got = expand_path(client, given)
        check(got == expected, f"expand-path {given!r} -> {got!r} (expected {expected!r})")


def check_copy_data(client, args):
    payload = data_of(300 * 1024 + 17, 11)
    write_remote(client, "ext/copy-src.bin", payload)

    src = client.open("ext/copy-src.bin", "rb")
    dst = client.open("ext/copy-dst.bin", "wb")
    try:
        client._request(CMD_EXTENDED, "copy-data", src.handle, int64(0), int64(0),
                        dst.handle, int64(0))
        ok("copy-data (whole file, length 0 = to EOF) returned OK")
    finally:
        src.close()
        dst.close()
    check(read_remote(client, "ext/copy-dst.bin") == payload,
          "copy-data destination equals the source")
    if args.home:
        with open(os.path.join(args.home, "ext", "copy-dst.bin"), "rb") as local:
            check(local.read() == payload, "copy-data destination is intact on disk")

    src = client.open("ext/copy-src.bin", "rb")
    dst = client.open("ext/copy-part.bin", "wb")
    try:
        client._request(CMD_EXTENDED, "copy-data", src.handle, int64(1000), int64(5000),
                        dst.handle, int64(0))
    finally:
        src.close()
        dst.close()
    check(read_remote(client, "ext/copy-part.bin") == payload[1000:6000],
          "copy-data with offset 1000 and length 5000 copies exactly that range")


def check_fsetstat_permissions(client, args):
    """FSETSTAT on an open handle gets the same chmod/chtimes checks as SETSTAT."""
    if not args.home:
        fail("--home is required for the FSETSTAT check")
    local = os.path.join(args.home, "ro", "fsetstat.txt")
    os.makedirs(os.path.dirname(local), exist_ok=True)
    with open(local, "wb") as f:
        f.write(b"read-only data")
    os.chmod(local, 0o644)
    os.utime(local, (1_000_000_000, 1_000_000_000))
    handle = client.open("/ro/fsetstat.txt", "rb")
    try:
        for label, call in (("chmod", lambda: handle.chmod(0o600)),
                            ("utime", lambda: handle.utime((5, 5)))):
            try:
                call()
            except IOError:
                pass
            else:
                fail("FSETSTAT %s in /ro (no chmod/chtimes permission) was allowed" % label)
    finally:
        handle.close()
    st = os.stat(local)
    check(st.st_mode & 0o777 == 0o644, "mode unchanged after a refused FSETSTAT")
    check(int(st.st_mtime) == 1_000_000_000, "mtime unchanged after a refused FSETSTAT")


def check_lsetstat(client):
    write_remote(client, "ext/lsetstat.txt", b"times")
    attr = paramiko.SFTPAttributes()
    attr.st_atime = 1_000_000_000
    attr.st_mtime = 1_000_000_000
    client._request(CMD_EXTENDED, "lsetstat@openssh.com", "ext/lsetstat.txt", attr)
    ok("lsetstat@openssh.com (atime/mtime) returned OK")
    st = client.stat("ext/lsetstat.txt")
    check(int(st.st_mtime) == 1_000_000_000, f"lsetstat set mtime (got {st.st_mtime})")
    check(int(st.st_atime) == 1_000_000_000, f"lsetstat set atime (got {st.st_atime})")


def check_error_recovery(client):
    try:
        client.stat("definitely-missing-file")
        fail("stat of a missing file succeeded")
    except IOError as exc:
        check(exc.errno == errno.ENOENT, f"stat of a missing file -> ENOENT ({exc})")
    try:
        client.open("definitely-missing-dir/file.txt", "rb")
        fail("open of a missing file succeeded")
    except IOError:
        ok("open of a missing file fails")
    try:
        client._request(CMD_EXTENDED, "no-such-extension@example.com", "x")
        fail("unknown extension request succeeded")
    except IOError:
        ok("unknown extension request gets an error status")
    check("ext" in client.listdir("/"), "session still usable after the failed requests")
    write_remote(client, "ext/after-error.txt", b"still alive")
    check(read_remote(client, "ext/after-error.txt") == b"still alive",
          "write/read still work after the failed requests")


def check_raw_paths(client, args):
    try:
        real_passwd = open("/etc/passwd", "rb").read()
    except OSError:
        real_passwd = None
    deep = "../" * 16
    for path in (deep + "etc/passwd", "/" + deep + "etc/passwd", "..//..//etc/passwd"):
        try:
            content = read_remote(client, path)
        except IOError:
            ok(f"open {path!r} fails")
            continue
        check(real_passwd is None or content != real_passwd,
              f"open {path!r} does not return the real /etc/passwd")
    if args.home:
        # A file right next to the home dir must not be reachable with "..".
        secret = b"paramiko-secret-next-to-home\n"
        secret_path = os.path.join(os.path.dirname(os.path.abspath(args.home)),
                                   "paramiko-secret.txt")
        with open(secret_path, "wb") as fh:
            fh.write(secret)
        try:
            for path in ("../paramiko-secret.txt", "/../paramiko-secret.txt",
                         "sub/../../paramiko-secret.txt"):
                try:
                    content = read_remote(client, path)
                except IOError:
                    ok(f"open {path!r} fails")
                    continue
                check(content != secret, f"open {path!r} does not read outside the home")
            try:
                st = client.stat("../paramiko-secret.txt")
                check(st.st_size != len(secret), "stat '..' does not see outside the home")
            except IOError:
                ok("stat '../paramiko-secret.txt' fails")
        finally:
            os.remove(secret_path)
    for path in ("..", "../..", "/..", "/../../.."):
        got = client.normalize(path)
        check(got == "/", f"realpath {path!r} -> {got!r} (expected '/')")
    check(sorted(client.listdir("../..")) == sorted(client.listdir("/")),
          "listing '../..' shows the home root, nothing above it")
    try:
        write_remote(client, "../../paramiko-escape.txt", b"escape")
    except IOError:
        ok("writing '../../paramiko-escape.txt' fails")
    if args.home:
        parent = os.path.dirname(os.path.abspath(args.home))
        for directory in (parent, os.path.dirname(parent)):
            check(not os.path.exists(os.path.join(directory, "paramiko-escape.txt")),
                  f"nothing was written to {directory}")


def check_pipelined_requests(transport, args):
    """Many READ/WRITE requests in flight at once on a raw channel: the server may answer
    them out of order, but the result must be as if they ran in order where they overlap,
    and CLOSE must answer after every earlier request."""
    chan = open_sftp_channel(transport)
    sftp_init(chan)
    flags = 0x02 | 0x08 | 0x10  # WRITE | CREAT | TRUNC
    send_packet(chan, FXP_OPEN, struct.pack(">I", 1) + pack_string("ext/pipelined.bin")
                + struct.pack(">II", flags | 0x01, 0))
    ptype, body = recv_packet(chan)
    check(ptype == FXP_HANDLE, f"OPEN returns a handle (got type {ptype})")
    (hlen,) = struct.unpack(">I", body[4:8])
    handle = body[8:8 + hlen]
    chunk = 64 * 1024
    expected = {}

    def write(req_id, offset, data):
        send_packet(chan, FXP_WRITE, struct.pack(">I", req_id) + pack_string(handle)
                    + struct.pack(">Q", offset) + pack_string(data))
        expected[req_id] = ("status", 0)

    def read(req_id, offset, length, want):
        send_packet(chan, FXP_READ, struct.pack(">I", req_id) + pack_string(handle)
                    + struct.pack(">QI", offset, length))
        expected[req_id] = ("data", want)

    write(10, 0, b"a" * chunk)
    write(11, 0, b"b" * chunk)            # overlaps 10: must land after it
    write(12, chunk, b"c" * chunk)
    read(13, 0, 2 * chunk, b"b" * chunk + b"c" * chunk)  # must see 11 and 12
    blocks = {}
    for i in range(40):                   # disjoint writes, free to run together
        data = data_of(chunk, 100 + i)
        blocks[i] = data
        write(100 + i, (2 + i) * chunk, data)
    send_packet(chan, FXP_WRITE, struct.pack(">I", 14) + pack_string(b"\xff\xff\xff\xff")
                + struct.pack(">Q", 0) + pack_string(b"x"))
    expected[14] = ("status", 4)           # unknown handle: an error for that request only
    for i in range(40):
        read(200 + i, (2 + i) * chunk, chunk, blocks[i])
    send_packet(chan, FXP_CLOSE, struct.pack(">I", 99) + pack_string(handle))

    answered = []
    while 99 not in answered:
        ptype, body = recv_packet(chan)
        (req_id,) = struct.unpack(">I", body[:4])
        answered.append(req_id)
        if req_id == 99:
            check(ptype == FXP_STATUS and struct.unpack(">I", body[4:8])[0] == 0,
                  "CLOSE after pipelined writes succeeds")
            continue
        kind, want = expected.get(req_id, (None, None))
        if kind == "status":
            code = struct.unpack(">I", body[4:8])[0] if ptype == FXP_STATUS else None
            if code != want:
                check(False, f"request {req_id}: status {code}, expected {want}")
        elif kind == "data":
            (dlen,) = struct.unpack(">I", body[4:8]) if ptype == FXP_DATA else (None,)
            if ptype != FXP_DATA or body[8:8 + dlen] != want:
                check(False, f"READ {req_id} did not return the bytes written before it")
        else:
            check(False, f"reply to unknown request {req_id}")
    check(sorted(answered[:-1]) == sorted(expected), "every request answered once, CLOSE last")
    chan.close()
    if args.home:
        with open(os.path.join(args.home, "ext", "pipelined.bin"), "rb") as f:
            content = f.read()
        want = b"b" * chunk + b"c" * chunk + b"".join(blocks[i] for i in range(40))
        check(content == want, "file content is what in-order writes would give")


def run_default(args):
    run_step("login", check_login, args)

    transport = connect_default(args)
    try:
        run_step("advertised extensions", check_advertised_extensions, transport)
        client = sftp_client(transport)
        try:
            client.mkdir("ext")
        except IOError:
            pass  # left over from an earlier run
        run_step("posix-rename", check_posix_rename, client, args)
        run_step("statvfs/fstatvfs", check_statvfs, client)
        run_step("fsync", check_fsync, client, args)
        run_step("hardlink", check_hardlink, client, args)
        run_step("limits", check_limits, client)
        run_step("expand-path", check_expand_path, client)
        run_step("copy-data", check_copy_data, client, args)
        run_step("lsetstat", check_lsetstat, client)
        run_step("fsetstat permissions", check_fsetstat_permissions, client, args)
        run_step("error recovery", check_error_recovery, client)
        run_step("raw path confinement", check_raw_paths, client, args)
        run_step("pipelined READ/WRITE", check_pipelined_requests, transport, args)
        client.close()
    finally:
        transport.close()


# --------------------------------------------------------------------------- malformed mode


def malformed_huge_length(transport):
    chan = open_sftp_channel(transport)
    chan.sendall(b"\xff\xff\xff\xff" + b"\x01" * 64)
    check(wait_closed(chan), "length prefix 0xFFFFFFFF: server closes the channel")
    chan.close()


def malformed_truncated_unknown(transport):
    chan = open_sftp_channel(transport)
    # Declares 5 bytes (type + 4 byte id) with an unknown type, sends only 2 body bytes.
    chan.sendall(struct.pack(">IB", 5, 0xEE) + b"\x00\x00")
    chan.shutdown_write()
    check(wait_closed(chan), "unknown type with truncated body: server closes the channel")
    chan.close()


def malformed_after_init(transport, label, raw):
    """Bad packet after a proper INIT. Accepted reactions: close the channel, answer with
    an error STATUS, or ignore the packet; in the last two cases the REALPATH request sent
    right after it must still be answered. A hang fails."""
    chan = open_sftp_channel(transport)
    try:
        sftp_init(chan)
        chan.sendall(raw)
        send_packet(chan, FXP_REALPATH, struct.pack(">I", 77) + pack_string("."))
        while True:
            try:
                ptype, body = recv_packet(chan)
            except TimeoutError:
                fail(f"{label}: server neither answered nor closed the channel")
                return
            except (EOFError, OSError):
                ok(f"{label}: server closed the channel")
                return
            (req_id,) = struct.unpack(">I", body[:4])
            if ptype == FXP_STATUS and req_id != 77:
                (code,) = struct.unpack(">I", body[4:8])
                check(code != 0, f"{label}: server answered an error STATUS (code {code})")
                continue
            check(ptype == FXP_NAME and req_id == 77,
                  f"{label}: the next request is still answered (type {ptype}, id {req_id})")
            return
    finally:
        chan.close()


def run_malformed(args):
    transport = connect_default(args)
    try:
        run_step("huge length prefix", malformed_huge_length, transport)
        run_step("truncated unknown packet", malformed_truncated_unknown, transport)
        # OPEN whose filename string claims 0xFFFF bytes inside a 12-byte packet.
        body = struct.pack(">I", 1) + struct.pack(">I", 0xFFFF) + b"abc"
        bad_open = struct.pack(">IB", len(body) + 1, FXP_OPEN) + body
        run_step("truncated OPEN after INIT", malformed_after_init, transport,
                 "OPEN with overlong string", bad_open)
        unknown = struct.pack(">IB", 5, 0xEE) + struct.pack(">I", 9)
        run_step("unknown packet type after INIT", malformed_after_init, transport,
                 "unknown packet type 238", unknown)
        # The SSH connection carrying the bad channels must still open good ones.
        client = sftp_client(transport)
        check(isinstance(client.listdir("/"), list),
              "same SSH connection still serves a new SFTP session")
        client.close()
    finally:
        transport.close()

    transport = connect_default(args)
    try:
        client = sftp_client(transport)
        write_remote(client, "after-malformed.txt", b"fine")
        check(read_remote(client, "after-malformed.txt") == b"fine",
              "a new connection works after the malformed sessions")
        client.close()
    finally:
        transport.close()


# --------------------------------------------------------------------------- auth failure


def run_expect_auth_failure(args):
    creds = []
    if args.password is not None:
        creds.append(("password", {"password": args.password}))
    if args.key is not None:
        creds.append(("publickey", {"key": load_key(args.key)}))
    if not creds:
        fail("--expect-auth-failure needs --password and/or --key")
    for label, cred in creds:
        try:
            transport = connect(args, **cred)
        except paramiko.AuthenticationException as exc:
            ok(f"{label} login of {args.user!r} refused ({type(exc).__name__})")
            continue
        transport.close()
        fail(f"{label} login of {args.user!r} was accepted")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--key", help="OpenSSH ed25519 private key file")
    parser.add_argument("--password")
    parser.add_argument("--home", help="the user's home dir on disk, for on-disk checks")
    parser.add_argument("--malformed", action="store_true")
    parser.add_argument("--expect-auth-failure", action="store_true")
    args = parser.parse_args()
    if args.key is None and args.password is None:
        parser.error("give --key and/or --password")

    if args.expect_auth_failure:
        run_step("auth failure", run_expect_auth_failure, args)
    elif args.malformed:
        run_malformed(args)
    else:
        run_default(args)

    if FAILURES:
        print(f"\n{len(FAILURES)} check(s) FAILED:")
        for msg in FAILURES:
            print(f"  - {msg}")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001
        traceback.print_exc(file=sys.stdout)
        print("FAIL: unexpected error")
        sys.exit(1)

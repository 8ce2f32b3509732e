#!/usr/bin/env python3
"""Opens N authenticated SFTP sessions to a server, keeps them idle, and reports the
server's memory before and after.

Usage: idle_sessions.py HOST PORT USER KEY N SERVER_PID [LABEL]
The resident (RSS) and proportional (PSS) memory of SERVER_PID and all its descendants
(OpenSSH forks a process or two per session plus sftp-server) is summed from
/proc/PID/smaps_rollup before and after. Prints one JSON line, or with LABEL one
markdown table row: label, sessions, PSS and RSS KiB per session, PSS before → after
in MiB.
"""
import asyncio
import json
import os
import sys
import time

import asyncssh


def descendants(root):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [int(root)]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def memory(root):
    pids = descendants(root)
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return {"processes": len(pids), "rss_kib": rss, "pss_kib": pss}


async def open_session(host, port, user, key, sem):
    async with sem:
        conn = await asyncssh.connect(
            host, port=port, username=user, client_keys=[key], known_hosts=None,
            agent_path=None, password=None, kbdint_auth=False,
        )
        sftp = await conn.start_sftp_client()
        await sftp.realpath(".")
        return conn, sftp


async def main():
    host, port, user, key, n, server_pid = sys.argv[1:7]
    n = int(n)
    before = memory(server_pid)
    sem = asyncio.Semaphore(16)
    start = time.monotonic()
    sessions = await asyncio.gather(
        *(open_session(host, int(port), user, asyncssh.read_private_key(key), sem) for _ in range(n))
    )
    opened = time.monotonic() - start
    await asyncio.sleep(2)  # let the server settle
    after = memory(server_pid)
    per = (after["pss_kib"] - before["pss_kib"]) / n
    rss_per = (after["rss_kib"] - before["rss_kib"]) / n
    if len(sys.argv) > 7:
        print(f"| {sys.argv[7]} | {n} | {per:.1f} | {rss_per:.1f} "
              f"| {before['pss_kib'] / 1024:.0f} → {after['pss_kib'] / 1024:.0f} |")
    else:
        print(json.dumps({"sessions": n, "open_seconds": round(opened, 2), "before": before,
                          "after": after, "pss_kib_per_session": round(per, 1),
                          "rss_kib_per_session": round(rss_per, 1)}))
    for conn, sftp in sessions:
        sftp.exit()
        conn.close()


asyncio.run(main())

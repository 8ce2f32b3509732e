#!/usr/bin/env python3
"""Opens N authenticated SFTP sessions to a server, keeps them idle, and reports the
server's memory before and after.

Usage: idle_sessions.py HOST PORT USER KEY N PIDS_CMD
PIDS_CMD is a shell command printing the server's process ids (one per line); it is
run before and after, and the resident (RSS) and proportional (PSS) memory of those
processes is summed from /proc/PID/smaps_rollup. Prints one JSON line.
"""
import asyncio
import json
import subprocess
import sys
import time

import asyncssh


def memory(pids_cmd):
    pids = subprocess.run(pids_cmd, shell=True, capture_output=True, text=True).stdout.split()
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
    host, port, user, key, n, pids_cmd = sys.argv[1:7]
    n = int(n)
    before = memory(pids_cmd)
    sem = asyncio.Semaphore(16)
    start = time.monotonic()
    sessions = await asyncio.gather(
        *(open_session(host, int(port), user, asyncssh.read_private_key(key), sem) for _ in range(n))
    )
    opened = time.monotonic() - start
    await asyncio.sleep(2)  # let the server settle
    after = memory(pids_cmd)
    per = (after["pss_kib"] - before["pss_kib"]) / n
    print(json.dumps({"sessions": n, "open_seconds": round(opened, 2), "before": before,
                      "after": after, "pss_kib_per_session": round(per, 1),
                      "rss_kib_per_session": round((after["rss_kib"] - before["rss_kib"]) / n, 1)}))
    for conn, sftp in sessions:
        sftp.exit()
        conn.close()


asyncio.run(main())

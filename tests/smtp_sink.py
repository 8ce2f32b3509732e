#!/usr/bin/env python3
"""An SMTP server for the event e-mail tests (aiosmtpd): every message it accepts is
written to OUTDIR as <n>.eml, with the envelope in <n>.json. With USER and PASSWORD,
AUTH (PLAIN, LOGIN) is required and checked.

Usage: smtp_sink.py PORT OUTDIR [USER PASSWORD]
Prints "ready" once it listens; runs until killed.
"""

import json
import os
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

PORT = int(sys.argv[1])
OUTDIR = sys.argv[2]
CREDS = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(OUTDIR, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "auth": session.authenticated}, f)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    if CREDS is None:
        return AuthResult(success=True)
    ok = isinstance(auth_data, LoginPassword) and \
        (auth_data.login.decode(), auth_data.password.decode()) == CREDS
    return AuthResult(success=ok)


kwargs = {}
if CREDS is not None:
    kwargs = {"authenticator": authenticator, "auth_required": True,
              "auth_require_tls": False}
controller = Controller(Sink(), hostname="127.0.0.1", port=PORT, **kwargs)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()

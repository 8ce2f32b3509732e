#!/usr/bin/env python3
"""An HTTP server for the event action tests: every request is appended to OUTFILE as
one JSON line (method, path with query, headers, body as text) and answered with
STATUS (200 unless given).

Usage: http_sink.py PORT OUTFILE [STATUS]
Prints "ready" once it listens; runs until killed.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
OUTFILE = sys.argv[2]
STATUS = int(sys.argv[3]) if len(sys.argv) > 3 else 200


class Handler(BaseHTTPRequestHandler):
    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {"method": self.command, "path": self.path,
                  "headers": {k.lower(): v for k, v in self.headers.items()},
                  "body": body.decode("latin-1")}
        with open(OUTFILE, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.send_response(STATUS)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()

"""LatencyInjectingScim: a minimal SCIM 2.0 stand-in that sleeps on every request.

Not a SCIM implementation to test against (the real scim2-server does that): it only adds a
fixed latency so the executor's scheduling can be compared with the ideal time. Tenants are
path prefixes /t0/v2 ... /tN/v2, each seeded with USERS users u0..u{USERS-1}.

    python benches/latency_scim.py PORT TENANTS USERS LATENCY_MS
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

port, tenants, users, latency = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000
store = {f"t{t}": {f"u{i}": {"active": True, "version": 1} for i in range(users)} for t in range(tenants)}
lock = threading.Lock()


def user(uid, u):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": uid,
        "userName": f"{uid}@acme.example",
        "emails": [{"value": f"{uid}@acme.example"}],
        "active": u["active"],
        "meta": {"version": f'W/"{u["version"]}"'},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        time.sleep(latency)
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")  # t0 v2 Users [id]
        tenant = store.get(parts[0]) if parts else None
        if tenant is None or len(parts) < 3:
            return self.reply(404, {"detail": "unknown tenant"})
        if parts[2] == "Groups":
            return self.reply(200, {"totalResults": 0, "Resources": []})
        if len(parts) == 3:
            q = parse_qs(url.query)
            start, count = int(q.get("startIndex", ["1"])[0]), int(q.get("count", ["100"])[0])
            ids = sorted(tenant, key=lambda k: int(k[1:]))
            page = ids[start - 1 : start - 1 + count]
            return self.reply(200, {"totalResults": len(ids), "startIndex": start, "Resources": [user(i, tenant[i]) for i in page]})
        uid = parts[3]
        with lock:
            u = tenant.get(uid)
            if u is None:
                return self.reply(404, {"detail": "not found"})
            if self.command == "PATCH":
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                if self.headers.get("If-Match") not in (None, f'W/"{u["version"]}"'):
                    return self.reply(412, {"detail": "changed"})
                u["active"] = False
                u["version"] += 1
                return self.reply(204)
            return self.reply(200, user(uid, u))

    do_GET = do_PATCH = do_DELETE = route


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
server.request_queue_size = 256
server.serve_forever()

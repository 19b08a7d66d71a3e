# A Python app on a port: the standard library's HTTP server, nothing Lambda-specific. The
# extension starts it (`command`) in each execution environment and waits for GET /health.
import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def _json(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self._json("ok")
        if self.path == "/":
            return self._json({"framework": "python http.server", "message": "hello from Python behind lambda-dispatch"})
        m = re.fullmatch(r"/users/([^/?]+)", self.path)
        if m:
            return self._json({"id": m.group(1)})
        self._json({"error": "not found"}, 404)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b"null"
        if self.path == "/echo":
            return self._json({"received": json.loads(body or b"null")})
        self._json({"error": "not found"}, 404)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "3001"))), Handler).serve_forever()

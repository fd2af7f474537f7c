#!/usr/bin/env python3
"""Static file server for the demo page, the npm package and model files, on 127.0.0.1.

usage: serve.py [--port 8080] [--mount URL_PREFIX=DIR ...] [--no-range] ROOT

Serves ROOT at /, and each --mount DIR at its URL prefix (e.g. --mount /models=models). Model
downloads need what a CDN gives: HTTP Range requests (206 with Content-Range), ETag and
Last-Modified, Accept-Ranges, and CORS headers. --no-range makes the server ignore Range headers
(whole body, 200), as some servers do.

For tests, the server also answers:
  GET  /__stats            JSON: every request so far, {"method","path","range","status"}
  POST /__reset            forget the recorded requests
  POST /__control          JSON body, any of:
       {"down": true|false}          while down, file requests get 503 (as a failing server)
       {"fail_after_bytes": N}       drop the connection after sending N more file bytes (0: off)
       {"etag_generation": N}        change every ETag (as if the files were replaced)
       {"no_range": true|false}      ignore Range headers from now on
  POST /__result           store the body; GET /__result returns it (404 until posted)
Pass --port 0 to take a free port; the chosen port is printed on the first line of stdout.
"""
import argparse
import email.utils
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".gguf": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".ts": "text/plain; charset=utf-8",
}
CHUNK = 1 << 16


class State:
    def __init__(self, no_range):
        self.lock = threading.Lock()
        self.requests = []
        self.down = False
        self.fail_after_bytes = 0
        self.etag_generation = 0
        self.no_range = no_range
        self.result = None


def make_handler(root, mounts, state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def record(self, status, rng=None):
            with state.lock:
                state.requests.append({"method": self.command, "path": urllib.parse.urlsplit(self.path).path, "range": rng, "status": status})

        def send_json(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.cors()
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a test cancelling a download): nothing to answer.
                self.close_connection = True

        def resolve(self, url_path):
            path = urllib.parse.unquote(url_path)
            for prefix, directory in mounts:
                if path == prefix or path.startswith(prefix + "/"):
                    return safe_join(directory, path[len(prefix):])
            return safe_join(root, path)

        def do_OPTIONS(self):
            self.send_response(204)
            self.cors()
            self.send_header("Content-Length", "0")
            self.end_headers()

        def cors(self):
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "Range, If-Range, Content-Type")
            self.send_header("Access-Control-Expose-Headers", "Content-Range, Content-Length, ETag, Last-Modified, Accept-Ranges")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = self.rfile.read(length) if length else b""
            path = urllib.parse.urlsplit(self.path).path
            if path == "/__reset":
                with state.lock:
                    state.requests = []
                return self.send_json(200, {"ok": True})
            if path == "/__control":
                cmd = json.loads(body or b"{}")
                with state.lock:
                    if "down" in cmd:
                        state.down = bool(cmd["down"])
                    if "fail_after_bytes" in cmd:
                        state.fail_after_bytes = int(cmd["fail_after_bytes"])
                    if "etag_generation" in cmd:
                        state.etag_generation = int(cmd["etag_generation"])
                    if "no_range" in cmd:
                        state.no_range = bool(cmd["no_range"])
                return self.send_json(200, {"ok": True})
            if path == "/__result":
                with state.lock:
                    state.result = body
                return self.send_json(200, {"ok": True})
            self.send_json(404, {"error": "unknown endpoint"})

        def do_HEAD(self):
            self.serve(head=True)

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            if path == "/__stats":
                with state.lock:
                    return self.send_json(200, {"requests": list(state.requests)})
            if path == "/__result":
                with state.lock:
                    result = state.result
                if result is None:
                    return self.send_json(404, {"error": "no result yet"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(result)))
                self.end_headers()
                self.wfile.write(result)
                return
            self.serve(head=False)

        def serve(self, head):
            url_path = urllib.parse.urlsplit(self.path).path
            file_path = self.resolve(url_path)
            if file_path and os.path.isdir(file_path):
                file_path = os.path.join(file_path, "index.html")
            if not file_path or not os.path.isfile(file_path):
                self.record(404)
                return self.send_json(404, {"error": "not found"})
            with state.lock:
                down, no_range, generation = state.down, state.no_range, state.etag_generation
            if down:
                self.record(503)
                return self.send_json(503, {"error": "server unavailable"})
            st = os.stat(file_path)
            size = st.st_size
            etag = '"%x-%x-%d"' % (int(st.st_mtime), size, generation)
            start, end, status = 0, size - 1, 200
            rng = self.headers.get("Range")
            if rng and not no_range:
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
                if not m or (m.group(1) == "" and m.group(2) == ""):
                    self.record(416, rng)
                    return self.send_json(416, {"error": "bad range"})
                if m.group(1) == "":
                    start, end = max(0, size - int(m.group(2))), size - 1
                else:
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                if start >= size or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.cors()
                    self.end_headers()
                    return self.record(416, rng)
                status = 206
            self.record(status, rng if status == 206 else None)
            self.send_response(status)
            self.send_header("Content-Type", TYPES.get(os.path.splitext(file_path)[1], "application/octet-stream"))
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            self.send_header("Cache-Control", "no-cache")
            if not no_range:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.cors()
            self.end_headers()
            if head:
                return
            self.send_body(file_path, start, end)

        def send_body(self, file_path, start, end):
            remaining = end - start + 1
            with open(file_path, "rb") as f:
                f.seek(start)
                while remaining > 0:
                    data = f.read(min(CHUNK, remaining))
                    if not data:
                        break
                    with state.lock:
                        budget = state.fail_after_bytes
                        if budget:
                            if len(data) >= budget:
                                data = data[:budget]
                                state.fail_after_bytes = 0
                                cut = True
                            else:
                                state.fail_after_bytes = budget - len(data)
                                cut = False
                        else:
                            cut = False
                    try:
                        self.wfile.write(data)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    remaining -= len(data)
                    if cut:
                        self.close_connection = True
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return

    return Handler


def safe_join(directory, url_path):
    full = os.path.realpath(os.path.join(directory, url_path.lstrip("/")))
    base = os.path.realpath(directory)
    return full if full == base or full.startswith(base + os.sep) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--mount", action="append", default=[], help="URL_PREFIX=DIR")
    ap.add_argument("--no-range", action="store_true")
    a = ap.parse_args()
    mounts = []
    for m in a.mount:
        prefix, _, directory = m.partition("=")
        mounts.append(("/" + prefix.strip("/"), directory))
    mounts.sort(key=lambda m: -len(m[0]))
    state = State(a.no_range)
    server = QuietServer(("127.0.0.1", a.port), make_handler(a.root, mounts, state))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    """A browser that closes a kept-alive connection (after a cancelled download, say) is normal
    traffic, not an error worth a traceback."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


if __name__ == "__main__":
    sys.exit(main())

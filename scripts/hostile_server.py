#!/usr/bin/env python3
"""A loopback HTTP server that answers every POST (any path, e.g. /v1/chat/completions) with one
hostile response, for scripts/measure-hostile-rss.sh. Bodies are generated on the fly in 64 KiB
pieces, so the server itself stays small however large the response is. If the client hangs up,
the server stops writing quietly and serves the next connection.

Cases (sizes are multiplied by --scale, or by $HOSTILE_SCALE when --scale is absent):
  long-line    200 text/event-stream: one SSE line `data: aaaa...` of 600 MB, never a newline
  huge-error   500 with a 300 MB body `{"error":{"message":"xxxx...` that is never closed
  huge-json    200 application/json: a chat completion whose content string is 300 MB
  huge-event   200 event stream: one `data:` chunk of 100 MB, then `data: [DONE]`
  many-deltas  200 event stream: 2,000,000 one-word OpenAI chunks, a finish chunk, `data: [DONE]`

Usage: scripts/hostile_server.py --port 0 --case NAME [--scale F]
Binds 127.0.0.1 only; the first line on stdout is the port it bound."""
import argparse, os, socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PIECE = 64 * 1024
MB = 1000 * 1000
SSE = "text/event-stream"
JSON = "application/json"
DELTA = b'data: {"choices":[{"index":0,"delta":{"content":"word "}}]}\n\n'
FINISH = (b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
          b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2000000}}\n\n'
          b'data: [DONE]\n\n')


def filler(byte, total):
    """`total` copies of `byte`, as 64 KiB pieces (one shared buffer, never the whole body)."""
    block = byte * PIECE
    full, rest = divmod(total, PIECE)
    for _ in range(full):
        yield block
    if rest:
        yield block[:rest]


def repeat(unit, count):
    """`unit` repeated `count` times, batched into pieces of about 64 KiB."""
    per = max(1, PIECE // len(unit))
    block = unit * per
    full, rest = divmod(count, per)
    for _ in range(full):
        yield block
    if rest:
        yield unit * rest


def case_body(name, scale):
    """(status, content type, body length, iterator of byte pieces) for one case."""
    n = lambda size: max(1, int(size * scale))
    if name == "long-line":
        size = n(600 * MB)
        head = b"data: "
        return 200, SSE, len(head) + size, [head], filler(b"a", size)
    if name == "huge-error":
        size = n(300 * MB)
        head = b'{"error":{"message":"'
        return 500, JSON, len(head) + size, [head], filler(b"x", size)
    if name == "huge-json":
        size = n(300 * MB)
        head = (b'{"id":"chatcmpl-hostile","object":"chat.completion","created":0,"model":"hostile",'
                b'"choices":[{"index":0,"message":{"role":"assistant","content":"')
        tail = (b'"},"finish_reason":"stop"}],'
                b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')
        return 200, JSON, len(head) + size + len(tail), [head], filler(b"x", size), [tail]
    if name == "huge-event":
        size = n(100 * MB)
        head = b'data: {"choices":[{"index":0,"delta":{"content":"'
        tail = b'"}}]}\n\ndata: [DONE]\n\n'
        return 200, SSE, len(head) + size + len(tail), [head], filler(b"x", size), [tail]
    if name == "many-deltas":
        count = n(2_000_000)
        return 200, SSE, len(DELTA) * count + len(FINISH), repeat(DELTA, count), [FINISH]
    raise ValueError(name)


CASES = ["long-line", "huge-error", "huge-json", "huge-event", "many-deltas"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile"
    sys_version = ""

    def log_message(self, *args):
        pass

    def do_POST(self):
        try:
            length = int(self.headers.get("content-length") or 0)
            while length > 0:  # drain the request so the client is not reset mid-send
                got = self.rfile.read(min(length, PIECE))
                if not got:
                    break
                length -= len(got)
            status, ctype, total, *parts = case_body(self.server.case, self.server.scale)
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(total))
            self.send_header("connection", "close")
            self.end_headers()
            for part in parts:
                for piece in part:
                    self.wfile.write(piece)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            pass  # the client gave up: that is the point
        self.close_connection = True

    def do_GET(self):
        body = b'{"error":{"message":"hostile_server answers POST only"}}'
        try:
            self.send_response(404)
            self.send_header("content-type", JSON)
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            pass
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    ap.add_argument("--case", required=True, choices=CASES)
    ap.add_argument("--scale", type=float, default=float(os.environ.get("HOSTILE_SCALE", "1")),
                    help="multiply every size (default $HOSTILE_SCALE or 1)")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.case, server.scale = args.case, args.scale
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

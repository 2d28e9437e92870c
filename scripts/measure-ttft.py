#!/usr/bin/env python3
"""Measures the TTFT paddock adds: from the moment a local server writes the first content chunk
to the moment `paddock ask` writes the first byte of the answer to its stdout pipe (DESIGN.md §6:
at most 1 ms). One process runs both the server and the reader, so both times come from one clock.
Usage: scripts/measure-ttft.py [PADDOCK_BINARY] [RUNS]"""
import os, socket, statistics, subprocess, sys, tempfile, threading, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/paddock"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
CHUNK = 'data: {"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}\n\n'
END = ('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
       'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":3}}\n\ndata: [DONE]\n\n')

def chunked(text):
    data = text.encode()
    return b"%x\r\n%s\r\n" % (len(data), data)

def serve(listener, sent_at):
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += conn.recv(65536)
    head, body = buf.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    time.sleep(0.2)  # the model "thinks"; paddock is idle and waiting
    sent_at.append(time.monotonic())
    conn.sendall(chunked(CHUNK % "Hello"))
    time.sleep(0.05)
    conn.sendall(chunked(CHUNK % " world") + chunked(END) + b"0\r\n\r\n")
    conn.close()

def once(home):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    sent_at = []
    threading.Thread(target=serve, args=(listener, sent_at), daemon=True).start()
    env = {"HOME": home, "PATH": os.environ.get("PATH", ""), "OPENAI_API_KEY": "x",
           "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    p = subprocess.Popen([BIN, "ask", "--no-save", "-p", "openai", "hi"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    first = os.read(p.stdout.fileno(), 1)
    got_at = time.monotonic()
    p.stdout.read()
    p.wait()
    listener.close()
    assert first == b"H", first
    return (got_at - sent_at[0]) * 1000

with tempfile.TemporaryDirectory() as home:
    samples = sorted(once(home) for _ in range(RUNS))
print(f"added TTFT over {RUNS} runs: median {statistics.median(samples):.3f} ms, "
      f"p90 {samples[int(0.9 * (len(samples) - 1))]:.3f} ms, max {samples[-1]:.3f} ms")

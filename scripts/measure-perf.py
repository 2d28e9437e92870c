#!/usr/bin/env python3
"""Every row of the performance table (DESIGN.md §6; issue 17), for one or more paddock builds
measured interleaved in one run, with the peers beside them where they are installed: curl, and
aichat (optional, never needed: `cargo install aichat --locked`; found on PATH or as $AICHAT).
Servers are `paddock mock` (its own process: only the client is measured) or, for first-token
timings, a server inside this script, so both ends read one clock. A measurement, not a test.

Usage: scripts/measure-perf.py [--rounds N] [--only ROW,...] [NAME=BINARY ...]
  With no binary, builds and measures target/release/paddock. Rows: ask-flood, ask-short,
  ask-ttft, tui-paced4, tui-paced1, tui-flood, tui-settle, tui-first-frame, tui-first-token, tui-transcript,
  bench, help.
  Example: scripts/measure-perf.py before=/tmp/paddock-old after=target/release/paddock
"""
import argparse, os, pty, re, select, shutil, signal, socket, statistics, subprocess, sys
import tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TMUX = f"paddock-perf-{os.getpid()}"
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mock:
    """`paddock mock` serving `models` [(name, tokens_per_sec, tokens)] on a port of its own."""

    def __init__(self, binary, work, models):
        self.port = free_port()
        path = os.path.join(work, f"scenario-{self.port}.toml")
        with open(path, "w") as f:
            f.write("seed = 1\n")
            for name, tps, tokens in models:
                f.write(f'[[model]]\nname = "{name}"\nprotocol = "openai"\nttft_ms = 100\n'
                        f"tokens_per_sec = {tps}\njitter = 0\nmin_answer_tokens = {tokens}\n"
                        f"max_answer_tokens = {tokens}\ncontext_window = 100000000\n")
        self.proc = subprocess.Popen([binary, "mock", "--addr", f"127.0.0.1:{self.port}",
                                      "--scenario", path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}/v1"
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/models", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def paddock_config(work, base, models):
    path = os.path.join(work, f"config-{len(models)}-{base.split(':')[-1].split('/')[0]}.toml")
    with open(path, "w") as f:
        for m in models:
            f.write(f'[[provider]]\nname = "p{m}"\nkind = "openai"\nmodel = "{m}"\n'
                    f'base_url = "{base}"\n')
    return path


def aichat_binary():
    return os.environ.get("AICHAT") or shutil.which("aichat")


def aichat_env(work, base, model):
    conf = os.path.join(work, f"aichat-{model}")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "config.yaml"), "w") as f:
        f.write(f"model: mock:{model}\nstream: true\nsave: false\nclients:\n"
                f"- type: openai-compatible\n  name: mock\n  api_base: {base}\n  api_key: x\n"
                f"  models:\n  - name: {model}\n")
    return {"AICHAT_CONFIG_DIR": conf}


def env_with(work, extra=None):
    env = {"HOME": work, "PATH": os.environ.get("PATH", ""), "TERM": "xterm-256color",
           "XDG_DATA_HOME": os.path.join(work, "data"),
           "XDG_STATE_HOME": os.path.join(work, "state")}
    env.update(extra or {})
    return env


def timed(cmd, env):
    """Run `cmd`, its output drained through a pipe: (CPU seconds, peak RSS in MB, wall s)."""
    out = tempfile.mktemp()
    start = time.monotonic()
    subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", out] + cmd, env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - start
    user, sys_, rss = open(out).read().split()[-3:]
    os.unlink(out)
    return float(user) + float(sys_), int(rss) / 1024, wall


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tmux(*args):
    return subprocess.run(["tmux", "-L", TMUX] + list(args), capture_output=True,
                          text=True).stdout


def in_tmux(cmd, env, width=200, height=50):
    """Start `cmd` in a fresh tmux window; its pid."""
    tmux("kill-server")
    line = " ".join(f"{k}={v}" for k, v in env.items())
    tmux("new-session", "-d", "-x", str(width), "-y", str(height), f"env {line} {cmd}")
    for _ in range(100):
        time.sleep(0.05)
        pids = tmux("list-panes", "-F", "#{pane_pid}").split()
        if pids:
            children = subprocess.run(["pgrep", "-P", pids[0]], capture_output=True,
                                      text=True).stdout.split()
            # `env` execs the command: the pane's process is the command itself.
            return int(children[0]) if children else int(pids[0])
    raise RuntimeError("tmux did not start")


def sample_cpu(pid, seconds):
    c0 = cpu_ticks(pid)
    time.sleep(seconds)
    return (cpu_ticks(pid) - c0) / HZ / seconds * 100


def panes_done():
    return tmux("capture-pane", "-p").count("done (")


# ---- rows ---------------------------------------------------------------------------------

def row_ask_flood(bins, work, rounds, report):
    chunks = 100_000
    mock = Mock(bins[0][1], work, [("flood", 0, chunks)])
    env = env_with(work, {"OPENAI_BASE_URL": mock.base, "OPENAI_API_KEY": "x",
                          "OPENAI_MODEL": "flood"})
    runs = {name: [] for name, _ in bins}
    peers = {}
    try:
        for _ in range(rounds):
            for name, binary in bins:
                runs[name].append(timed([binary, "ask", "-p", "openai", "go"], env))
            if aichat_binary():
                peers.setdefault("aichat", []).append(
                    timed([aichat_binary(), "go"], {**env, **aichat_env(work, mock.base, "flood")}))
            body = '{"model":"flood","stream":true,"messages":[{"role":"user","content":"go"}]}'
            peers.setdefault("curl", []).append(timed(
                ["curl", "-sN", mock.base + "/chat/completions", "-H",
                 "content-type: application/json", "-d", body], env))
    finally:
        mock.close()
    for name, samples in list(runs.items()) + list(peers.items()):
        cpu = statistics.median(s[0] for s in samples) / chunks * 1e6
        rss = statistics.median(s[1] for s in samples)
        report("ask, CPU per chunk, flood (goal <= 5 us)", name, f"{cpu:.2f} us/chunk")
        report("ask, peak RSS, 100k chunks, saving (goal <= aichat's)", name, f"{rss:.1f} MB")


def row_ask_short(bins, work, rounds, report):
    """Peak RSS of `ask` for a short answer (20 chunks), beside aichat's and curl's."""
    mock = Mock(bins[0][1], work, [("short", 0, 20)])
    env = env_with(work, {"OPENAI_BASE_URL": mock.base, "OPENAI_API_KEY": "x",
                          "OPENAI_MODEL": "short"})
    runs = {}
    try:
        for _ in range(rounds * 3):
            for name, binary in bins:
                runs.setdefault(name, []).append(timed([binary, "ask", "-p", "openai", "go"], env))
            if aichat_binary():
                runs.setdefault("aichat", []).append(
                    timed([aichat_binary(), "go"], {**env, **aichat_env(work, mock.base, "short")}))
    finally:
        mock.close()
    for name, samples in runs.items():
        report("ask, peak RSS, a 20-chunk answer, saving (goal <= aichat's)", name,
               f"{statistics.median(s[1] for s in samples):.1f} MB")


def row_ask_ttft(bins, work, rounds, report):
    for name, binary in bins:
        out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/measure-ttft.py"),
                              binary, str(10 * rounds)], capture_output=True, text=True).stdout
        report("ask, added TTFT through a pipe (goal <= 1 ms)", name, out.strip())


def tui_paced(bins, work, rounds, report, panes):
    models = "abcd"[:panes]
    mock = Mock(bins[0][1], work, [(m, 200, 4000) for m in models])
    config = paddock_config(work, mock.base, models)
    label = f"TUI, {panes} pane{'s' if panes > 1 else ''} x 200 chunks/s, CPU of a core"
    goal = " (goal <= 5%)" if panes > 1 else " (goal <= 0.5x aichat)"
    results = {name: [] for name, _ in bins}
    try:
        for _ in range(rounds):
            for name, binary in bins:
                pid = in_tmux(f"{binary} --config {config}", env_with(work))
                time.sleep(1.0)
                tmux("send-keys", "go", "Enter")
                time.sleep(1.0)
                results[name].append(sample_cpu(pid, 6))
                tmux("kill-server")
            if panes == 1 and aichat_binary():
                env = env_with(work, aichat_env(work, mock.base, "a"))
                pid = in_tmux(f"{aichat_binary()} go", env)
                time.sleep(1.2)
                results.setdefault("aichat (in tmux)", []).append(sample_cpu(pid, 6))
                tmux("kill-server")
    finally:
        tmux("kill-server")
        mock.close()
    for name, samples in results.items():
        report(label + goal, name, f"{statistics.median(samples):.1f}%")


def row_tui_paced4(bins, work, rounds, report):
    tui_paced(bins, work, rounds, report, 4)


def row_tui_paced1(bins, work, rounds, report):
    tui_paced(bins, work, rounds, report, 1)


def row_tui_flood(bins, work, rounds, report):
    chunks = 100_000
    mock = Mock(bins[0][1], work, [(m, 0, chunks) for m in "abcd"])
    config = paddock_config(work, mock.base, "abcd")
    body = '{"model":"a","stream":true,"messages":[{"role":"user","content":"go"}]}'
    try:
        # The server's own pace: four streams read by curl at once.
        start = time.monotonic()
        curls = [subprocess.Popen(["curl", "-sN", mock.base + "/chat/completions", "-H",
                                   "content-type: application/json", "-d", body],
                                  stdout=subprocess.DEVNULL) for _ in range(4)]
        for c in curls:
            c.wait()
        report("TUI, 4 panes flooding 100k chunks each (goal: keeps up)", "server pace (4 curls)",
               f"{(time.monotonic() - start) * 1000:.0f} ms")
        for _ in range(rounds):
            for name, binary in bins:
                pid = in_tmux(f"{binary} --config {config}", env_with(work))
                time.sleep(1.0)
                c0, start = cpu_ticks(pid), time.monotonic()
                tmux("send-keys", "go", "Enter")
                while panes_done() < 4 and time.monotonic() - start < 120:
                    time.sleep(0.05)
                took = time.monotonic() - start
                cpu = (cpu_ticks(pid) - c0) / HZ / took * 100
                time.sleep(1.0)
                report("TUI, 4 panes flooding 100k chunks each (goal: keeps up)", name,
                       f"all done {took * 1000:.0f} ms after the prompt, {cpu:.0f}% of a core")
                report("TUI, memory after 4 x 100k-chunk answers (goal <= 40 MB)", name,
                       f"{rss_mb(pid):.1f} MB")
                tmux("kill-server")
    finally:
        tmux("kill-server")
        mock.close()


class Replay:
    """A server in this script answering every chat request with `body`, a recorded SSE
    response, noting when each answer's last byte went to the kernel: the moment DESIGN.md §6's
    flood target ("screen settles <= 0.5 s after the server's last byte") counts from."""

    def __init__(self, body):
        self.body, self.last = body, []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn):
        with conn:
            buf = b""
            while b"\r\n\r\n" not in buf:
                more = conn.recv(65536)
                if not more:
                    return
                buf += more
            head, rest = buf.split(b"\r\n\r\n", 1)
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            while length and len(rest) < int(length.group(1)):
                rest += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"content-length: %d\r\nconnection: close\r\n\r\n" % len(self.body))
            for i in range(0, len(self.body), 65536):
                conn.sendall(self.body[i:i + 65536])
            self.last.append(time.monotonic())

    def close(self):
        self.listener.close()


def row_tui_settle(bins, work, rounds, report):
    label = "TUI, 4 x 100k-chunk flood: screen settled after the server's last byte (goal <= 500 ms)"
    mock = Mock(bins[0][1], work, [("a", 0, 100_000)])
    request = urllib.request.Request(
        mock.base + "/chat/completions", headers={"content-type": "application/json"},
        data=b'{"model":"a","stream":true,"messages":[{"role":"user","content":"go"}]}')
    body = urllib.request.urlopen(request, timeout=60).read()
    mock.close()
    replay = Replay(body)
    config = paddock_config(work, replay.base, "abcd")
    try:
        for _ in range(rounds):
            for name, binary in bins:
                replay.last.clear()
                in_tmux(f"{binary} --config {config}", env_with(work))
                time.sleep(1.0)
                start = time.monotonic()
                tmux("send-keys", "go", "Enter")
                while panes_done() < 4 and time.monotonic() - start < 120:
                    time.sleep(0.02)
                done = time.monotonic()
                if len(replay.last) == 4:
                    report(label, name, f"{(done - max(replay.last)) * 1000:.0f} ms "
                           f"(the server's last byte {(max(replay.last) - start) * 1000:.0f} ms "
                           f"after the prompt)")
                tmux("kill-server")
    finally:
        tmux("kill-server")
        replay.close()


def first_on_screen(prepare, prompt):
    """Spawn `prepare(base_url)`'s (command, env) on a pty of 160x45 against a server in this
    process, type `prompt`; ms from the server writing the first chunk to its word reaching
    the terminal."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    sent = []

    def serve():
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += conn.recv(65536)
        head, body = buf.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        time.sleep(0.3)

        def chunk(text):
            data = text.encode()
            return b"%x\r\n%s\r\n" % (len(data), data)
        event = 'data: {"choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n'
        sent.append(time.monotonic())
        conn.sendall(chunk(event % "Zyxwvu"))
        time.sleep(0.3)
        end = ('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
               'data: [DONE]\n\n')
        conn.sendall(chunk(end) + b"0\r\n\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    cmd, env = prepare(f"http://127.0.0.1:{port}/v1")
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(cmd[0], cmd, env)
    import fcntl, struct, termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
    seen, got = b"", None
    started = time.monotonic()
    typed = prompt is None
    while time.monotonic() - started < 15 and got is None:
        if not typed and time.monotonic() - started > 1.5:
            os.write(fd, prompt)
            typed = True
        ready, _, _ = select.select([fd], [], [], 0.01)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            # Answer cursor-position queries as a terminal does (aichat waits for them).
            for _ in range(data.count(b"\x1b[6n")):
                os.write(fd, b"\x1b[1;1R")
            seen = (seen + data)[-4096:]
            if sent and b"Zyxwvu" in seen:
                got = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    listener.close()
    return None if got is None else (got - sent[0]) * 1000


def row_tui_first_frame(bins, work, rounds, report):
    """From exec to the pane's title on a pty of 160x45 (goal: the first frame under 50 ms)."""
    import fcntl, struct, termios
    config = paddock_config(work, f"http://127.0.0.1:{free_port()}/v1", ["frame"])
    runs = {name: [] for name, _ in bins}
    for _ in range(rounds * 5):
        for name, binary in bins:
            start = time.monotonic()
            pid, fd = pty.fork()
            if pid == 0:
                os.execvpe(binary, [binary, "--config", config], env_with(work))
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
            seen, got = b"", None
            while time.monotonic() - start < 5 and got is None:
                ready, _, _ = select.select([fd], [], [], 0.01)
                if ready:
                    try:
                        seen += os.read(fd, 65536)
                    except OSError:
                        break
                    if b"pframe" in seen:
                        got = (time.monotonic() - start) * 1000
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)
            runs[name].append(got)
    for name, samples in runs.items():
        ok = [s for s in samples if s is not None]
        text = f"median {statistics.median(ok):.1f} ms over {len(ok)} runs" if ok else "not seen"
        report("TUI, first frame from exec (goal <= 50 ms)", name, text)


def row_tui_first_token(bins, work, rounds, report):
    label = "TUI, first token on screen (goal <= 1 frame, 33 ms)"
    runs = {}
    for _ in range(rounds * 3):
        for name, binary in bins:
            def tui(base, binary=binary):
                return [binary, "--config", paddock_config(work, base, "m")], env_with(work)
            runs.setdefault(name, []).append(first_on_screen(tui, b"hi\r"))
        if aichat_binary():
            def aichat(base):
                return [aichat_binary(), "hi"], env_with(work, aichat_env(work, base, "m"))
            runs.setdefault("aichat (the word on its terminal)", []).append(
                first_on_screen(aichat, None))
    for name, samples in runs.items():
        ok = [s for s in samples if s is not None]
        text = (f"median {statistics.median(ok):.2f} ms, max {max(ok):.2f} ms over {len(ok)} runs"
                if ok else "not seen")
        report(label, name, text)


def row_tui_transcript(bins, work, rounds, report):
    binaries = " ".join(f"{n}={b}" for n, b in bins)
    out = subprocess.run(["bash", os.path.join(ROOT, "scripts/measure-tui-transcript.sh"), "6"],
                         capture_output=True, text=True, env={**os.environ, "BINS": binaries})
    for line in out.stdout.splitlines():
        if "after a 1 MB transcript" in line:
            name, text = line.split(": ", 1)
            report("TUI, cost after a 1 MB transcript (goal: independent of length)", name, text)


def row_bench(bins, work, rounds, report):
    mock = Mock(bins[0][1], work, [("flood", 0, 20_000)])
    env = env_with(work, {"OPENAI_BASE_URL": mock.base, "OPENAI_API_KEY": "x",
                          "OPENAI_MODEL": "flood"})
    label = "bench, 256 concurrent flood streams (goal: all cores; <= 64 MB)"
    try:
        for _ in range(rounds):
            for name, binary in bins:
                cpu, rss, wall = timed([binary, "bench", "-p", "openai", "--runs", "512",
                                        "--concurrency", "256", "go"], env)
                report(label, name, f"{wall:.2f} s wall, {cpu / wall:.2f} cores, "
                                    f"peak RSS {rss:.0f} MB")
    finally:
        mock.close()


def row_help(bins, work, rounds, report):
    for name, binary in bins:
        start = time.monotonic()
        for _ in range(20):
            subprocess.run([binary, "--help"], stdout=subprocess.DEVNULL, check=False)
        report("--help (goal <= 10 ms)", name, f"{(time.monotonic() - start) / 20 * 1000:.2f} ms")


ROWS = {"ask-flood": row_ask_flood, "ask-short": row_ask_short, "ask-ttft": row_ask_ttft, "tui-paced4": row_tui_paced4,
        "tui-paced1": row_tui_paced1, "tui-flood": row_tui_flood, "tui-settle": row_tui_settle,
        "tui-first-frame": row_tui_first_frame, "tui-first-token": row_tui_first_token, "tui-transcript": row_tui_transcript,
        "bench": row_bench, "help": row_help}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default=",".join(ROWS))
    parser.add_argument("bins", nargs="*", metavar="NAME=BINARY")
    args = parser.parse_args()
    bins = [tuple(b.split("=", 1)) for b in args.bins]
    if not bins:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        bins = [("paddock", os.path.join(ROOT, "target/release/paddock"))]
    bins = [(n, os.path.abspath(b)) for n, b in bins]
    if not aichat_binary():
        print("aichat is not installed (optional: cargo install aichat --locked); "
              "its rows show paddock alone", file=sys.stderr)
    for row in args.only.split(","):
        results = {}

        def report(label, name, text):
            results.setdefault(label, []).append((name, text))
            print(f"  {row}: {name}: {text}", file=sys.stderr, flush=True)

        with tempfile.TemporaryDirectory() as work:
            try:
                ROWS[row](bins, work, args.rounds, report)
            finally:
                tmux("kill-server")
        for label, lines in results.items():
            print(f"\n{label}")
            for name, text in lines:
                print(f"  {name:<36} {text}", flush=True)


if __name__ == "__main__":
    main()

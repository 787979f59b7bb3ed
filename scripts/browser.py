#!/usr/bin/env python3
"""Headless Chromium on Tether's web view, over the DevTools protocol on a pipe (no ports, no
packages beyond Python's own): screenshots for the README, and watching the page change live
for the lab tests.

  browser.py shot URL OUT.png [--width 1280] [--height 900] [--full] [--wait-js EXPR]
  browser.py watch URL --expect NAME=EXPR [--expect ...] [--setup EXPR] [--final NAME=EXPR ...]
                     [--timeout 60] [--shot OUT.png]

`watch` prints one JSON line per happening: `ready` once the page loaded (the test injects its
fault after it), `seen` the first time each expectation's expression is true, then `done` with
whether the page was reloaded meanwhile (a marker set at load must still be there) and how many
times its script refreshed it, and each `--final` expression's value then (what must still hold
at the end, such as where the keyboard's focus is). `--setup` runs once the page has loaded, before
`ready`. Exit status 0 when every expectation was seen without a reload.
"""
import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    """One headless Chromium and one page in it."""

    def __init__(self, width, height):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not chromium:
            sys.exit("browser.py: no chromium (Debian's package: chromium)")
        self.profile = tempfile.mkdtemp(prefix="tether-chromium-")
        # Chromium reads commands on fd 3 and writes answers on fd 4. The pipes are moved above
        # those numbers first, so that placing them at 3 and 4 in the child never lands on itself.
        def high(fd):
            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
            os.close(fd)
            return moved
        cmd_r, cmd_w = (high(fd) for fd in os.pipe())
        res_r, res_w = (high(fd) for fd in os.pipe())

        def child():
            os.dup2(cmd_r, 3)
            os.dup2(res_w, 4)
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile, "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-sync", "--mute-audio", "--hide-scrollbars", "--force-color-profile=srgb", "about:blank"],
            preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        os.close(cmd_r)
        os.close(res_w)
        self.commands, self.answers = cmd_w, res_r
        self.buffer = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        self.size(width, height)

    def call(self, method, params=None, session=False, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.commands, data):]
        while True:
            answer = self.read(timeout)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.answers], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self.answers, 1 << 20)
            if not chunk:
                raise EOFError("chromium exited: " + self.chromium_log())
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def chromium_log(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def size(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def open(self, url, timeout=30):
        self.events = []
        result = self.call("Page.navigate", {"url": url}, session=True)
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self.read(max(0.1, deadline - time.monotonic())))

    def eval(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           session=True)
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    def shot(self, path, full=False):
        if full:
            height = self.eval("Math.ceil(document.documentElement.scrollHeight)") or 900
            width = self.eval("document.documentElement.clientWidth") or 1280
            self.size(width, min(int(height), 8000))
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def say(event, **fields):
    print(json.dumps({"event": event, "at": time.time(), **fields}), flush=True)


def shot(args):
    browser = Browser(args.width, args.height)
    try:
        browser.open(args.url)
        if args.wait_js:
            deadline = time.monotonic() + 30
            while not browser.eval(args.wait_js):
                if time.monotonic() > deadline:
                    sys.exit(f"browser.py: {args.wait_js} never held on {args.url}")
                time.sleep(0.1)
        if args.scroll_to:
            browser.eval(f"document.getElementById({json.dumps(args.scroll_to)}).scrollIntoView()")
        browser.shot(args.out, full=args.full)
        say("shot", path=args.out)
    finally:
        browser.close()


def watch(args):
    expectations = []
    for item in args.expect:
        name, _, expression = item.partition("=")
        expectations.append((name, expression))
    browser = Browser(args.width, args.height)
    try:
        browser.open(args.url)
        marker = browser.eval("window.__tetherMarker = String(Math.random()); window.__tetherMarker")
        if args.setup:
            browser.eval(args.setup)
        say("ready", title=browser.eval("document.title"))
        seen = {}
        deadline = time.monotonic() + args.timeout
        while len(seen) < len(expectations) and time.monotonic() < deadline:
            for name, expression in expectations:
                if name not in seen and browser.eval(f"Boolean({expression})"):
                    seen[name] = time.time()
                    say("seen", name=name)
            time.sleep(0.1)
        kept = browser.eval("window.__tetherMarker") == marker
        updates = int(browser.eval("document.getElementById('view')?.dataset.updates || 0") or 0)
        live = browser.eval("document.getElementById('live')?.textContent")
        if args.shot:
            browser.shot(args.shot, full=True)
        missing = [name for name, _ in expectations if name not in seen]
        finals = {}
        for item in args.final:
            name, _, expression = item.partition("=")
            finals[name] = browser.eval(expression)
        say("done", reloaded=not kept, updates=updates, live=live, missing=missing, finals=finals)
        return 0 if kept and not missing else 1
    finally:
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("shot")
    s.add_argument("url")
    s.add_argument("out")
    s.add_argument("--width", type=int, default=1280)
    s.add_argument("--height", type=int, default=900)
    s.add_argument("--full", action="store_true")
    s.add_argument("--wait-js")
    s.add_argument("--scroll-to")
    w = commands.add_parser("watch")
    w.add_argument("url")
    w.add_argument("--expect", action="append", default=[])
    w.add_argument("--setup")
    w.add_argument("--final", action="append", default=[])
    w.add_argument("--timeout", type=float, default=60)
    w.add_argument("--shot")
    w.add_argument("--width", type=int, default=1280)
    w.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    if args.command == "shot":
        shot(args)
        return 0
    return watch(args)


if __name__ == "__main__":
    sys.exit(main())

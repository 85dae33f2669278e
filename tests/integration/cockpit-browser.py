#!/usr/bin/python3
"""Debian's headless Chromium, driven through the Chrome DevTools Protocol.

test-cockpit.sh runs this as a coprocess: one command a line on standard
input, one answer a line on standard output. A command is a word, a tab and
its argument (a JavaScript expression is written on one line):

  open URL              load URL, wait for its load event      -> ok
  eval EXPR             the value of EXPR, as JSON             -> ok JSON | error MESSAGE
  wait SECONDS<TAB>EXPR until EXPR is truthy (every 0.1 s)    -> ok JSON | timeout JSON
  shot FILE             a PNG screenshot of the page          -> ok BYTES
  size WIDTH HEIGHT     the viewport's size                   -> ok
  quit

The browser gets a private profile in PROFILE_DIR and listens for DevTools
on a loopback port of its own choosing (it writes it to DevToolsActivePort).
Needs python3-websocket (websocket-client) and chromium.
  cockpit-browser.py PROFILE_DIR [WIDTH HEIGHT]
"""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request

import websocket


class Browser:
    def __init__(self, profile, width, height):
        self.profile = profile
        self.process = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "--hide-scrollbars", "--lang=en-US",
             # The guest check (tests/e2e/cockpit-guest-check.py) logs in to
             # a real cockpit-ws over TLS, with the certificate it made itself.
             "--ignore-certificate-errors", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "chromium.log"), "w"))
        port = self._port()
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
                    targets = json.load(answer)
                page = next(t for t in targets if t.get("type") == "page")
                break
            except (OSError, StopIteration):
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.size(width, height)

    def size(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def _port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with open(path) as f:
                    return int(f.readline())
            except (OSError, ValueError):
                time.sleep(0.1)
        raise RuntimeError("chromium wrote no DevToolsActivePort")

    def call(self, method, params=None):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def open(self, url):
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        deadline = time.time() + 30
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if time.time() > deadline:
                raise RuntimeError(f"{url}: no load event in 30 s")
            self.ws.settimeout(max(0.1, deadline - time.time()))
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)
        self.ws.settimeout(60)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def screenshot(self, path):
        data = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        with open(path, "wb") as f:
            f.write(data)
        return len(data)

    def close(self):
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            self.process.wait(10)


def truthy(value):
    """JavaScript's truth of a value returned by value: an element is {}."""
    if value is None or value is False or value == "":
        return False
    return not (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def main():
    profile = sys.argv[1]
    width, height = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (1280, 900)
    os.makedirs(profile, exist_ok=True)
    browser = Browser(profile, width, height)

    def answer(text):
        print(" ".join(text.split("\n")), flush=True)

    try:
        for line in sys.stdin:
            command, _, argument = line.rstrip("\n").partition("\t")
            try:
                if command == "quit":
                    break
                if command == "open":
                    browser.open(argument)
                    answer("ok")
                elif command == "eval":
                    answer("ok " + json.dumps(browser.evaluate(argument)))
                elif command == "wait":
                    seconds, _, expression = argument.partition("\t")
                    deadline = time.time() + float(seconds)
                    while True:
                        try:  # a page still loading may throw: keep asking
                            value = browser.evaluate(expression)
                        except RuntimeError as e:
                            value = f"error {e}"
                            if time.time() > deadline:
                                answer("timeout " + json.dumps(value))
                                break
                            time.sleep(0.1)
                            continue
                        if truthy(value):
                            answer("ok " + json.dumps(value))
                            break
                        if time.time() > deadline:
                            answer("timeout " + json.dumps(value))
                            break
                        time.sleep(0.1)
                elif command == "size":
                    width, _, height = argument.partition("\t")
                    browser.size(int(width), int(height))
                    answer("ok")
                elif command == "shot":
                    answer(f"ok {browser.screenshot(argument)}")
                else:
                    answer(f"error unknown command {command!r}")
            except Exception as e:  # one command's failure is its answer, not the end
                answer(f"error {e}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()

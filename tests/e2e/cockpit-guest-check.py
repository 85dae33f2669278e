#!/usr/bin/python3
"""The web console after a real capture, from the host (issue 20).

  cockpit-guest-check.py URL USER PASSWORD DUMP_ID SHOTS_DIR

URL is the guest's cockpit-ws (cockpit.socket, TLS with the certificate it
made itself) through a QEMU port forward. A real login of USER, an
unprivileged local user, through Cockpit's login page (PAM); then the
"Kernel crash capture" page in Cockpit's shell, which must list DUMP_ID,
the capture the guest just made, with the result the daemon reports. As an
unprivileged session, Remove must be disabled with the daemon's reason.
Prints one "PASS<TAB>what" or "FAIL<TAB>what" line per check; exit status 0.
Screenshots go to SHOTS_DIR.
"""
import importlib.util
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "cockpit_browser", os.path.join(HERE, "..", "integration", "cockpit-browser.py"))
cockpit_browser = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cockpit_browser)


def report(ok, what):
    print(("PASS" if ok else "FAIL") + "\t" + " ".join(str(what).split()), flush=True)


def wait(browser, seconds, expression):
    """Until expression is true in the page; its last value either way."""
    deadline = time.time() + seconds
    value = None
    while True:
        try:
            value = browser.evaluate(expression)
        except RuntimeError as e:  # a page still loading may throw
            value = f"error {e}"
        else:
            if cockpit_browser.truthy(value):
                return True, value
        if time.time() > deadline:
            return False, value
        time.sleep(0.5)


# The crashcapture page inside Cockpit's shell: its iframe's document.
FRAME = '(document.querySelector("iframe[name*=\\"crashcapture\\"]") || {}).contentDocument'


def main():
    url, user, password, dump_id, shots = sys.argv[1:6]
    os.makedirs(shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="crashcapture-guest-browser.")
    browser = cockpit_browser.Browser(profile, 1440, 1100)
    try:
        # Socket activation and the first certificate take a while under TCG.
        started = time.time()
        ok, value = False, None
        while time.time() - started < 180 and not ok:
            try:
                browser.open(url + "/")
                ok, value = wait(browser, 20, 'document.querySelector("#login-user-input") !== null')
            except RuntimeError as e:
                value = str(e)
                time.sleep(2)
        report(ok, f"Cockpit's login page from the guest's cockpit-ws ({time.time() - started:.0f} s): {value}")
        browser.screenshot(os.path.join(shots, "guest-01-login.png"))
        if not ok:
            return
        browser.evaluate(
            f'document.querySelector("#login-user-input").value = {json.dumps(user)};'
            f'document.querySelector("#login-password-input").value = {json.dumps(password)};'
            'document.querySelector("#login-button").click(); true')
        ok, value = wait(browser, 120, 'document.querySelector("#login") === null || '
                         'getComputedStyle(document.querySelector("#login")).display === "none"')
        time.sleep(2)
        report(ok, f"logged in as {user} through Cockpit's login (PAM)")
        browser.open(url + "/crashcapture")
        row = f'{FRAME}.querySelector("tr[data-id=\\"{dump_id}\\"]")'
        ok, value = wait(browser, 120, f'(() => {{ try {{ const r = {row}; return r && '
                         '[r.querySelector("[data-result]").dataset.result, r.cells[1].textContent, '
                         'r.cells[3].textContent].join(" | "); } catch (e) { return null; } })()')
        browser.screenshot(os.path.join(shots, "guest-02-dumps.png"))
        report(ok and str(value).startswith("complete | "),
               f"the page in the guest's Cockpit lists the capture {dump_id}: {value}")
        ok, value = wait(browser, 30, f'(() => {{ try {{ const d = {FRAME}; return '
                         'd.querySelector("#state").dataset.state + " | " + '
                         'd.querySelector("[data-action=remove]").disabled + " | " + '
                         'd.querySelector("[data-action=remove]").title; } catch (e) { return null; } })()')
        report(ok and " | true | " in str(value) and "needs root" in str(value),
               f"as {user} (not root): state, Remove disabled with the daemon's reason: {value}")
        browser.screenshot(os.path.join(shots, "guest-03-state.png"))
    except Exception as e:  # the check's failure is a FAIL line, not a traceback
        report(False, f"the browser: {e}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A stand-in for the system browser in Tessera's login tests.

Invoked as the BROWSER command: `browser_standin.py PARAMS.json URL`. It
opens URL with a cookie jar, follows redirects, and fills the provider's
sign-in forms the way a person would: `username` and `password`, then `otp`
computed from the TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s, written here
independently of both the provider and the client). It stops once the
browser lands on the client's loopback callback, like a real browser would.

PARAMS.json: {"username": ..., "password": ..., "totp_secret": base32,
"log": path to append what happened (optional)}.
"""

import base64
import hashlib
import hmac
import html
import http.cookiejar
import json
import re
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


def form_of(page):
    m = re.search(r'<form[^>]*method="post"[^>]*action="([^"]*)"', page)
    if not m:
        return None, []
    action = html.unescape(m.group(1))
    hidden = []
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]*)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                hidden.append((html.unescape(name.group(1)), html.unescape(value.group(1) if value else "")))
    return action, hidden


def has_input(page, name):
    return re.search(r'<input[^>]*name="%s"' % re.escape(name), page) is not None


def main():
    params = json.load(open(sys.argv[1]))
    url = sys.argv[2]
    # Line-buffered: the login it drives may end, and the test read this
    # log, before this process exits.
    log = open(params["log"], "a", buffering=1) if params.get("log") else sys.stderr
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) tessera-test-browser"),
                         ("Accept-Language", params.get("language", "en"))]

    def fetch(target, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            resp = opener.open(target, body, timeout=30)
            return resp.geturl(), resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.geturl(), e.code, e.read().decode("utf-8", "replace")

    def at_callback(u):
        p = urllib.parse.urlparse(u)
        return p.hostname == "127.0.0.1" and p.path == "/callback"

    current, status, page = fetch(url)
    tried_steps = set()
    for _ in range(10):
        if at_callback(current):
            print("callback %s %d" % (current.split("?")[0], status), file=log)
            return 0
        action, hidden = form_of(page)
        if action is None:
            print("stuck on %s (%d):\n%s" % (current, status, page[:2000]), file=log)
            return 1
        fields = list(hidden)
        if has_input(page, "password"):
            fields += [("username", params["username"]), ("password", params["password"])]
            print("password form", file=log)
        elif has_input(page, "otp"):
            now = int(time.time()) // 30
            step = next((s for s in (now, now + 1) if s not in tried_steps), None)
            while step is None:
                time.sleep(1)
                now = int(time.time()) // 30
                step = next((s for s in (now, now + 1) if s not in tried_steps), None)
            tried_steps.add(step)
            fields += [("otp", totp(params["totp_secret"], step))]
            print("otp form (step %d)" % step, file=log)
        else:
            print("unknown form on %s:\n%s" % (current, page[:2000]), file=log)
            return 1
        current, status, page = fetch(urllib.parse.urljoin(current, action), fields)
    print("too many steps", file=log)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # say what broke where the test can read it
        import traceback
        params = json.load(open(sys.argv[1]))
        with open(params.get("log") or "/dev/stderr", "a") as log:
            traceback.print_exc(file=log)
        sys.exit(1)

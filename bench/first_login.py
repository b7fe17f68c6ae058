#!/usr/bin/env python3
"""Signs in once with the initial password of a credentials letter and sets a new password
(the first-login change MPSV requires), so the login benchmark measures complete logins.

Usage: first_login.py BASE CLIENT_ID REDIRECT_URI USERNAME INITIAL_PASSWORD NEW_PASSWORD
"""
import http.client
import re
import sys
import urllib.parse

base, client_id, redirect, username, initial, new = sys.argv[1:7]
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
cookies = {}


def request(method, path, form=None):
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    text = r.read().decode()
    for c in r.headers.get_all("Set-Cookie") or []:
        name, value = c.split(";")[0].split("=", 1)
        cookies[name] = value
    return r.status, r.getheader("Location"), text


def hidden(html):
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


query = urllib.parse.urlencode({
    "client_id": client_id, "response_type": "code", "scope": "openid",
    "redirect_uri": redirect,
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
})
_, login, _ = request("GET", "/authorize?" + query)
_, _, page = request("GET", login)
status, change, _ = request("POST", "/login", {**hidden(page), "username": username, "password": initial})
assert status == 303 and change.startswith("/login/password"), (status, change)
_, _, page = request("GET", change)
status, back, text = request("POST", "/login/password", {**hidden(page), "new": new, "confirm": new})
# The pages hand the finished login back to the protocol, which answers the client.
if status == 303 and back.startswith("/authorize/resume?"):
    status, back, text = request("GET", back)
assert status == 303 and back.startswith(redirect), (status, back, text[:500])

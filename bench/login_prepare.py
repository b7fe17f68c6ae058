#!/usr/bin/env python3
"""Prepares pending logins for the login benchmark: for each, GET /authorize (which parks an
authorization request) and GET /login (which binds it to the browser's CSRF cookie). All share
one cookie, so one CSRF token serves every login. Writes "id csrf" lines.

Usage: login_prepare.py BASE CLIENT_ID REDIRECT_URI COUNT OUT_FILE
"""
import http.client
import sys
import urllib.parse

base, client_id, redirect, count, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
cookie = ""
lines = []
query = urllib.parse.urlencode({
    "client_id": client_id, "response_type": "code", "scope": "openid",
    "redirect_uri": redirect,
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
})
for i in range(count):
    conn.request("GET", "/authorize?" + query)
    r = conn.getresponse(); r.read()
    login = r.getheader("Location")
    headers = {"Cookie": cookie} if cookie else {}
    conn.request("GET", login, headers=headers)
    r = conn.getresponse(); body = r.read().decode()
    for c in r.headers.get_all("Set-Cookie") or []:
        if c.startswith("mpsv_csrf="):
            cookie = c.split(";")[0]
    ident = urllib.parse.parse_qs(urllib.parse.urlparse(login).query)["id"][0]
    lines.append(f"{ident} {cookie.split('=', 1)[1]}")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")

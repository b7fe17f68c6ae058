// Passkeys (WebAuthn) on the login and account pages. Progressive enhancement: the passkey
// forms are hidden until this script finds WebAuthn in the browser. A form marked
// data-passkey="get" (sign in) or "create" (register) asks its data-options URL for the
// options (posting the form's own fields, CSRF token included), runs the ceremony, puts the
// answer into the form's "credential" field and submits the form; the server verifies it.
// Served as a file so that the Content-Security-Policy needs no 'unsafe-inline'.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }

  // The server's JSON (webauthn-rs, base64url strings) as the browser API wants it.
  function creationOptions(json) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(json) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    var options = { publicKey: pk };
    if (json.mediation) options.mediation = json.mediation;
    return options;
  }

  function answer(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      response.userHandle = toB64url(r.userHandle);
    }
    return JSON.stringify({
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    });
  }

  function say(form, text) {
    var status = form.querySelector("[data-passkey-status]");
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }

  function run(form, button) {
    var mode = form.getAttribute("data-passkey");
    var failed = form.getAttribute("data-failed") || "";
    button.disabled = true;
    say(form, "");
    var body = new URLSearchParams(new FormData(form));
    body.delete("credential");
    fetch(form.getAttribute("data-options"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (r) {
        return r.json().catch(function () { return { error: failed }; });
      })
      .then(function (json) {
        if (json.error) throw new Error(json.error);
        return mode === "create"
          ? navigator.credentials.create(creationOptions(json))
          : navigator.credentials.get(requestOptions(json));
      })
      .then(function (cred) {
        form.querySelector("input[name=credential]").value = answer(cred);
        form.submit();
      })
      .catch(function (e) {
        button.disabled = false;
        // The person closed the dialog or the authenticator refused: the same message.
        say(form, e && e.name === "Error" && e.message ? e.message : failed);
      });
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    var button = form.querySelector("button[data-passkey-start]");
    if (!button) return;
    form.hidden = false;
    form.addEventListener("submit", function (ev) {
      // Submitted by the script (form.submit() does not fire this) only with a credential.
      if (!form.querySelector("input[name=credential]").value) {
        ev.preventDefault();
        run(form, button);
      }
    });
  });
  // The note that this browser cannot use passkeys is for the others.
  document.querySelectorAll("[data-passkey-missing]").forEach(function (el) {
    el.hidden = true;
  });
})();

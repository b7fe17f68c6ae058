// OAuth 2.0 Form Post Response Mode: submit the response to the client at once.
// Served as a file so that the Content-Security-Policy needs no 'unsafe-inline'.
document.getElementById("form-post").submit();

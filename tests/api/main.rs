//! One integration-test binary: every test spawns the real server on a random port with a
//! fresh database and talks HTTP to it, with the `openidconnect` crate as the relying party.

mod helpers;

mod accounts;
mod admin;
mod audit;
mod claims;
mod client_auth;
mod code_flow;
mod crash;
mod dpop;
mod errors;
mod fapi;
mod hardening;
mod jar;
mod keys;
mod kill;
mod logout;
mod mpsv;
mod nodes;
mod operations;
mod organisations;
mod outage;
mod outbox;
mod par;
mod passkeys;
mod tls;
mod tokens;
mod upstream;

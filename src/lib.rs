//! mpsv-idp: the OpenID Connect identity provider of the MPSV OKslužby applications.

// No panics on paths a request or bad input can reach (tests may unwrap).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod interaction;
pub mod jose;
pub mod keys;
pub mod letter;
pub mod mail;
pub mod oidc;
pub mod pages;
pub mod passkeys;
pub mod password;
pub mod registry;
pub mod secrets;
pub mod services;
pub mod session;
pub mod storage;
pub mod telemetry;
pub mod upstream;
pub mod web;

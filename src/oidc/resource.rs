//! Access tokens at our own protected resources (userinfo, the admin API): `Bearer` (RFC 6750
//! §2.1) or `DPoP` with a proof (RFC 9449 §7). A DPoP-bound token (`cnf.jkt`) is accepted only
//! with a proof signed by its key: presented as a bearer token, it is refused.

use axum::http::{header, HeaderMap};

use super::dpop::{self, Target};
use super::jwt::LiveToken;
use crate::app::AppState;
use crate::error::BearerError;

/// How the `Authorization` header presented a token.
pub enum Presented {
    Bearer(String),
    Dpop(String),
}

impl Presented {
    pub fn token(&self) -> &str {
        match self {
            Presented::Bearer(t) | Presented::Dpop(t) => t,
        }
    }
}

/// The token of the `Authorization` header, if any.
pub fn presented(headers: &HeaderMap) -> Result<Option<Presented>, BearerError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if !token.trim().is_empty() => {
            let token = token.trim().to_owned();
            if scheme.eq_ignore_ascii_case("bearer") {
                Ok(Some(Presented::Bearer(token)))
            } else if scheme.eq_ignore_ascii_case("dpop") {
                Ok(Some(Presented::Dpop(token)))
            } else {
                Err(BearerError::InvalidRequest(
                    "expected a Bearer or DPoP token",
                ))
            }
        }
        _ => Err(BearerError::InvalidRequest(
            "expected a Bearer or DPoP token",
        )),
    }
}

/// The live token presented to the resource at `url` with `method`, its binding checked.
pub async fn live_token(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    url: &str,
    presented: &Presented,
) -> Result<LiveToken, BearerError> {
    let live = super::jwt::live_access_token(state, presented.token())
        .await?
        .ok_or(BearerError::InvalidToken(
            "the access token is invalid, expired or revoked",
        ))?;
    let bound = live.claims.cnf.as_ref().map(|c| c.jkt.as_str());
    match (presented, bound) {
        (Presented::Bearer(_), None) => Ok(live),
        // §7.1: a bound token without its proof is worth nothing.
        (Presented::Bearer(_), Some(_)) => Err(BearerError::Dpop {
            error: "invalid_token",
            description:
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
        }),
        (Presented::Dpop(_), None) => Err(BearerError::Dpop {
            error: "invalid_token",
            description: "the access token is not DPoP-bound: present it as a Bearer token",
        }),
        (Presented::Dpop(token), Some(jkt)) => {
            let target = Target {
                method,
                url,
                access_token: Some(token),
            };
            let proof = dpop::proof(state, headers, &target)
                .await?
                .ok_or(BearerError::Dpop {
                    error: "invalid_dpop_proof",
                    description: "a DPoP proof is required with a DPoP-bound token",
                })?;
            if !crate::secrets::constant_time_eq(&proof.jkt, jkt) {
                return Err(BearerError::Dpop {
                    error: "invalid_dpop_proof",
                    description: "the proof is not signed with the key the token is bound to",
                });
            }
            Ok(live)
        }
    }
}

//! QR codes for TOTP enrolment: the `otpauth://` URI (`domain::totp::otpauth_uri`) drawn so
//! that a phone camera reads it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The data did not fit in a QR code (over ~2,300 bytes at the error correction we use).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text is too long for a QR code")]
pub struct QrTooLong;

/// A QR code of `uri` as a standalone SVG document: black modules on white, with the standard
/// four-module quiet zone, so that phone cameras read it even on a dark page. Error correction
/// level M tolerates a smudged screen; an `otpauth` URI fits comfortably.
pub fn qr_svg(uri: &str) -> Result<String, QrTooLong> {
    let code =
        QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M).map_err(|_| QrTooLong)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .min_dimensions(240, 240)
        .build())
}

/// [`qr_svg`] as a `data:` URI, for `<img src="…">` without serving a separate file.
pub fn qr_data_uri(uri: &str) -> Result<String, QrTooLong> {
    let svg = qr_svg(uri)?;
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::totp::{otpauth_uri, TotpSecret};

    #[test]
    fn the_qr_code_is_a_black_on_white_svg() {
        let uri = otpauth_uri(
            &TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            "MPSV",
            "novak",
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("<svg"));
        assert!(svg.contains(r##"fill="#000000""##));
        assert!(svg.contains(r##"fill="#ffffff""##));
        assert!(svg.trim_end().ends_with("</svg>"));

        let data = qr_data_uri(&uri).unwrap();
        let payload = data.strip_prefix("data:image/svg+xml;base64,").unwrap();
        assert_eq!(STANDARD.decode(payload).unwrap(), svg.into_bytes());
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_an_error_not_a_panic() {
        assert_eq!(qr_svg(&"x".repeat(10_000)), Err(QrTooLong));
    }
}
